"""Connect with ai_licia: the messages, the state machine with every answer, the bounded wait, the words."""

import json
import threading

import pytest

from ailicia_core import __version__
from ailicia_core import connect as c
from ailicia_core.connect_runner import ConnectRunner
from ailicia_core.logsafe import redact
from ailicia_core.settings import ApiKey
from ailicia_core.status import Status, connect_words, render_status

KEY = "sk-Granted-0123456789abcdef"


def welcome(*capabilities):
    return c.Incoming("welcome", {"capabilities": list(capabilities)})


def granted(key=KEY, channel="MyChannel"):
    return c.Incoming(
        "access_granted", {"requestId": "r1", "apiKey": key, "scopes": ["rest.full"], "channelName": channel}
    )


def opened(wait_s=c.CONSENT_WAIT_S):
    machine = c.Handshake(port=51743, wait_s=wait_s)
    sent = machine.open(now=0.0)
    return machine, sent


def requested():
    machine, _ = opened()
    assert machine.receive(welcome("integration.auth", "events"), 1.0) == [c.request_access_message()]
    return machine


# --- messages ---------------------------------------------------------------------------------


def test_hello_introduces_a_stable_integration_with_our_version():
    assert json.loads(c.hello_message()) == {
        "type": "hello",
        "payload": {
            "clientType": "integration",
            "clientId": "ailicia-obs",
            "displayName": "ai_licia for OBS",
            "version": __version__,
        },
    }


def test_request_access_asks_for_rest_full_only():
    assert json.loads(c.request_access_message()) == {
        "type": "request_access",
        "payload": {"clientId": "ailicia-obs", "displayName": "ai_licia for OBS", "requestedScopes": ["rest.full"]},
    }


@pytest.mark.parametrize(
    "frame, expected",
    [
        ('{"type": "welcome", "payload": {"capabilities": []}}', c.Incoming("welcome", {"capabilities": []})),
        (
            b'{"type": "access_pending", "payload": {"requestId": "x"}}',
            c.Incoming("access_pending", {"requestId": "x"}),
        ),
        ('{"type": "welcome"}', c.Incoming("welcome", {})),
        ('{"type": "welcome", "payload": null}', c.Incoming("welcome", {})),
        ("not json", None),
        ("[1, 2]", None),
        ('{"payload": {}}', None),
        ('{"type": 3}', None),
        ('{"type": "welcome", "payload": [1]}', None),
        (b"\xff\xfe", None),
        (None, None),
    ],
)
def test_parse_message(frame, expected):
    assert c.parse_message(frame) == expected


def test_a_grant_holds_the_key_as_an_api_key_and_a_normalized_channel():
    grant = c.parse_grant(granted().payload)
    assert grant == c.Grant(ApiKey(KEY), "mychannel")
    assert KEY not in repr(grant) and KEY not in str(grant)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"apiKey": KEY},
        {"channelName": "me"},
        {"apiKey": "", "channelName": "me"},
        {"apiKey": "two words", "channelName": "me"},
        {"apiKey": 12, "channelName": "me"},
        {"apiKey": KEY, "channelName": "#"},
    ],
)
def test_an_unusable_grant_is_none(payload):
    assert c.parse_grant(payload) is None


# --- the state machine ------------------------------------------------------------------------


def test_open_sends_hello_and_waits_for_welcome():
    machine, sent = opened()
    assert sent == [c.hello_message()]
    assert machine.state.phase == c.WELCOME_AWAITED and machine.state.running


def test_the_happy_path_ends_granted():
    machine = requested()
    assert machine.state.phase == c.REQUESTED
    assert machine.receive(c.Incoming("access_pending", {"requestId": "r1"}), 2.0) == []
    assert machine.state.phase == c.PENDING
    assert machine.receive(granted(), 30.0) == []
    assert machine.done and machine.state.phase == c.GRANTED and machine.state.channel == "mychannel"
    assert machine.grant.api_key.reveal() == KEY
    assert KEY not in repr(machine.state)


def test_access_pending_is_optional():
    machine = requested()
    machine.receive(granted(), 2.0)
    assert machine.state.phase == c.GRANTED


def test_welcome_without_integration_auth_means_signed_out():
    machine, _ = opened()
    assert machine.receive(welcome("events", "state"), 1.0) == []
    assert (machine.state.phase, machine.state.outcome) == (c.FAILED, c.SIGNED_OUT)


def test_a_welcome_without_capabilities_means_signed_out():
    machine, _ = opened()
    machine.receive(c.Incoming("welcome", {}), 1.0)
    assert machine.state.outcome == c.SIGNED_OUT


@pytest.mark.parametrize("reason", (*c.DENY_REASONS, "something_new"))
def test_access_denied_keeps_its_reason(reason):
    machine = requested()
    machine.receive(c.Incoming("access_denied", {"requestId": "r1", "reason": reason}), 2.0)
    assert (machine.state.outcome, machine.state.detail) == (c.DENIED, reason)


