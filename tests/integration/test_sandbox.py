"""The sandbox over real HTTP on loopback: endpoints, errors, window, faults, output, CLI.

Every request carries a timeout and every wait is bounded; nothing sleeps to let
time pass: tests wait on the sandbox's conditions or drive a fake clock.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import requests

from ailicia_core import sandbox as sandbox_module
from ailicia_core.limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from ailicia_core.sandbox import (
    ALREADY_JOINED_MESSAGE,
    CHARACTERS,
    DEFAULT_API_KEY,
    JOIN_TIMEOUT_MESSAGE,
    JOINED_MESSAGE,
    RecordedRequest,
    Sandbox,
    SandboxConfig,
    add_arguments,
    config_from_args,
    run,
    utf16_length,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY = DEFAULT_API_KEY
AUTH = {"Authorization": f"Bearer {KEY}"}
TIMEOUT = 5.0  # every request and wait; generous, never what a test measures
EVENTS = "/v1/events"
GENERATIONS = "/v1/events/generations"
LIMITS = {EVENTS: CONTEXT_MAX_CHARS, GENERATIONS: GENERATION_MAX_CHARS}


# -- fixtures and helpers ---------------------------------------------------------


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes (quiet, instant joins unless told otherwise); stop them all afterwards."""
    started: List[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        settings = {"quiet": True, "join_delay_s": 0.0, **overrides}
        started.append(Sandbox(SandboxConfig(**settings)).start())
        return started[-1]

    yield make
    for box in started:
        box.stop()


@pytest.fixture
def sb(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def event_body(content: str = "Squad reached Zone 3", channel: str = "mychannel", **data: Any) -> dict:
    return {"eventType": "GAME_EVENT", "data": {"channelName": channel, "content": content, **data}}


def call(
    http: requests.Session, box: Sandbox, method: str, path: str, *, headers: Any = None, **kw: Any
) -> requests.Response:
    return http.request(method, box.url + path, headers=AUTH if headers is None else headers, timeout=TIMEOUT, **kw)


def send(http: requests.Session, box: Sandbox, path: str, content: str = "hello", **kw: Any) -> requests.Response:
    return call(http, box, "POST", path, json=event_body(content), **kw)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- success on every endpoint ---------------------------------------------------------


def test_characters_are_the_two_openapi_examples(sb: Sandbox, http: requests.Session) -> None:
    response = call(http, sb, "GET", "/v1/characters")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == list(CHARACTERS)
    assert [c["name"] for c in response.json()] == ["Captain Vibes", "Cozy Willow"]


def test_join_then_already_joined_then_leave_then_join_again(sb: Sandbox, http: requests.Session) -> None:
    joined = call(http, sb, "POST", "/v1/streams/mychannel")
    assert joined.status_code == 200
    payload = joined.json()
    assert payload["success"] is True and payload["message"] == JOINED_MESSAGE
    assert isinstance(payload["joinedAt"], int) and payload["joinedAt"] > 1_600_000_000_000
    assert payload["channelId"] == "ch_mychannel"
    assert sb.joined_channels == {"mychannel"}

    again = call(http, sb, "POST", "/v1/streams/mychannel")
    assert again.json() == {"success": True, "message": ALREADY_JOINED_MESSAGE, "alreadyJoined": True}

    left = call(http, sb, "DELETE", "/v1/streams/mychannel")
    assert left.status_code == 202 and left.content == b""
    assert sb.joined_channels == frozenset()
    assert call(http, sb, "POST", "/v1/streams/mychannel").json()["message"] == JOINED_MESSAGE


def test_join_waits_the_join_delay_and_then_answers(make_sandbox: Callable[..., Sandbox], http) -> None:
    box = make_sandbox(join_delay_s=0.05)
    assert call(http, box, "POST", "/v1/streams/mychannel").json()["message"] == JOINED_MESSAGE


def test_channel_in_the_path_is_unquoted_and_compared_lowercase(make_sandbox, http) -> None:
    box = make_sandbox(channels=["MyChannel", "The One"])
    assert call(http, box, "POST", "/v1/streams/MYCHANNEL").status_code == 200
    assert call(http, box, "POST", "/v1/streams/The%20One").json()["channelId"] == "ch_the one"
    assert box.joined_channels == {"mychannel", "the one"}
    assert box.requests[-1].channel == "the one"


def test_context_event_is_accepted_with_and_without_ttl(sb: Sandbox, http: requests.Session) -> None:
    plain = send(http, sb, EVENTS)
    assert plain.status_code == 200 and plain.json()["success"] is True
    with_ttl = call(http, sb, "POST", EVENTS, json=event_body(ttl=90, channel="MyChannel"))
    assert with_ttl.status_code == 200
    null_ttl = call(http, sb, "POST", EVENTS, json=event_body(ttl=None))
    assert null_ttl.status_code == 200
    assert sb.requests[1].body == event_body(ttl=90, channel="MyChannel")
    assert sb.requests[1].channel == "mychannel"


def test_generation_is_accepted(sb: Sandbox, http: requests.Session) -> None:
    response = send(http, sb, GENERATIONS, "Tell chat we just hit 500 subs!")
    assert response.status_code == 200 and response.json()["success"] is True


# -- refusals -------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/v1/characters", None),
    ("POST", "/v1/streams/mychannel", None),
    ("DELETE", "/v1/streams/mychannel", None),
    ("POST", EVENTS, event_body()),
    ("POST", GENERATIONS, event_body()),
]


@pytest.mark.parametrize("method, path, body", ENDPOINTS)
@pytest.mark.parametrize(
    "headers, auth",
    [
        ({}, "no key"),
        ({"Authorization": ""}, "no key"),
        ({"Authorization": "Bearer not-the-key"}, "bad key"),
        ({"Authorization": f"Basic {KEY}"}, "bad key"),
        ({"Authorization": "Bearer"}, "bad key"),
    ],
    ids=["missing", "empty", "unknown", "not-bearer", "bearer-alone"],
)
def test_missing_or_unknown_key_gets_401_without_body(sb, http, method, path, body, headers, auth) -> None:
    response = call(http, sb, method, path, headers=headers, json=body)
    assert response.status_code == 401
    assert response.content == b""
    assert sb.requests[-1].auth == auth
    assert sb.joined_channels == frozenset()


def test_any_configured_key_is_accepted(make_sandbox, http) -> None:
    box = make_sandbox(api_keys=["key-one", "key-two"])
    for key in ("key-one", "key-two"):
        response = call(http, box, "GET", "/v1/characters", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    assert call(http, box, "GET", "/v1/characters").status_code == 401  # the default key is not one of them


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("channel, status", [("someoneelse", 403), ("SomeoneElse", 403), ("nobody", 404)])
def test_streams_refuse_foreign_and_unknown_channels_without_body(sb, http, method, channel, status) -> None:
    response = call(http, sb, method, f"/v1/streams/{channel}")
    assert response.status_code == status
    assert response.content == b""
    assert sb.joined_channels == frozenset()


@pytest.mark.parametrize("path", [EVENTS, GENERATIONS])
@pytest.mark.parametrize("channel", ["someoneelse", "nobody"])
def test_events_for_a_channel_not_tied_to_the_key_get_401(sb, http, path, channel) -> None:
    response = call(http, sb, "POST", path, json=event_body(channel=channel))
    assert response.status_code == 401 and response.content == b""
    assert sb.requests[-1].auth == "auth ok"


def test_unknown_path_is_404_and_wrong_method_is_405(sb: Sandbox, http: requests.Session) -> None:
    assert call(http, sb, "GET", "/v1/nothing").status_code == 404
    assert call(http, sb, "POST", "/v1/streams/").status_code == 404
    assert call(http, sb, "POST", "/v1/streams/a/b").status_code == 404
    wrong = call(http, sb, "GET", EVENTS)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST" and wrong.content == b""
    assert call(http, sb, "PUT", "/v1/streams/mychannel").headers["Allow"] == "DELETE, POST"


@pytest.mark.parametrize("path", [EVENTS, GENERATIONS])
@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"\xff\xfe garbage",
        b"[]",
        b'"just a string"',
        json.dumps({"data": {"channelName": "mychannel", "content": "x"}}).encode(),
        json.dumps({"eventType": "", "data": {"channelName": "mychannel", "content": "x"}}).encode(),
        json.dumps({"eventType": "GAME_EVENT"}).encode(),
        json.dumps({"eventType": "GAME_EVENT", "data": "x"}).encode(),
        json.dumps({"eventType": "GAME_EVENT", "data": {"content": "x"}}).encode(),
        json.dumps({"eventType": "GAME_EVENT", "data": {"channelName": "mychannel"}}).encode(),
        json.dumps({"eventType": "GAME_EVENT", "data": {"channelName": "mychannel", "content": 5}}).encode(),
        json.dumps(event_body(ttl="90")).encode(),
        json.dumps(event_body(ttl=1.5)).encode(),
        json.dumps(event_body(ttl=-1)).encode(),
        json.dumps(event_body(ttl=True)).encode(),
    ],
    ids=[
        "invalid-json",
        "empty",
        "not-utf8",
        "array",
        "string",
        "no-eventType",
        "empty-eventType",
        "no-data",
        "data-not-object",
        "no-channelName",
        "no-content",
        "content-not-string",
        "ttl-string",
        "ttl-float",
        "ttl-negative",
        "ttl-bool",
    ],
)
def test_invalid_event_bodies_get_400(sb, http, path, raw) -> None:
    response = call(http, sb, "POST", path, data=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert isinstance(response.json()["message"], str)


def test_400_comes_before_the_channel_check_and_401_before_the_length_check(sb, http) -> None:
    assert call(http, sb, "POST", EVENTS, json={"eventType": "X", "data": {"channelName": "nobody"}}).status_code == 400
    too_long_foreign = event_body("x" * (CONTEXT_MAX_CHARS + 1), channel="someoneelse")
    assert call(http, sb, "POST", EVENTS, json=too_long_foreign).status_code == 401


# -- content length, counted in UTF-16 code units -------------------------------------------------


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("") == 0
    assert utf16_length("abc") == 3
    assert utf16_length("é") == 1
    assert utf16_length("😀") == 2
    assert utf16_length("a😀b") == 4
    assert utf16_length("\ud83d") == 1  # a lone surrogate, as JSON can carry, still counts


@pytest.mark.parametrize("path", [EVENTS, GENERATIONS])
def test_content_length_boundary(make_sandbox, http, path) -> None:
    box = make_sandbox(generation_window_s=0.0)  # no window: only the length decides here
    limit = LIMITS[path]
    cases = [
        ("a" * limit, 200),
        ("a" * (limit + 1), 422),
        ("😀" * (limit // 2), 200),  # exactly the limit in UTF-16 units
        ("a" * (limit - 1) + "😀", 422),  # limit characters, limit + 1 units
        ("é" * limit, 200),
    ]
    for content, status in cases:
        response = send(http, box, path, content)
        assert response.status_code == status, (utf16_length(content), response.text)
        if status == 422:
            assert str(limit) in response.json()["message"]


def test_422_is_answered_even_inside_the_generation_window(sb, http) -> None:
    assert send(http, sb, GENERATIONS).status_code == 200
    assert send(http, sb, GENERATIONS, "x" * (GENERATION_MAX_CHARS + 1)).status_code == 422
    assert send(http, sb, GENERATIONS).status_code == 429


# -- the generation window ------------------------------------------------------------------------


def test_second_generation_in_the_window_gets_429_with_retry_after(sb, http) -> None:
    assert send(http, sb, GENERATIONS).status_code == 200
    refused = send(http, sb, GENERATIONS)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 25
    assert "message" in refused.json()
    assert send(http, sb, EVENTS).status_code == 200  # context events are not rate-limited


def test_no_retry_after_switch_omits_the_header(make_sandbox, http) -> None:
    box = make_sandbox(no_retry_after=True)
    assert send(http, box, GENERATIONS).status_code == 200
    refused = send(http, box, GENERATIONS)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    box.set_faults(no_retry_after=False)
    assert "Retry-After" in send(http, box, GENERATIONS).headers


def test_window_opens_again(make_sandbox, http) -> None:
    box = make_sandbox(generation_window_s=0.3)
    assert send(http, box, GENERATIONS).status_code == 200
    refused = send(http, box, GENERATIONS)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"  # 0.3 s, rounded up
    assert box.wait_for_generation_window(TIMEOUT, api_key=KEY)
    assert send(http, box, GENERATIONS).status_code == 200


def test_429_does_not_restart_the_window_and_retry_after_rounds_up(make_sandbox, http) -> None:
    clock = FakeClock()
    box = make_sandbox(clock=clock)
    start = clock.now
    assert send(http, box, GENERATIONS).status_code == 200
    for elapsed, retry_after in [(0.0, "25"), (0.5, "25"), (10.0, "15"), (20.0, "5"), (24.2, "1")]:
        clock.now = start + elapsed
        refused = send(http, box, GENERATIONS)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, retry_after)
    clock.now = start + 25.0  # 25 s after the accepted one, whatever was refused since
    assert send(http, box, GENERATIONS).status_code == 200
    clock.now += 1.0
    assert send(http, box, GENERATIONS).headers["Retry-After"] == "24"


def test_window_is_per_api_key(make_sandbox, http) -> None:
    box = make_sandbox(api_keys=["key-a", "key-b"])
    a, b = ({"Authorization": f"Bearer {k}"} for k in ("key-a", "key-b"))
    assert send(http, box, GENERATIONS, headers=a).status_code == 200
    assert send(http, box, GENERATIONS, headers=b).status_code == 200
    assert send(http, box, GENERATIONS, headers=a).status_code == 429
    assert send(http, box, GENERATIONS, headers=b).status_code == 429


def test_window_can_change_at_runtime(sb, http) -> None:
    assert send(http, sb, GENERATIONS).status_code == 200
    assert send(http, sb, GENERATIONS).status_code == 429
    sb.set_faults(generation_window_s=0.0)
    assert sb.wait_for_generation_window(TIMEOUT)
    assert send(http, sb, GENERATIONS).status_code == 200


def test_concurrent_generations_accept_exactly_one(sb: Sandbox) -> None:
    statuses: List[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8, timeout=TIMEOUT)

    def fire() -> None:
        with requests.Session() as session:
            barrier.wait()
            status = send(session, sb, GENERATIONS).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert sorted(statuses) == [200] + [429] * 7


# -- joins: timeout and no credits ----------------------------------------------------------------


def test_join_timeout_then_retry_answers_already_joined(make_sandbox, http) -> None:
    box = make_sandbox(join_timeouts=1)
    timed_out = call(http, box, "POST", "/v1/streams/mychannel")
    assert timed_out.status_code == 200
    payload = timed_out.json()
    assert payload["success"] is False and payload["timeout"] is True
    assert payload["message"] == JOIN_TIMEOUT_MESSAGE
    assert re.fullmatch(r"req_\d+", payload["joinRequestId"])
    assert box.joined_channels == {"mychannel"}  # the join may still complete: it did
    assert call(http, box, "POST", "/v1/streams/mychannel").json()["alreadyJoined"] is True
    call(http, box, "DELETE", "/v1/streams/mychannel")
    assert call(http, box, "POST", "/v1/streams/mychannel").json()["message"] == JOINED_MESSAGE  # used up


def test_join_always_times_out(make_sandbox, http) -> None:
    box = make_sandbox(join_always_times_out=True)
    ids = []
    for _ in range(2):
        payload = call(http, box, "POST", "/v1/streams/mychannel").json()
        assert payload["timeout"] is True
        ids.append(payload["joinRequestId"])
        assert call(http, box, "DELETE", "/v1/streams/mychannel").status_code == 202
    assert ids[0] != ids[1]


def test_join_timeouts_set_at_runtime(sb, http) -> None:
    sb.set_faults(join_timeouts=1)
    assert call(http, sb, "POST", "/v1/streams/mychannel").json()["timeout"] is True
    assert sb.config.join_timeouts == 0


def test_no_credits_refuses_the_join_with_a_body(make_sandbox, http) -> None:
    box = make_sandbox(no_credits=True)
    refused = call(http, box, "POST", "/v1/streams/mychannel")
    assert refused.status_code == 403
    assert refused.json()["requiresSubscription"] is True
    assert isinstance(refused.json()["message"], str)
    assert box.joined_channels == frozenset()
    box.set_faults(no_credits=False)
    assert call(http, box, "POST", "/v1/streams/mychannel").json()["message"] == JOINED_MESSAGE


# -- fault switches ----------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["at start", "at runtime"])
def test_fail_first_answers_503_then_recovers(make_sandbox, http, when) -> None:
    box = make_sandbox(fail_first=2) if when == "at start" else make_sandbox()
    if when == "at runtime":
        box.set_faults(fail_first=2)
    for _ in range(2):
        failed = call(http, box, "POST", "/v1/streams/mychannel")
        assert failed.status_code == 503 and failed.content == b""
    assert box.joined_channels == frozenset()  # a fault changes nothing behind it
    assert call(http, box, "POST", "/v1/streams/mychannel").status_code == 200


@pytest.mark.parametrize("when", ["at start", "at runtime"])
def test_drop_first_closes_the_connection_without_answer(make_sandbox, http, when) -> None:
    box = make_sandbox(drop_first=1) if when == "at start" else make_sandbox()
    if when == "at runtime":
        box.set_faults(drop_first=1)
    with pytest.raises(requests.ConnectionError):
        send(http, box, GENERATIONS)
    assert box.requests[-1].status is None
    assert send(http, box, GENERATIONS).status_code == 200  # the dropped one did not start the window


@pytest.mark.parametrize("when", ["at start", "at runtime"])
def test_garbage_first_answers_200_with_an_unparseable_body(make_sandbox, http, when) -> None:
    box = make_sandbox(garbage_first=1) if when == "at start" else make_sandbox()
    if when == "at runtime":
        box.set_faults(garbage_first=1)
    garbage = send(http, box, GENERATIONS)
    assert garbage.status_code == 200
    assert garbage.content == b"<html>oops</html>"
    with pytest.raises(ValueError):
        garbage.json()
    assert send(http, box, GENERATIONS).status_code == 200


def test_faults_are_taken_in_order_drop_then_fail_then_garbage(make_sandbox, http) -> None:
    box = make_sandbox(drop_first=1, fail_first=1, garbage_first=1)
    with pytest.raises(requests.ConnectionError):
        call(http, box, "GET", "/v1/characters")
    assert call(http, box, "GET", "/v1/characters").status_code == 503
    assert call(http, box, "GET", "/v1/characters").content == b"<html>oops</html>"
    assert call(http, box, "GET", "/v1/characters").json() == list(CHARACTERS)
    assert [r.status for r in box.requests] == [None, 503, 200, 200]


def test_faults_come_before_auth(make_sandbox, http) -> None:
    box = make_sandbox(fail_first=1)
    assert call(http, box, "GET", "/v1/characters", headers={}).status_code == 503
    assert call(http, box, "GET", "/v1/characters", headers={}).status_code == 401


def test_delay_holds_answers_until_it_is_lowered(make_sandbox, http) -> None:
    box = make_sandbox(delay_s=60.0)
    answers: queue.Queue[Any] = queue.Queue()
    worker = threading.Thread(target=lambda: answers.put(send(requests, box, EVENTS)))
    worker.start()
    assert box.wait_for_in_flight(1, TIMEOUT)
    assert box.requests == []  # held, not answered
    box.set_faults(delay_s=0.0)
    worker.join(TIMEOUT)
    assert not worker.is_alive()
    assert answers.get_nowait().status_code == 200
    assert box.in_flight == 0


def test_delay_set_at_start_applies_to_every_answer(make_sandbox, http) -> None:
    box = make_sandbox(delay_s=0.01)
    assert call(http, box, "GET", "/v1/characters").status_code == 200
    assert call(http, box, "GET", "/v1/characters", headers={}).status_code == 401


def test_set_faults_rejects_unknown_switches_and_bad_values(sb: Sandbox) -> None:
    with pytest.raises(TypeError):
        sb.set_faults(explode=True)
    for bad in ({"fail_first": -1}, {"fail_first": 1.5}, {"drop_first": True}, {"delay_s": -0.1}, {"no_credits": 1}):
        with pytest.raises(ValueError):
            sb.set_faults(**bad)
    assert sb.config.fail_first == 0


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        Sandbox(SandboxConfig(api_keys=[]))
    with pytest.raises(ValueError):
        Sandbox(SandboxConfig(channels=["a"], foreign_channels=["A"]))
    with pytest.raises(ValueError):
        Sandbox(SandboxConfig(garbage_first=-2))
    assert Sandbox(SandboxConfig(api_keys="solo")).config.api_keys == ("solo",)


# -- recording, output, lifecycle -----------------------------------------------------------------


def test_requests_are_recorded_and_waitable(sb: Sandbox, http: requests.Session) -> None:
    send(http, sb, EVENTS, "first")
    call(http, sb, "POST", "/v1/streams/MyChannel", headers={"Authorization": "Bearer wrong"})
    assert sb.wait_for(lambda reqs: len(reqs) == 2, TIMEOUT)
    first, second = sb.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path, first.channel, first.status, first.auth) == (
        "POST",
        EVENTS,
        "mychannel",
        200,
        "auth ok",
    )
    assert first.body == event_body("first")
    assert (second.path, second.channel, second.status, second.auth, second.body) == (
        "/v1/streams/MyChannel",
        "mychannel",
        401,
        "bad key",
        None,
    )
    assert first.t <= second.t
    assert sb.wait_for(lambda reqs: len(reqs) == 3, 0.01) is False
    sb.requests.clear()  # a copy: clearing it changes nothing
    assert len(sb.requests) == 2


def test_record_file_gets_one_json_line_per_request(make_sandbox, http, tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    box = make_sandbox(record_path=str(record), drop_first=1)
    with pytest.raises(requests.ConnectionError):
        call(http, box, "GET", "/v1/characters")
    send(http, box, EVENTS, "Lap 5/12")
    call(http, box, "POST", EVENTS, data=b"{oops", headers={"Authorization": "Bearer wrong-key"})
    call(http, box, "DELETE", "/v1/streams/mychannel", headers={})
    box.stop()

    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert [set(line) for line in lines] == [{"t", "method", "path", "channel", "body", "status", "auth"}] * 4
    assert [(x["method"], x["path"], x["status"], x["auth"]) for x in lines] == [
        ("GET", "/v1/characters", None, "auth ok"),
        ("POST", EVENTS, 200, "auth ok"),
        ("POST", EVENTS, 401, "bad key"),
        ("DELETE", "/v1/streams/mychannel", 401, "no key"),
    ]
    assert lines[1]["body"] == event_body("Lap 5/12") and lines[1]["channel"] == "mychannel"
    assert lines[2]["body"] is None
    text = record.read_text(encoding="utf-8")
    assert KEY not in text and "wrong-key" not in text

    Sandbox(SandboxConfig(record_path=record, quiet=True)).start().stop()
    again = make_sandbox(record_path=record)
    call(http, again, "GET", "/v1/characters")
    again.stop()
    assert len(record.read_text(encoding="utf-8").splitlines()) == 5  # appended, not replaced


def test_each_request_prints_one_line_without_the_key(make_sandbox, http, capsys) -> None:
    box = make_sandbox(quiet=False)
    long_content = "Lap 5/12 completed in 1:37.521, tire wear 45%, " * 10
    send(http, box, EVENTS, long_content)
    call(http, box, "GET", "/v1/characters", headers={"Authorization": "Bearer wrong-key"})
    call(http, box, "DELETE", "/v1/streams/mychannel", headers={})
    send(http, box, EVENTS, f"my key is {KEY}")
    send(http, box, EVENTS, "two\nlines \x1b[31mred\x9b")
    box.stop()

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert all(c.isprintable() for c in lines[4]) and "[31mred" in lines[4]  # escaped, not obeyed
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3}\s+POST\s+/v1/events\s+mychannel\s+200\s+auth ok\s+\"Lap 5/12", lines[0])
    assert "…" in lines[0] and long_content not in lines[0] and f"({len(long_content)})" in lines[0]
    assert "401" in lines[1] and "bad key" in lines[1]
    assert "DELETE" in lines[2] and "no key" in lines[2]
    output = "\n".join(lines)
    assert KEY not in output and "wrong-key" not in output


