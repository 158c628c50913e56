"""ApiClient over `responses`: exact requests, every documented answer, and the key kept secret."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
import responses
from responses import matchers

from ailicia_core import USER_AGENT, __version__
from ailicia_core import errors as err
from ailicia_core.client import (
    ALREADY_IN_CHAT,
    CONNECT_TIMEOUT_S,
    DRY_RUN,
    JOIN_READ_TIMEOUT_S,
    JOINED,
    NOT_JOINED,
    READ_TIMEOUT_S,
    TIMED_OUT,
    ApiClient,
    Character,
    DryRunClient,
    JoinResult,
    check_response,
    network_error,
    parse_join_result,
    parse_retry_after,
    timeouts_for,
)
from ailicia_core.limits import JOIN_SERVER_WAIT_S
from ailicia_core.sandbox import CHARACTERS
from ailicia_core.settings import ApiKey

BASE = "https://api.example.test"
KEY = "sk-secret-7c1d2e3f4a5b"
CHANNEL = "mychannel"

JOINED_BODY = {
    "success": True,
    "message": "AI successfully joined channel",
    "joinedAt": 1739982392000,
    "channelId": "ch_123",
}
ALREADY_BODY = {"success": True, "message": "AI already in channel", "alreadyJoined": True}
TIMED_OUT_BODY = {
    "success": False,
    "message": "Join request sent but AI join confirmation timed out after 10 seconds",
    "timeout": True,
    "joinRequestId": "req_xyz",
}
#: The openapi.yaml examples of GET /v1/characters, as the sandbox serves them.
CHARACTERS_BODY = [dict(c) for c in CHARACTERS]

AUTH = matchers.header_matcher(
    {"Authorization": f"Bearer {KEY}", "User-Agent": USER_AGENT, "Accept": "application/json"}
)
JSON = matchers.header_matcher({"Content-Type": "application/json"})


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def client():
    api = ApiClient(base_url=BASE, api_key=ApiKey(KEY), channel=CHANNEL)
    yield api
    api.close()


def timeout_of(call) -> tuple:
    return call.request.req_kwargs["timeout"]


# Each endpoint as (method, path, call); used for the error table.
ENDPOINTS = {
    "context": ("POST", "/v1/events", lambda c: c.send_context("hi", event_type="GAME_EVENT")),
    "generation": ("POST", "/v1/events/generations", lambda c: c.send_generation("hi", event_type="GAME_EVENT")),
    "join": ("POST", f"/v1/streams/{CHANNEL}", lambda c: c.join()),
    "leave": ("DELETE", f"/v1/streams/{CHANNEL}", lambda c: c.leave()),
    "characters": ("GET", "/v1/characters", lambda c: c.list_characters()),
}


def assert_no_key(error: BaseException) -> None:
    for shown in (str(error), repr(error), " ".join(map(str, error.args)), getattr(error, "message", "")):
        assert KEY not in shown
    assert error.__cause__ is None or KEY not in repr(error.__cause__)


# --- success ---------------------------------------------------------------------


def test_user_agent_names_the_plugin_and_its_version():
    assert USER_AGENT.startswith("ailicia-obs/")
    assert __version__ in USER_AGENT


def test_send_context(mock, client):
    body = {"eventType": "GAME_EVENT", "data": {"channelName": CHANNEL, "content": "Streamer switched to 'Game'"}}
    mock.post(BASE + "/v1/events", status=200, match=[matchers.json_params_matcher(body), AUTH, JSON])
    assert client.send_context("Streamer switched to 'Game'", event_type="GAME_EVENT") is None
    assert timeout_of(mock.calls[0]) == (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    assert mock.calls[0].request.req_kwargs["verify"] not in (False, None, "")  # TLS is verified


def test_send_context_with_ttl_and_another_event_type(mock, client):
    body = {"eventType": "IRL_EVENT", "data": {"channelName": CHANNEL, "content": "x", "ttl": 90}}
    mock.post(BASE + "/v1/events", status=200, match=[matchers.json_params_matcher(body), AUTH])
    client.send_context("x", event_type="IRL_EVENT", ttl=90)


def test_send_context_sends_unicode_as_is(mock, client):
    content = "Scène « 字 » \U0001f600 \u05e9\u05dc\u05d5\u05dd"
    body = {"eventType": "GAME_EVENT", "data": {"channelName": CHANNEL, "content": content}}
    mock.post(BASE + "/v1/events", status=200, match=[matchers.json_params_matcher(body)])
    client.send_context(content, event_type="GAME_EVENT")
    assert json.loads(mock.calls[0].request.body)["data"]["content"] == content


def test_send_generation(mock, client):
    body = {"eventType": "CHAT_TRIGGER", "data": {"channelName": CHANNEL, "content": "Hype up chat!"}}
    mock.post(BASE + "/v1/events/generations", status=200, match=[matchers.json_params_matcher(body), AUTH, JSON])
    assert client.send_generation("Hype up chat!", event_type="CHAT_TRIGGER") is None


def test_join(mock, client):
    mock.post(BASE + f"/v1/streams/{CHANNEL}", status=200, json=JOINED_BODY, match=[AUTH])
    result = client.join()
    assert result == JoinResult(
        outcome=JOINED, message="AI successfully joined channel", joined_at_ms=1739982392000, channel_id="ch_123"
    )
    assert result.in_chat
    assert mock.calls[0].request.body is None
    # The server itself waits up to 10 s: the read timeout leaves it room.
    connect, read = timeout_of(mock.calls[0])
    assert connect == CONNECT_TIMEOUT_S and read == JOIN_READ_TIMEOUT_S > JOIN_SERVER_WAIT_S


def test_leave(mock, client):
    mock.delete(BASE + f"/v1/streams/{CHANNEL}", status=202, match=[AUTH])
    assert client.leave() is None
    assert mock.calls[0].request.body is None


def test_list_characters(mock, client):
    mock.get(BASE + "/v1/characters", status=200, json=CHARACTERS_BODY, match=[AUTH])
    assert client.list_characters() == [
        Character("char_123", "Captain Vibes", "Energetic persona that keeps hype levels high.", True),
        Character("char_456", "Cozy Willow", "Chill storyteller for quiet late-night streams.", False),
    ]


def test_list_characters_tolerates_missing_fields_and_skips_non_objects(mock, client):
    mock.get(BASE + "/v1/characters", status=200, json=[{"id": 7}, "junk", {"name": "N", "isActive": 1}])
    assert client.list_characters() == [Character("7", ""), Character("", "N", "", True)]


def test_an_empty_character_list(mock, client):
    mock.get(BASE + "/v1/characters", status=200, json=[])
    assert client.list_characters() == []


@pytest.mark.parametrize(
    ("channel", "path"),
    [
        ("my channel", "/v1/streams/my%20channel"),
        ("a/b", "/v1/streams/a%2Fb"),
        ("q?x=1#f", "/v1/streams/q%3Fx%3D1%23f"),
        ("a..b", "/v1/streams/a..b"),
        ("chaîne", "/v1/streams/cha%C3%AEne"),
        ("100%", "/v1/streams/100%25"),
    ],
)
def test_the_channel_is_url_quoted_in_the_stream_path(mock, channel, path):
    api = ApiClient(base_url=BASE, api_key=ApiKey(KEY), channel=channel)
    mock.post(BASE + path, status=200, json=ALREADY_BODY)
    mock.delete(BASE + path, status=202)
    assert api.join().outcome == ALREADY_IN_CHAT
    api.leave()
    assert [c.request.path_url for c in mock.calls] == [path, path]


@pytest.mark.parametrize("channel", ["", ".", "..", "..."])
def test_a_channel_that_would_be_a_dot_segment_is_refused_before_sending(mock, channel):
    # "/v1/streams/.." would be resolved to "/v1/" and send the join (and the key) there.
    api = ApiClient(base_url=BASE, api_key=ApiKey(KEY), channel=channel)
    with pytest.raises(err.NotFoundError, match="is not a channel name"):
        api.join()
    with pytest.raises(err.NotFoundError):
        api.leave()
    assert len(mock.calls) == 0


def test_the_channel_goes_unquoted_into_json_bodies(mock):
    api = ApiClient(base_url=BASE, api_key=ApiKey(KEY), channel="my channel")
    body = {"eventType": "GAME_EVENT", "data": {"channelName": "my channel", "content": "c"}}
    mock.post(BASE + "/v1/events", status=200, match=[matchers.json_params_matcher(body)])
    api.send_context("c", event_type="GAME_EVENT")


def test_a_base_url_with_a_path_and_a_trailing_slash(mock):
    api = ApiClient(base_url="http://127.0.0.1:8765/proxy/", api_key=ApiKey(KEY), channel=CHANNEL)
    mock.get("http://127.0.0.1:8765/proxy/v1/characters", status=200, json=[])
    assert api.list_characters() == []


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(2.0, (2.0, 2.0)), (30.0, (CONNECT_TIMEOUT_S, 30.0)), (0.0, (0.05, 0.05)), (-1.0, (0.05, 0.05))],
)
def test_a_timeout_override_bounds_connect_and_read(mock, client, timeout, expected):
    mock.post(BASE + "/v1/events", status=200)
    mock.post(BASE + f"/v1/streams/{CHANNEL}", status=200, json=JOINED_BODY)
    mock.delete(BASE + f"/v1/streams/{CHANNEL}", status=202)
    client.send_context("x", event_type="GAME_EVENT", timeout=timeout)
    client.join(timeout=timeout)  # an explicit 0 (no time left) is not "the default 15 s"
    client.leave(timeout=timeout)
    assert [timeout_of(c) for c in mock.calls] == [expected] * 3


def test_timeouts_for():
    assert timeouts_for(1.5) == (1.5, 1.5)
    assert timeouts_for(60) == (CONNECT_TIMEOUT_S, 60)
    assert timeouts_for(-3) == (0.05, 0.05)


def test_a_given_session_is_used_and_not_closed(mock):
    class Recording(requests.Session):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    session = Recording()
    api = ApiClient(base_url=BASE, api_key=ApiKey(KEY), channel=CHANNEL, session=session)
    mock.get(BASE + "/v1/characters", status=200, json=[], match=[AUTH])
    api.list_characters()
    api.close()
    assert not session.closed
    assert session.headers["User-Agent"] == USER_AGENT


def test_the_key_is_not_stored_on_the_session(mock, client):
    # A redirect or a reused session must not carry it: it is added per request.
    assert "Authorization" not in client._session.headers


# --- errors ----------------------------------------------------------------------

ERRORS = [
    # status, body, headers, error class, words in the message, attributes
    (400, None, {}, err.ContentRejectedError, "refused the context as invalid (400)", {"status_code": 400}),
    (401, None, {}, err.AuthError, "rejected the API key for channel 'mychannel' (401)", {"status_code": 401}),
    (
        403,
        None,
        {},
        err.ForbiddenError,
        "refused the context for channel 'mychannel' (403)",
        {"status_code": 403, "requires_subscription": False},
    ),
    (
        403,
        {"requiresSubscription": True},
        {},
        err.ForbiddenError,
        "needs an active subscription or credits",
        {"status_code": 403, "requires_subscription": True},
    ),
    (
        403,
        {"requiresSubscription": False},
        {},
        err.ForbiddenError,
        "not linked to this API key",
        {"requires_subscription": False},
    ),
    (403, "Forbidden", {}, err.ForbiddenError, "not linked to this API key", {"requires_subscription": False}),
    (
        404,
        None,
        {},
        err.NotFoundError,
        "not found at https://api.example.test for the context (404). Check the API address in Advanced",
        {"status_code": 404},
    ),
    (422, None, {}, err.ContentRejectedError, "refused the context as invalid (422)", {"status_code": 422}),
    (
        429,
        None,
        {"Retry-After": "17"},
        err.RateLimitedError,
        "answered the context with 'too many requests' (429).",
        {"status_code": 429, "retry_after": 17.0},
    ),
    (429, None, {}, err.RateLimitedError, "(429).", {"retry_after": None}),
    (
        500,
        None,
        {},
        err.ServerError,
        "server had a problem with the context (500)",
        {"status_code": 500, "may_have_arrived": True},
    ),
    (502, None, {}, err.ServerError, "(502)", {"status_code": 502, "may_have_arrived": False}),
    (503, None, {}, err.ServerError, "(503)", {"status_code": 503, "may_have_arrived": False}),
    (504, None, {}, err.ServerError, "(504)", {"status_code": 504, "may_have_arrived": False}),
    (418, None, {}, err.UnexpectedResponseError, "unexpected status (418)", {"status_code": 418}),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "words", "attrs"), ERRORS)
def test_documented_errors(mock, client, status, body, headers, cls, words, attrs):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body or ""}
    mock.post(BASE + "/v1/events", status=status, headers=headers, **kwargs)
    with pytest.raises(cls) as caught:
        client.send_context("hi", event_type="GAME_EVENT")
    error = caught.value
    assert isinstance(error, err.ApiError)
    assert words in error.message and str(error) == error.message
    for name, value in attrs.items():
        assert getattr(error, name) == value, name
    assert_no_key(error)
    assert len(mock.calls) == 1  # no retries inside the client: that is the worker's call


@pytest.mark.parametrize("what", sorted(ENDPOINTS))
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 502, 503, 504])
def test_every_endpoint_maps_every_error_status(mock, client, what, status):
    method, path, call = ENDPOINTS[what]
    mock.add(method, BASE + path, status=status, body=f"upstream said {KEY}")
    with pytest.raises(err.ApiError) as caught:
        call(client)
    assert caught.value.status_code == status
    assert f"({status})" in caught.value.message
    assert_no_key(caught.value)


def test_the_request_names_what_failed(mock, client):
    mock.post(BASE + "/v1/events/generations", status=500)
    mock.delete(BASE + f"/v1/streams/{CHANNEL}", status=403)
    with pytest.raises(err.ServerError, match="with the reaction"):
        client.send_generation("x", event_type="GAME_EVENT")
    with pytest.raises(err.ForbiddenError, match="refused the leave"):
        client.leave()


@pytest.mark.parametrize("what", ["join", "leave"])
def test_a_404_on_the_stream_path_means_an_unknown_channel(mock, client, what):
    method, path, call = ENDPOINTS[what]
    mock.add(method, BASE + path, status=404)
    with pytest.raises(err.NotFoundError) as caught:
        call(client)
    assert "cannot find the channel 'mychannel' for this API key (404). Check the channel name" in caught.value.message


@pytest.mark.parametrize("what", ["characters", "context", "generation"])
def test_a_404_on_a_path_without_the_channel_points_at_the_address(mock, client, what):
    method, path, call = ENDPOINTS[what]
    mock.add(method, BASE + path, status=404)
    with pytest.raises(err.NotFoundError) as caught:
        call(client)
    assert "Check the API address" in caught.value.message
    assert "channel" not in caught.value.message


def test_a_join_403_that_requires_a_subscription(mock, client):
    mock.post(BASE + f"/v1/streams/{CHANNEL}", status=403, json={"requiresSubscription": True, "message": "no"})
    with pytest.raises(err.ForbiddenError) as caught:
        client.join()
    assert caught.value.requires_subscription
    assert "subscription" in caught.value.message


def test_429_with_retry_after_as_an_http_date(mock, client):
    when = datetime.now(timezone.utc) + timedelta(seconds=40)
    mock.post(BASE + "/v1/events/generations", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(err.RateLimitedError) as caught:
        client.send_generation("x", event_type="GAME_EVENT")
    assert 30 <= caught.value.retry_after <= 40
    assert caught.value.retryable


@pytest.mark.parametrize("header, wait", [({"Retry-After": "30"}, 30.0), ({}, None)])
def test_a_5xx_carries_the_servers_retry_after_when_it_gives_one(mock, client, header, wait):
    mock.post(BASE + "/v1/events", status=503, headers=header)
    with pytest.raises(err.ServerError) as caught:
        client.send_context("x", event_type="GAME_EVENT")
    assert caught.value.retry_after == wait


def test_429_without_retry_after(mock, client):
    mock.post(BASE + "/v1/events/generations", status=429)
    with pytest.raises(err.RateLimitedError) as caught:
        client.send_generation("x", event_type="GAME_EVENT")
    assert caught.value.retry_after is None
    assert "Retrying" not in caught.value.message


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_key_does_not_travel(mock, client, status):
    mock.post(BASE + "/v1/events", status=status, headers={"Location": "https://elsewhere.example/steal"})
    mock.add(responses.POST, "https://elsewhere.example/steal", status=200)
    mock.add(responses.GET, "https://elsewhere.example/steal", status=200)
    mock.assert_all_requests_are_fired = False
    with pytest.raises(err.UnexpectedResponseError) as caught:
        client.send_context("x", event_type="GAME_EVENT")
    assert f"redirected the context elsewhere ({status})" in caught.value.message
    assert caught.value.status_code == status
    assert [c.request.url for c in mock.calls] == [BASE + "/v1/events"]


# --- network failures ------------------------------------------------------------

NEVER_CONNECTED = requests.exceptions.ConnectionError(
    "HTTPSConnectionPool(host='api.example.test', port=443): Max retries exceeded "
    "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))"
)

NETWORK = [
    (requests.exceptions.ConnectTimeout("connect timed out"), False, "the connection timed out"),
    (requests.exceptions.ReadTimeout("read timed out"), True, "did not answer the context in time"),
    (requests.exceptions.SSLError("certificate verify failed"), False, "certificate problem"),
    (NEVER_CONNECTED, False, "Check the internet connection and the API address"),
    (
        requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"),
        True,
        "The connection to ai_licia broke during the context",
    ),
    (requests.exceptions.ChunkedEncodingError("broken chunk"), True, "broke during the context"),
]


@pytest.mark.parametrize(("exc", "may_have_arrived", "words"), NETWORK)
def test_network_failures(mock, client, exc, may_have_arrived, words):
    mock.post(BASE + "/v1/events", body=exc)
    with pytest.raises(err.NetworkError) as caught:
        client.send_context("x", event_type="GAME_EVENT")
    error = caught.value
    assert words in error.message
    assert error.may_have_arrived is may_have_arrived
    assert error.retryable and error.status_code is None
    assert error.__cause__ is None and error.__suppress_context__
    assert str(exc) not in error.message  # plain words, never the raw text


def test_network_error_never_shows_the_raw_exception_text():
    raw = requests.exceptions.ConnectionError(f"proxy said Authorization: Bearer {KEY}")
    error = network_error(raw, "join")
    assert_no_key(error)
    assert "join" in error.message


# --- unreadable bodies -----------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("join", "<html>gateway</html>"),
        ("join", ""),
        ("join", "[1, 2]"),
        ("join", '"just a string"'),
        ("join", b"\xff\xfe not utf-8"),
        ("characters", "<html>gateway</html>"),
        ("characters", '{"id": "char_123"}'),
        ("characters", "null"),
        ("characters", b"\xff\xfe"),
    ],
)
def test_an_unparseable_body_is_a_bad_response(mock, client, what, body):
    method, path, call = ENDPOINTS[what]
    mock.add(method, BASE + path, status=200, body=body)
    with pytest.raises(err.BadResponseError) as caught:
        call(client)
    assert "ai_licia" in caught.value.message
    # A web page (captive portal, proxy) never reached ai_licia: worth trying again. Other junk is not.
    is_web_page = body == "<html>gateway</html>"
    assert caught.value.retryable is is_web_page
    assert caught.value.may_have_arrived is not is_web_page


# --- join results ----------------------------------------------------------------


def response(status: int, payload) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return resp


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (JOINED_BODY, JoinResult(JOINED, "AI successfully joined channel", 1739982392000, "ch_123", None)),
        (ALREADY_BODY, JoinResult(ALREADY_IN_CHAT, "AI already in channel")),
        (TIMED_OUT_BODY, JoinResult(TIMED_OUT, TIMED_OUT_BODY["message"], join_request_id="req_xyz")),
        ({"success": False, "message": "nope"}, JoinResult(NOT_JOINED, "nope")),
        ({}, JoinResult(NOT_JOINED)),
        ({"success": True, "joinedAt": "soon", "channelId": 42}, JoinResult(JOINED, channel_id="42")),
        ({"success": True, "joinedAt": 1.5e12}, JoinResult(JOINED, joined_at_ms=1500000000000)),
    ],
)
def test_parse_join_result(body, expected):
    assert parse_join_result(response(200, body)) == expected


def test_parse_join_result_survives_an_infinite_joined_at():
    result = parse_join_result(response(200, b'{"success": true, "joinedAt": Infinity}'))
    assert result.outcome == JOINED and result.joined_at_ms is None


@pytest.mark.parametrize(
    ("outcome", "in_chat"),
    [(JOINED, True), (ALREADY_IN_CHAT, True), (TIMED_OUT, False), (NOT_JOINED, False), (DRY_RUN, False)],
)
def test_in_chat(outcome, in_chat):
    assert JoinResult(outcome).in_chat is in_chat


@pytest.mark.parametrize(
    ("body", "outcome"), [(JOINED_BODY, JOINED), (ALREADY_BODY, ALREADY_IN_CHAT), (TIMED_OUT_BODY, TIMED_OUT)]
)
def test_join_outcomes_over_http(mock, client, body, outcome):
    mock.post(BASE + f"/v1/streams/{CHANNEL}", status=200, json=body)
    assert client.join().outcome == outcome


# --- Retry-After -----------------------------------------------------------------


def http_date(offset_s: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=offset_s), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("2.5", 2.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("99999", 120.0),
        ("inf", 120.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 0.0),
        ("Wed, 21 Oct 2099 07:28:00 -0000", 120.0),
        ("Wed, 99 Foo 2015", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_reads_a_future_http_date():
    assert 50 <= parse_retry_after(http_date(60)) <= 60


# --- check_response directly -----------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_check_response_accepts_2xx(status):
    assert check_response(response(status, b""), "context", CHANNEL) is None


# --- error family ----------------------------------------------------------------


def test_error_family_states_facts_and_the_panel_words_come_from_status():
    cases = [
        (err.AuthError("context", err.KEY_REJECTED, status_code=401), False, True),
        (err.ForbiddenError("join", err.NOT_LINKED, status_code=403), False, True),
        (err.NotFoundError("join", err.CHANNEL_NOT_FOUND, status_code=404), False, True),
        (err.ContentRejectedError("context", err.INVALID, status_code=422), False, True),
        (err.RateLimitedError("reaction", err.RATE_LIMITED, status_code=429, retry_after=3.0), True, False),
        (err.ServerError("context", status_code=500), True, True),
        (err.ServerError("context", status_code=503), True, False),
        (err.NetworkError("leave", err.UNREACHABLE, may_have_arrived=False), True, False),
        (err.BadResponseError("join", err.UNREADABLE), False, True),
        (err.UnexpectedResponseError("context", err.REDIRECT, status_code=302), False, True),
    ]
    from ailicia_core.status import describe_error

    for error, retryable, may_have_arrived in cases:
        assert isinstance(error, err.ApiError)
        assert (error.retryable, error.may_have_arrived) == (retryable, may_have_arrived), type(error).__name__
        assert str(error) == error.message == describe_error(error)
        assert error.what in error.message or error.reason in (err.KEY_REJECTED, err.CHANNEL_NOT_FOUND)
    assert err.ForbiddenError("join", err.NEEDS_SUBSCRIPTION).requires_subscription
    assert err.RateLimitedError("x", err.RATE_LIMITED, retry_after=3.0).retry_after == 3.0


# --- the key never leaks ---------------------------------------------------------


def test_the_key_appears_in_no_error_and_no_log_line(mock, client, caplog):
    caplog.set_level(logging.DEBUG)
    for status in (400, 401, 403, 404, 422, 429, 500, 503, 302):
        mock.post(
            BASE + "/v1/events",
            status=status,
            body=f'{{"echo": "Bearer {KEY}"}}',
            headers={"Location": f"https://x.example/?k={KEY}"} if status == 302 else {},
        )
    for exc in NETWORK:
        mock.post(BASE + "/v1/events", body=exc[0])
    mock.post(BASE + f"/v1/streams/{CHANNEL}", status=200, body=f"not json {KEY}")
    raised = []
    for _ in range(9 + len(NETWORK)):
        with pytest.raises(err.ApiError) as caught:
            client.send_context("x", event_type="GAME_EVENT")
        raised.append(caught.value)
    with pytest.raises(err.BadResponseError) as caught:
        client.join()
    raised.append(caught.value)
    for error in raised:
        assert_no_key(error)
    assert KEY not in caplog.text
    assert all(c.request.headers["Authorization"] == f"Bearer {KEY}" for c in mock.calls)


# --- dry run ---------------------------------------------------------------------


def test_dry_run_logs_each_request_and_sends_nothing(mock, caplog):
    mock.assert_all_requests_are_fired = False
    caplog.set_level(logging.INFO, logger="ailicia")
    dry = DryRunClient(base_url=BASE + "/", channel="my channel", api_key=ApiKey(KEY))
    dry.send_context("Scene 'Game'", event_type="GAME_EVENT", ttl=30, timeout=1.0)
    dry.send_generation("Hype!", event_type="CHAT_TRIGGER")
    result = dry.join()
    dry.leave(timeout=1.0)
    characters = dry.list_characters()
    dry.close()
    assert len(mock.calls) == 0
    assert result.outcome == DRY_RUN and not result.in_chat
    assert characters == []
    assert [r.getMessage() for r in caplog.records] == [
        "Dry run: would send POST /v1/events "
        '{"eventType": "GAME_EVENT", "data": {"channelName": "my channel", "content": "Scene \'Game\'", "ttl": 30}}',
        "Dry run: would send POST /v1/events/generations "
        '{"eventType": "CHAT_TRIGGER", "data": {"channelName": "my channel", "content": "Hype!"}}',
        "Dry run: would send POST /v1/streams/my%20channel",
        "Dry run: would send DELETE /v1/streams/my%20channel",
        "Dry run: would send GET /v1/characters",
    ]
    assert KEY not in caplog.text


def test_dry_run_really_sends_nothing_even_without_a_mock(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dry run touched the network")

    monkeypatch.setattr(requests.Session, "request", refuse)
    dry = DryRunClient(base_url=BASE, channel=CHANNEL)
    dry.send_context("x", event_type="GAME_EVENT")
    dry.send_generation("x", event_type="GAME_EVENT")
    dry.join()
    dry.leave()
    dry.list_characters()