@pytest.mark.parametrize("code", c.ERROR_CODES)
def test_each_error_code_ends_the_flow(code):
    machine = requested()
    machine.receive(c.Incoming("error", {"code": code, "message": "whatever " + KEY}), 2.0)
    assert (machine.state.phase, machine.state.outcome, machine.state.detail) == (c.FAILED, c.APP_ERROR, code)
    assert KEY not in repr(machine.state)


def test_an_error_right_after_hello_ends_the_flow_too():
    machine, _ = opened()
    machine.receive(c.Incoming("error", {"code": "invalid_client_id"}), 1.0)
    assert machine.state.detail == "invalid_client_id"


def test_a_code_from_the_app_is_cleaned_and_short():
    machine = requested()
    machine.receive(c.Incoming("error", {"code": "\x1b[31m" + "x" * 200}), 2.0)
    assert len(machine.state.detail) <= c.MAX_CODE_CHARS and "\x1b" not in machine.state.detail


def test_events_and_unknown_types_are_not_for_this_flow():
    machine = requested()
    machine.receive(c.Incoming("event", {"name": "ttsAmplitude", "data": {"soundAmplitudeValue": 0.3}}), 2.0)
    machine.receive(c.Incoming("state", {}), 2.0)
    assert machine.state.phase == c.REQUESTED


def test_a_second_welcome_sends_nothing_more():
    machine = requested()
    assert machine.receive(welcome("integration.auth"), 2.0) == []
    assert machine.state.phase == c.REQUESTED


def test_a_frame_that_is_not_a_message_is_an_odd_answer():
    machine = requested()
    machine.receive(None, 2.0)
    assert machine.state.outcome == c.ODD_ANSWER


def test_a_grant_without_a_key_is_an_odd_answer():
    machine = requested()
    machine.receive(granted(key=""), 2.0)
    assert machine.state.outcome == c.ODD_ANSWER and machine.grant is None


def test_a_closed_connection_mid_flow_is_dropped():
    machine = requested()
    machine.closed()
    assert machine.state.outcome == c.DROPPED


def test_the_wait_is_bounded_by_the_clock():
    machine, _ = opened(wait_s=120.0)
    machine.receive(welcome("integration.auth"), 1.0)
    machine.receive(c.Incoming("access_pending", {}), 2.0)
    machine.tick(119.9)
    assert machine.state.phase == c.PENDING
    machine.tick(120.0)
    assert (machine.state.phase, machine.state.outcome) == (c.FAILED, c.TIMED_OUT)


def test_a_grant_after_the_deadline_is_too_late():
    machine, _ = opened(wait_s=10.0)
    machine.receive(welcome("integration.auth"), 1.0)
    machine.receive(granted(), 10.5)
    assert machine.state.outcome == c.TIMED_OUT and machine.grant is None


def test_a_finished_flow_ignores_everything_after():
    machine = requested()
    machine.receive(granted(), 2.0)
    assert machine.receive(c.Incoming("access_denied", {"reason": "user_denied"}), 3.0) == []
    machine.closed()
    machine.tick(1e9)
    assert machine.state.phase == c.GRANTED


# --- the runner, with a fake socket and a fake clock ------------------------------------------------


class FakeSocket:
    """Answers in a script of frames; after it, every recv times out (the streamer never clicks)."""

    def __init__(self, answers, clock):
        self.answers = list(answers)
        self.sent = []
        self.clock = clock
        self.closed = threading.Event()

    def settimeout(self, timeout):
        pass

    def send(self, text):
        self.sent.append(json.loads(text)["type"])

    def recv(self):
        import websocket

        if self.closed.is_set():
            raise websocket.WebSocketConnectionClosedException("closed")
        if self.answers:
            return self.answers.pop(0)
        self.clock.now += 10.0  # each poll of the fake socket is 10 s of the streamer not clicking
        self.closed.wait(0.01)  # what a real socket's poll timeout does: no busy loop
        raise websocket.WebSocketTimeoutException("timed out")

    def abort(self):
        self.closed.set()

    def close(self, timeout=None):
        self.closed.set()

    def shutdown(self):
        self.closed.set()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def runner_with(answers):
    clock = FakeClock()
    sockets = []

    def open_socket(url, timeout):
        sockets.append(FakeSocket(answers, clock))
        return sockets[-1]

    return ConnectRunner(clock=clock, open_socket=open_socket), sockets, clock


def test_runner_times_out_after_the_stated_wait_on_a_fake_clock():
    pending = [
        json.dumps({"type": "welcome", "payload": {"capabilities": ["integration.auth"]}}),
        json.dumps({"type": "access_pending", "payload": {}}),
    ]
    runner, sockets, clock = runner_with(pending)
    assert runner.start(51743)
    state = runner.wait(10.0)
    assert (state.phase, state.outcome, state.wait_s) == (c.FAILED, c.TIMED_OUT, 120.0)
    assert 120.0 <= clock.now <= 130.0
    assert sockets[0].sent == ["hello", "request_access"] and sockets[0].closed.is_set()
    assert runner.take_grant() is None
    assert runner.stop(1.0)