def test_stop_returns_while_a_delayed_request_is_in_flight(make_sandbox) -> None:
    box = make_sandbox(delay_s=60.0)
    outcome: queue.Queue[Any] = queue.Queue()

    def delayed_request() -> None:
        try:
            outcome.put(send(requests, box, EVENTS))
        except requests.RequestException as err:
            outcome.put(err)

    client = threading.Thread(target=delayed_request)
    client.start()
    assert box.wait_for_in_flight(1, TIMEOUT)
    stopper = threading.Thread(target=box.stop, kwargs={"timeout": 2.0})
    stopper.start()
    stopper.join(TIMEOUT)
    assert not stopper.is_alive()
    client.join(TIMEOUT)
    assert not client.is_alive()
    assert isinstance(outcome.get_nowait(), requests.ConnectionError)
    assert [r.status for r in box.requests] == [None]


def test_stop_releases_a_join_waiting_for_its_delay(make_sandbox) -> None:
    box = make_sandbox(join_delay_s=60.0)
    outcome: queue.Queue[Any] = queue.Queue()

    def join() -> None:
        try:
            outcome.put(call(requests, box, "POST", "/v1/streams/mychannel"))
        except requests.RequestException as err:
            outcome.put(err)

    client = threading.Thread(target=join)
    client.start()
    assert box.wait_for_in_flight(1, TIMEOUT)
    box.stop()
    client.join(TIMEOUT)
    assert not client.is_alive()
    assert isinstance(outcome.get_nowait(), requests.ConnectionError)
    assert box.joined_channels == frozenset()


def test_lifecycle(http: requests.Session) -> None:
    box = Sandbox(SandboxConfig(quiet=True))
    with pytest.raises(RuntimeError):
        _ = box.url
    box.stop()  # before start: harmless
    with box:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", box.url)
        assert box.url.endswith(f":{box.port}") and box.port > 0
        assert box.start() is box
        assert call(http, box, "GET", "/v1/characters").status_code == 200
    box.stop()  # twice: harmless
    with pytest.raises(RuntimeError):
        box.start()
    with pytest.raises(requests.ConnectionError):
        call(http, box, "GET", "/v1/characters")


def test_concurrent_requests_are_all_answered_and_recorded(sb: Sandbox) -> None:
    def fire(n: int) -> None:
        with requests.Session() as session:
            send(session, sb, EVENTS, f"event {n}")

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert sb.wait_for(lambda reqs: len(reqs) == 16, TIMEOUT)
    assert {r.status for r in sb.requests} == {200}
    assert sorted(r.body["data"]["content"] for r in sb.requests) == sorted(f"event {n}" for n in range(16))


# -- command line ---------------------------------------------------------------------------------


def test_help_lists_every_option(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sandbox_module.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--api-key",
        "--channel",
        "--foreign-channel",
        "--window",
        "--join-delay",
        "--delay",
        "--fail-first",
        "--drop-first",
        "--join-timeouts",
        "--join-always-times-out",
        "--garbage-first",
        "--no-credits",
        "--no-retry-after",
        "--record",
        "--quiet",
    ):
        assert option in out