def test_runner_leaves_the_grant_in_a_mailbox_taken_once():
    answers = [
        json.dumps({"type": "welcome", "payload": {"capabilities": ["integration.auth"]}}),
        json.dumps({"type": "access_granted", "payload": granted().payload}),
    ]
    runner, _, _ = runner_with(answers)
    runner.start(51743)
    assert runner.wait(10.0).phase == c.GRANTED
    grant = runner.take_grant()
    assert grant.api_key.reveal() == KEY and grant.channel == "mychannel"
    assert runner.take_grant() is None
    assert redact(f"said {KEY}") == "said ***", "the granted key is masked in every log line from now on"
    runner.stop(1.0)


def test_runner_is_single_flight_and_refuses_after_stop():
    runner, sockets, _ = runner_with([])
    runner._clock = lambda: 0.0  # never times out: a flow that waits for the socket
    assert runner.start(51743)
    assert not runner.start(51743)
    assert runner.wait(5.0, until=lambda s: s.phase == c.WELCOME_AWAITED).phase == c.WELCOME_AWAITED
    assert len(sockets) == 1
    assert runner.stop(1.4)
    assert runner.state().outcome == c.STOPPED
    assert not runner.start(51743)


def test_runner_without_websocket_client_says_so(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_websocket(name, *args, **kwargs):
        if name == "websocket":
            raise ImportError("No module named 'websocket'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_websocket)
    runner = ConnectRunner()
    runner.start(51743)
    assert runner.wait(5.0).outcome == c.NO_LIBRARY
    runner.stop(1.0)


# --- the words -----------------------------------------------------------------------------------------


def state(phase=c.FAILED, outcome="", detail="", **more):
    return c.ConnectState(phase=phase, outcome=outcome, detail=detail, **more)


@pytest.mark.parametrize(
    "value, words",
    [
        (state(c.IDLE), ""),
        (state(c.GRANTED, channel="mychannel"), "Connected as mychannel via the ai_licia app."),
        (state(c.PENDING), "Connect with ai_licia: click Allow in the ai_licia app (waiting up to 2 min)."),
        (state(c.FAILED, c.NO_APP), "Open the ai_licia app on this computer and sign in, then click again."),
        (
            state(c.FAILED, c.TIMED_OUT),
            "Connect with ai_licia: nobody clicked Allow in the ai_licia app within 2 min; click again.",
        ),
        (
            state(c.FAILED, c.DENIED, "user_denied"),
            "You declined in the ai_licia app; nothing was changed. Click again to allow it.",
        ),
        (
            state(c.FAILED, c.APP_ERROR, "rate_limited"),
            "The ai_licia app asks to wait a little before asking again: click again in a minute.",
        ),
        (
            state(c.FAILED, c.APP_ERROR, "request_pending"),
            "The ai_licia app is already showing a request from OBS: answer it there (Allow or Deny).",
        ),
        (state(c.FAILED, c.STOPPED), ""),
    ],
)
def test_words(value, words):
    assert connect_words(value) == words


@pytest.mark.parametrize(
    "outcome", [c.NO_APP, c.NOT_THE_APP, c.SIGNED_OUT, c.TIMED_OUT, c.DROPPED, c.ODD_ANSWER, c.NO_LIBRARY]
)
def test_every_failure_has_words(outcome):
    assert connect_words(state(c.FAILED, outcome, port=51743)).strip()


@pytest.mark.parametrize("reason", (*c.DENY_REASONS, "brand_new"))
def test_every_denial_has_its_own_words(reason):
    words = connect_words(state(c.FAILED, c.DENIED, reason))
    assert words and "{" not in words


@pytest.mark.parametrize("code", (*c.ERROR_CODES, "brand_new"))
def test_every_error_code_has_words(code):
    words = connect_words(state(c.FAILED, c.APP_ERROR, code))
    assert words and "{" not in words


def test_the_panel_shows_the_connect_line_first():
    text = render_status(Status(app_connect="Connected as mychannel via the ai_licia app."))
    assert text.splitlines()[0] == "Connected as mychannel via the ai_licia app."


def test_the_app_port_setting_is_checked_like_every_number():
    from ailicia_core.settings import parse_settings

    assert parse_settings({}).dashboard_ws_port == 51743
    assert parse_settings({"dashboard_ws_port": 51800}).dashboard_ws_port == 51800
    high = parse_settings({"dashboard_ws_port": 70000})
    assert high.dashboard_ws_port == 65535 and [p.key for p in high.problems if not p.blocking] == ["dashboard_ws_port"]
    assert parse_settings({"dashboard_ws_port": "abc"}).dashboard_ws_port == 51743