def _parse(argv: List[str]):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_options_become_the_config() -> None:
    defaults = config_from_args(_parse([]))
    assert (defaults.port, defaults.api_keys, defaults.channels, defaults.foreign_channels) == (
        8787,
        (KEY,),
        ("mychannel",),
        ("someoneelse",),
    )
    config = config_from_args(
        _parse(
            ["--api-key", "a", "--api-key", "b", "--channel", "X", "--window", "3", "--join-delay", "0"]
            + ["--delay", "0.5", "--fail-first", "2", "--drop-first", "1", "--join-timeouts", "3"]
            + ["--garbage-first", "4", "--join-always-times-out", "--no-credits", "--no-retry-after"]
            + ["--record", "r.jsonl", "--quiet", "--foreign-channel", "other", "--port", "0"]
        )
    )
    assert config == SandboxConfig(
        port=0,
        api_keys=("a", "b"),
        channels=("X",),
        foreign_channels=("other",),
        generation_window_s=3.0,
        join_delay_s=0.0,
        delay_s=0.5,
        fail_first=2,
        drop_first=1,
        join_timeouts=3,
        garbage_first=4,
        join_always_times_out=True,
        no_credits=True,
        no_retry_after=True,
        record_path="r.jsonl",
        quiet=True,
    )


@pytest.mark.parametrize("argv", [["--delay", "-1"], ["--fail-first", "x"], ["--port", "70000"], ["--window", "nan"]])
def test_bad_option_values_are_refused(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(argv)
    assert exit_info.value.code == 2


def test_run_reports_a_busy_port(sb: Sandbox, capsys) -> None:
    assert run(_parse(["--port", str(sb.port)])) == 2
    assert "cannot start" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals to a child process")
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_cli_serves_until_signalled_and_exits_0(tmp_path: Path, signal_name: str) -> None:
    record = tmp_path / "cli.jsonl"
    command = [sys.executable, "-m", "ailicia_core.sandbox", "--port", "0", "--record", str(record)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()

    def next_line_matching(pattern: str) -> re.Match[str]:
        while True:
            match = re.search(pattern, lines.get(timeout=10))
            if match:
                return match

    try:
        url = next_line_matching(r"listening on (http://127\.0\.0\.1:\d+)").group(1)
        next_line_matching(rf"API key:\s+{KEY}")
        next_line_matching(rf"'API address' to {re.escape(url)}")
        with requests.Session() as http:
            response = http.get(url + "/v1/characters", headers=AUTH, timeout=TIMEOUT)
        assert response.status_code == 200 and response.json() == list(CHARACTERS)
        next_line_matching(r"GET\s+/v1/characters\s+-\s+200\s+auth ok")

        proc.send_signal(getattr(signal, signal_name))  # to the child's pid only
        assert proc.wait(timeout=10) == 0
        reader.join(TIMEOUT)
        next_line_matching(r"sandbox stopped")
        assert proc.stderr.read() == ""
        assert json.loads(record.read_text(encoding="utf-8"))["status"] == 200
    finally:
        if proc.poll() is None:
            proc.kill()  # only the child this test started
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
