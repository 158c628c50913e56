"""The fault table, part 1: network faults and API answers, over real HTTP on loopback.

Every test runs the real :class:`Engine` (with its worker thread) and the real
``ApiClient`` against the sandbox, or against :class:`ScriptedApi` where the
sandbox cannot give the answer (a redirect, an empty body, a cut-off body, a
422). Each test checks, as far as it applies: what ai_licia received, what the
streamer sees, that nothing still within its ttl was lost, and that the number
of requests stays bounded. ``docs/reliability.md`` has one row per test.

Backoff runs for real but short: ``rng=lambda: 0.0`` makes the waits
0.5 s, 1 s, 2 s... Waits are on conditions with generous timeouts, never on
sleeps; the only timing asserted is "it happened at all".

The harness at the top (:class:`Lab`, :class:`ScriptedApi`) is shared with
``test_faults_input.py`` and ``test_secrets.py``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

from ailicia_core import client as client_module
from ailicia_core import events as ev
from ailicia_core import presence as presence_module
from ailicia_core.engine import Engine
from ailicia_core.sandbox import Sandbox, SandboxConfig

#: A distinctive API key: if any of it shows up in a log line or status text, it leaked.
KEY = "sk-obs-LEAKCANARY-7f3a9c2e51d04b86"
#: A second distinctive key, for the "wrong key" cases (the sandbox does not know it).
WRONG_KEY = "sk-obs-WRONGCANARY-0b1d2e3f4a5b6c7d"
CHANNEL = "mychannel"
EVENTS = "/v1/events"
GENERATIONS = "/v1/events/generations"
STREAM = f"/v1/streams/{CHANNEL}"
TTL_S = 600


# --- waiting ------------------------------------------------------------------------------


def eventually(predicate: Callable[[], Any], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


def free_port() -> int:
    """A loopback port with nothing listening on it (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the lab: engines with the canary key, and what the streamer saw ---------------------


def settings_for(url: str, **overrides: Any) -> Dict[str, Any]:
    settings = {
        "api_key": KEY,
        "channel": CHANNEL,
        "api_base_url": url,
        "scene_debounce_ms": 0,
        "generation_cooldown_s": 1,
        "context_ttl_s": TTL_S,
    }
    settings["eventsub_enabled"] = False  # these count every request; the listener's are in test_eventsub_loopback.py
    settings.update(overrides)
    return settings


class Lab:
    """Builds engines (real worker thread, no jitter), remembers every status text read, shuts them down."""

    def __init__(self) -> None:
        self.engines: List[Engine] = []
        self.seen: List[str] = []

    def engine(self, url: str, **overrides: Any) -> Engine:
        engine = Engine(settings_for(url, **overrides), rng=lambda: 0.0)
        self.engines.append(engine)
        return engine

    def status_text(self, engine: Engine) -> str:
        text = engine.status_text()
        self.seen.append(text)
        return text

    def wait_for_status(self, engine: Engine, words: str, timeout: float = 10.0) -> str:
        """Wait until the panel text contains ``words``; returns the text (fails the test otherwise)."""
        assert eventually(lambda: words in engine.status_text(), timeout), (
            f"the status never said {words!r}:\n{engine.status_text()}"
        )
        return self.status_text(engine)

    def settle(self, engine: Engine, timeout: float = 15.0) -> str:
        """Wait until nothing can move any more; returns the final panel text."""
        assert engine.wait_idle(timeout), f"the engine never went idle:\n{engine.status_text()}"
        return self.status_text(engine)

    def close(self) -> None:
        for engine in self.engines:
            engine.shutdown(1.0)
            self.seen.append(engine.status_text())


def assert_no_secret(texts: List[str], secrets: Tuple[str, ...] = (KEY, WRONG_KEY)) -> None:
    """No key, nor a long piece of one (an abbreviated key still leaks), in any letter case."""
    for text in texts:
        folded = text.casefold()
        for secret in secrets:
            for piece in (secret, secret[:16], secret[-16:]):
                assert piece.casefold() not in folded, f"the API key leaked into: {text!r}"


def log_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    """Every captured record as its handler formats it, traceback included."""
    return [caplog.handler.format(record) for record in caplog.records]


def lab_session(caplog: pytest.LogCaptureFixture) -> Iterator[Lab]:
    """A lab whose log (at DEBUG) and status texts are checked for the key after the test."""
    caplog.set_level(logging.DEBUG, logger="ailicia")
    the_lab = Lab()
    yield the_lab
    the_lab.close()
    assert_no_secret(the_lab.seen + log_lines(caplog))


@pytest.fixture
def lab(caplog: pytest.LogCaptureFixture) -> Iterator[Lab]:
    yield from lab_session(caplog)


@dataclass(frozen=True)
class Sent:
    """One ``requests.Session.send`` call: the request and the options it went out with."""

    method: str
    url: str
    headers: Dict[str, str]
    options: Dict[str, Any]
    session_verify: Any


class SendSpy:
    """Records every ``requests.Session.send`` from any session on any thread (a followed redirect too)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._lock = threading.Lock()
        self._calls: List[Sent] = []
        original = requests.Session.send
        spy = self

        def send(session: requests.Session, request: requests.PreparedRequest, **options: Any):
            with spy._lock:
                spy._calls.append(
                    Sent(request.method or "", request.url or "", dict(request.headers), dict(options), session.verify)
                )
            return original(session, request, **options)

        monkeypatch.setattr(requests.Session, "send", send)

    @property
    def calls(self) -> List[Sent]:
        with self._lock:
            return list(self._calls)


def new_sandbox(**config: Any) -> Sandbox:
    options = {"quiet": True, "api_keys": (KEY,), "generation_window_s": 1.0, "join_delay_s": 0.05}
    options.update(config)
    return Sandbox(SandboxConfig(**options)).start()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = new_sandbox()
    yield box
    box.stop()


def warnings(caplog: pytest.LogCaptureFixture, words: str) -> List[str]:
    """The log lines holding ``words``: one per failed try, where the status keeps only the last."""
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def of(received: list, method: str, path: str) -> list:
    return [r for r in received if r.method == method and r.path == path]


def contents(received: list, path: str = EVENTS, status: Optional[int] = None) -> List[str]:
    return [
        r.body["data"]["content"]
        for r in received
        if r.method == "POST" and r.path == path and (status is None or r.status == status)
    ]


# --- a tiny scripted API for answers the sandbox cannot give ------------------------------


@dataclass(frozen=True)
class Answer:
    """One scripted answer. ``cut_after`` closes the connection after that many body bytes."""

    status: int
    body: bytes = b""
    headers: Tuple[Tuple[str, str], ...] = ()
    cut_after: Optional[int] = None


def json_answer(status: int, payload: Any) -> Answer:
    return Answer(status, json.dumps(payload).encode(), (("Content-Type", "application/json"),))


JOINED = {
    "success": True,
    "message": "AI successfully joined channel",
    "joinedAt": 1739982392000,
    "channelId": "ch_123",
}
CHARACTERS = [{"id": "char_123", "name": "Captain Vibes", "description": "", "isActive": True}]


@dataclass(frozen=True)
class Received:
    """One request as :class:`ScriptedApi` saw it (headers with lowercase names)."""

    method: str
    path: str
    headers: Dict[str, str]
    body: Any
    status: int


class ScriptedApi:
    """A loopback HTTP server answering each path from a script, else as the API docs say.

    Under ``prefix`` (for an ``api_base_url`` with a path) it answers like the API;
    anything else gets 404.
    """

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._lock = threading.Condition()
        self._received: List[Received] = []
        self._scripts: Dict[Tuple[str, str], deque] = defaultdict(deque)
        self._server = _ScriptedServer(("127.0.0.1", 0), _ScriptedHandler)
        self._server.api = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = self.origin + prefix

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """Queue answers for ``method path`` (the path without the prefix)."""
        with self._lock:
            self._scripts[(method, path)].extend(answers)

    @property
    def received(self) -> List[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, predicate: Callable[[List[Received]], Any], timeout: float = 10.0) -> bool:
        with self._lock:
            return bool(self._lock.wait_for(lambda: predicate(list(self._received)), timeout))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, raw_path: str, headers: Dict[str, str], raw_body: bytes) -> Answer:
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            body = None
        path = raw_path[len(self.prefix) :] if raw_path.startswith(self.prefix + "/") else None
        with self._lock:
            script = self._scripts.get((method, path or ""))
            answer = script.popleft() if script else _documented(method, path)
            self._received.append(Received(method, raw_path, headers, body, answer.status))
            self._lock.notify_all()
        return answer


def _documented(method: str, path: Optional[str]) -> Answer:
    if path == "/v1/characters" and method == "GET":
        return json_answer(200, CHARACTERS)
    if path == STREAM:
        return json_answer(200, JOINED) if method == "POST" else Answer(202)
    if path in (EVENTS, GENERATIONS) and method == "POST":
        return json_answer(200, {"success": True})
    return Answer(404)


class _ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True
    api: ScriptedApi

    def server_bind(self) -> None:  # skip the reverse DNS lookup HTTPServer does
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.api._answer(self.command, self.path, headers, raw)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if answer.cut_after is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if answer.cut_after is None:
            self.wfile.write(answer.body)
            return
        self.wfile.write(answer.body[: answer.cut_after])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    do_POST = do_DELETE = do_PUT = do_GET


@pytest.fixture
def scripted() -> Iterator[ScriptedApi]:
    api = ScriptedApi()
    yield api
    api.close()


# ========================================================================================
# Network
# ========================================================================================


def test_connection_refused_then_recovery_delivers_everything_once(lab, caplog):
    port = free_port()
    engine = lab.engine(f"http://127.0.0.1:{port}", only_when_live=False)
    engine.handle(ev.SceneSwitched("Gameplay"))
    engine.handle(ev.ManualContext("Boss fight starts now"))
    engine.handle(ev.ManualGeneration("Cheer for the boss fight"))
    seen = lab.wait_for_status(engine, "Could not reach ai_licia")
    assert "paused for" in seen and "after no connection" in seen  # each lane says how long it waits
    box = new_sandbox(port=port)  # ai_licia comes back on the same address
    try:
        final = lab.settle(engine)
        received = box.requests
        assert sorted(contents(received, status=200)) == [
            "Boss fight starts now",
            "Streamer switched to the 'Gameplay' scene",
        ]
        assert contents(received, GENERATIONS, status=200) == ["Cheer for the boss fight"]
        assert len(received) == 3, "each request arrives once: nothing was resent after it got through"
        assert all(r.body["data"]["ttl"] <= TTL_S for r in of(received, "POST", EVENTS))
        assert "Last success: " in final and "waiting" not in final
        refused = warnings(caplog, "Could not reach ai_licia")
        assert 1 <= len(refused) <= 6, "backoff, not a storm, while nothing listened"
    finally:
        box.stop()


def test_503_three_times_then_200_joins_and_delivers_once(lab, sandbox):
    sandbox.set_faults(fail_first=3)
    engine = lab.engine(sandbox.url)
    engine.handle(ev.StreamStarted("Intro"))
    seen = lab.wait_for_status(engine, "(503)")
    assert "for as long as the stream is live" in seen or "Context paused for" in seen
    final = lab.settle(engine)
    received = sandbox.requests
    # Each lane backs off on its own: the join and the context share the three 503s, then each arrives once.
    assert [r.status for r in received].count(503) == 3
    assert [r.status for r in of(received, "POST", STREAM)][-1] == 200
    assert contents(received, status=200) == ["Stream started. On air: the 'Intro' scene"]
    assert len(received) == 5
    assert engine.status().in_chat is True
    assert "ai_licia is in chat" in final and "waiting" not in final


def test_context_slower_than_the_read_timeout_is_sent_again(lab, sandbox, monkeypatch):
    monkeypatch.setattr(client_module, "READ_TIMEOUT_S", 0.3)  # 10 s in production
    sandbox.set_faults(delay_s=30.0)
    engine = lab.engine(sandbox.url, only_when_live=False)
    engine.handle(ev.ManualContext("Slow answer"))
    seen = lab.wait_for_status(engine, "did not answer the context in time")
    assert "Context paused for" in seen and "Context waiting to be sent: 1." in seen
    sandbox.set_faults(delay_s=0.0)  # ai_licia catches up: the held request is processed after all
    lab.settle(engine)
    assert sandbox.wait_for(lambda rs: len(contents(rs, status=200)) >= 2, 5)
    delivered = contents(sandbox.requests, status=200)
    # The late one and the resend both arrive: context twice is harmless, context never is not.
    assert set(delivered) == {"Slow answer"} and 2 <= len(delivered) <= 3
    assert "Sent context: Slow answer" in lab.status_text(engine)


def test_a_reaction_slower_than_the_read_timeout_is_not_sent_twice(lab, sandbox, monkeypatch):
    monkeypatch.setattr(client_module, "READ_TIMEOUT_S", 0.3)
    sandbox.set_faults(delay_s=30.0)
    engine = lab.engine(sandbox.url, only_when_live=False)
    engine.handle(ev.ManualGeneration("Slow reaction"))
    seen = lab.wait_for_status(engine, "may not have happened")
    assert "it was not resent to avoid a double reaction" in seen
    sandbox.set_faults(delay_s=0.0)
    assert sandbox.wait_for(lambda rs: contents(rs, GENERATIONS), 5)
    lab.settle(engine)
    assert contents(sandbox.requests, GENERATIONS, status=200) == ["Slow reaction"]
    assert len(sandbox.requests) == 1


def test_a_join_slower_than_its_read_timeout_is_asked_again_until_she_is_in(lab, monkeypatch):
    monkeypatch.setattr(client_module, "JOIN_READ_TIMEOUT_S", 0.3)  # 15 s in production
    box = new_sandbox(join_delay_s=0.6)  # the server takes its time to confirm
    try:
        engine = lab.engine(box.url)
        engine.handle(ev.StreamStarted("Intro"))
        seen = lab.wait_for_status(engine, "did not answer the join in time")
        assert "Asking again in" in seen and "for as long as the stream is live" in seen
        final = lab.settle(engine)
        joins = of(box.requests, "POST", STREAM)
        assert 2 <= len(joins) <= 5, "asked again, a bounded number of times"
        assert engine.status().in_chat is True and "ai_licia is in chat" in final
        assert box.joined_channels == {CHANNEL}
        assert contents(box.requests, status=200) == ["Stream started. On air: the 'Intro' scene"]
    finally:
        box.stop()


def test_a_connection_closed_without_an_answer_resends_context_but_not_a_reaction(lab, sandbox):
    sandbox.set_faults(drop_first=1)
    engine = lab.engine(sandbox.url, only_when_live=False)
    engine.handle(ev.ManualContext("Dropped once"))
    lab.wait_for_status(engine, "The connection to ai_licia broke during the context")
    lab.settle(engine)
    assert [r.status for r in of(sandbox.requests, "POST", EVENTS)] == [None, 200]
    sandbox.set_faults(drop_first=1)
    engine.handle(ev.ManualGeneration("Dropped reaction"))
    seen = lab.wait_for_status(engine, "may not have happened")
    assert "press" not in seen or "Dropped reaction" in seen
    lab.settle(engine)
    # A dropped connection may have been processed; a double reaction is worse than a missing one.
    assert [r.status for r in of(sandbox.requests, "POST", GENERATIONS)] == [None]
    assert "The reaction 'Dropped reaction' may not have happened" in lab.status_text(engine)


def test_an_answer_cut_off_mid_body_resends_context_but_not_a_reaction(lab, scripted):
    body = json.dumps({"success": True, "message": "Event received"}).encode()
    scripted.script("POST", EVENTS, Answer(200, body, cut_after=5))
    scripted.script("POST", GENERATIONS, Answer(200, body, cut_after=5))
    engine = lab.engine(scripted.url, only_when_live=False)
    engine.handle(ev.ManualContext("Cut short"))
    lab.wait_for_status(engine, "broke during the context")
    lab.settle(engine)
    assert [r.body["data"]["content"] for r in scripted.received] == ["Cut short", "Cut short"]
    engine.handle(ev.ManualGeneration("Cut reaction"))
    seen = lab.wait_for_status(engine, "may not have happened")
    assert "broke during the reaction" in seen
    lab.settle(engine)
    assert [r.path for r in scripted.received] == [EVENTS, EVENTS, GENERATIONS]


def test_an_unreadable_join_answer_is_asked_again_with_backoff_then_she_joins(lab, sandbox):
    sandbox.set_faults(garbage_first=2)
    engine = lab.engine(sandbox.url)
    engine.handle(ev.StreamStarted("Intro"))
    seen = lab.wait_for_status(engine, "answered by a web page")
    assert "Could not join yet: The join was answered by a web page, not by ai_licia" in seen
    final = lab.settle(engine)
    joins = of(sandbox.requests, "POST", STREAM)
    # Two HTML pages (the join got at least one; the context lane may have got the other), then the real answer.
    assert 2 <= len(joins) <= 3 and all(r.status == 200 for r in joins)
    # presence.py: "No answer at all (network, 5xx, unreadable) is retried with the shared backoff".
    gaps = [b.t - a.t for a, b in zip(joins, joins[1:], strict=False)]
    assert all(gap >= 0.4 for gap in gaps), f"retried without backoff: gaps {gaps}"
    assert engine.status().in_chat is True and "ai_licia is in chat" in final
    # The context lane may have got one of the pages: it is then sent again (a page never reached ai_licia).
    assert set(contents(sandbox.requests, status=200)) == {"Stream started. On air: the 'Intro' scene"}


def test_an_unreadable_answer_to_the_connection_test_says_so(lab, sandbox):
    sandbox.set_faults(garbage_first=1)
    engine = lab.engine(sandbox.url)
    engine.test_connection()
    final = lab.settle(engine)
    assert "Connection test failed: The connection test was answered by a web page, not by ai_licia" in final
    assert "Paused" not in final
    engine.test_connection()
    assert "Connected: ai_licia accepted the key (2 character(s), active: Captain Vibes)." in lab.settle(engine)
    assert [r.status for r in sandbox.requests] == [200, 200]


def test_an_empty_body_where_json_was_due_is_retried_and_reported(lab, scripted):
    scripted.script("POST", STREAM, Answer(200), Answer(200, b"", (("Content-Type", "application/json"),)))
    scripted.script("GET", "/v1/characters", Answer(200))
    engine = lab.engine(scripted.url)
    engine.test_connection()
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    assert (
        "Connection test failed: ai_licia's answer to the connection test could not be read (status 200, "
        "not the expected JSON)."
    ) in final
    assert [r.path for r in scripted.received if r.method == "POST" and r.path == STREAM] == [STREAM] * 3
    assert engine.status().in_chat is True
    assert [r.body["data"]["content"] for r in scripted.received if r.path == EVENTS] == [
        "Stream started. On air: the 'Intro' scene"
    ]


def test_a_redirect_to_another_host_is_not_followed_and_the_key_stays_home(lab, scripted):
    elsewhere = ScriptedApi()
    try:
        for method, path in (
            ("GET", "/v1/characters"),
            ("POST", STREAM),
            ("DELETE", STREAM),
            ("POST", EVENTS),
            ("POST", GENERATIONS),
        ):
            scripted.script(method, path, *[Answer(307, headers=(("Location", elsewhere.origin + path),))] * 5)
        engine = lab.engine(scripted.url)
        engine.test_connection()
        engine.handle(ev.StreamStarted("Intro"))
        engine.handle(ev.ManualContext("Redirected"))
        engine.handle(ev.ManualGeneration("Redirected reaction"))
        lab.settle(engine)
        engine.leave_now()
        final = lab.settle(engine)
        assert elsewhere.received == [], "the client followed a redirect"
        sent = scripted.received
        assert all(r.status == 307 for r in sent)
        # Each request went out once and was not retried: a redirect means the address is wrong.
        assert sorted((r.method, r.path) for r in sent) == sorted(
            [
                ("GET", "/v1/characters"),
                ("POST", STREAM),
                ("POST", EVENTS),
                ("POST", EVENTS),
                ("POST", GENERATIONS),
                ("DELETE", STREAM),
            ]
        )
        assert "redirected the connection test elsewhere (307). Check the API address" in final
        assert "redirected the leave elsewhere (307)" in final
    finally:
        elsewhere.close()


# ========================================================================================
# API answers
# ========================================================================================


def test_a_rejected_key_pauses_without_a_storm_and_a_fixed_key_resumes(lab, sandbox):
    engine = lab.engine(sandbox.url, api_key=WRONG_KEY)
    engine.handle(ev.StreamStarted("Intro"))
    paused = lab.settle(engine)
    assert "Paused: ai_licia rejected the API key for channel 'mychannel' (401)." in paused
    assert "Sending is paused until the settings change." in paused
    for n in range(20):
        engine.handle(ev.SceneSwitched(f"Scene {n}"))
        engine.handle(ev.TriggerPressed(1))
    still = lab.settle(engine)
    assert "Reaction not sent: sending is paused until the API key works." in still
    assert still.count("rejected the API key") == 1  # the 401 sentence once, not three times
    assert [(r.method, r.path, r.status, r.auth) for r in sandbox.requests] == [("POST", STREAM, 401, "bad key")]
    engine.reconfigure(settings_for(sandbox.url))  # the streamer pastes the right key
    resumed = lab.settle(engine)
    assert "Paused" not in resumed
    # Context queued before the pause is still within its ttl: it goes out once the key works.
    assert contents(sandbox.requests, status=200) == ["Stream started. On air: the 'Intro' scene"]
    engine.handle(ev.SceneSwitched("After the fix"))
    lab.settle(engine)
    assert contents(sandbox.requests, status=200)[-1] == "Streamer switched to the 'After the fix' scene"


def test_after_a_rejected_key_is_fixed_while_live_ai_licia_is_asked_to_join(lab, sandbox):
    engine = lab.engine(sandbox.url, api_key=WRONG_KEY)
    engine.handle(ev.StreamStarted("Intro"))
    paused = lab.settle(engine)
    assert "Waiting for a working API key to ask ai_licia to join chat." in paused
    engine.reconfigure(settings_for(sandbox.url))
    final = lab.settle(engine)
    assert [r.status for r in of(sandbox.requests, "POST", STREAM)] == [401, 200]
    assert engine.status().in_chat is True, final
    assert "rejected the API key" not in engine.status().presence


def test_403_channel_not_linked_to_the_key_is_not_retried_and_says_why(lab, sandbox):
    engine = lab.engine(sandbox.url, channel="someoneelse")
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    assert [r.status for r in of(sandbox.requests, "POST", "/v1/streams/someoneelse")] == [403]
    assert "ai_licia refused the join for channel 'someoneelse' (403): the channel is not linked" in final
    # The API answers 401 to events for a channel the key does not own: sending pauses.
    assert [r.status for r in of(sandbox.requests, "POST", EVENTS)] == [401]
    assert "Paused: ai_licia rejected the API key for channel 'someoneelse' (401)" in final
    engine.handle(ev.SceneSwitched("Gameplay"))
    lab.settle(engine)
    assert len(sandbox.requests) == 2
    assert engine.status().in_chat is False


def test_403_requires_subscription_says_so_and_context_still_flows(lab, sandbox):
    sandbox.set_faults(no_credits=True)
    engine = lab.engine(sandbox.url)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.SceneSwitched("Gameplay"))
    final = lab.settle(engine)
    assert [r.status for r in of(sandbox.requests, "POST", STREAM)] == [403]
    assert "ai_licia needs an active subscription or credits for this (403)" in final
    assert "Paused" not in final
    assert contents(sandbox.requests, status=200) == [
        "Stream started. On air: the 'Intro' scene",
        "Streamer switched to the 'Gameplay' scene",
    ]
    assert engine.status().in_chat is False


def test_404_unknown_channel_is_not_retried_and_says_why(lab, sandbox):
    engine = lab.engine(sandbox.url, channel="nobodyhere")
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    assert [r.status for r in of(sandbox.requests, "POST", "/v1/streams/nobodyhere")] == [404]
    assert "ai_licia cannot find the channel 'nobodyhere' for this API key (404)" in final
    assert len(sandbox.requests) == 2  # the join, and the start context the API refuses (401: not your channel)
    engine.handle(ev.ManualContext("More"))
    lab.settle(engine)
    assert len(sandbox.requests) == 2


def test_422_drops_that_request_with_a_message_and_sending_goes_on(lab, scripted, caplog):
    scripted.script("POST", EVENTS, json_answer(422, {"message": "Content exceeds the 700-character limit"}))
    scripted.script("POST", GENERATIONS, json_answer(422, {"message": "Content exceeds the 300-character limit"}))
    engine = lab.engine(scripted.url, only_when_live=False)
    engine.handle(ev.ManualContext("Refused one"))
    engine.handle(ev.ManualContext("Accepted one"))
    engine.handle(ev.ManualGeneration("Refused reaction"))
    final = lab.settle(engine)
    # Neither refused request is sent again: the same content would be refused again.
    assert [(r.path, r.status) for r in scripted.received] == [(GENERATIONS, 422), (EVENTS, 422), (EVENTS, 200)]
    assert "Last problem: " in final and "ai_licia refused the context as invalid (422). Not sent: Refused one" in final
    assert "Sent context: Accepted one" in final
    assert warnings(caplog, "ai_licia refused the reaction as invalid (422). Reaction not sent: Refused reaction")


@pytest.mark.parametrize("no_retry_after", [False, True], ids=["Retry-After", "no Retry-After"])
def test_a_429_waits_for_the_window_and_the_reaction_arrives_once(lab, no_retry_after):
    box = new_sandbox(generation_window_s=2.0, no_retry_after=no_retry_after)
    try:
        # Another tool using the same key has just used the window.
        other = requests.post(
            box.url + GENERATIONS,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=5,
            json={"eventType": "GAME_EVENT", "data": {"channelName": CHANNEL, "content": "x"}},
        )
        assert other.status_code == 200
        engine = lab.engine(box.url, only_when_live=False)
        engine.handle(ev.ManualGeneration("Wait for it"))
        seen = lab.wait_for_status(engine, "(429)")
        assert "Reactions waiting: 1" in seen and "The reaction waits for the next window." in seen
        final = lab.settle(engine)
        ours = [r.status for r in of(box.requests, "POST", GENERATIONS)][1:]
        if no_retry_after:
            assert ours[-1] == 200 and set(ours[:-1]) == {429} and 2 <= len(ours) <= 4
        else:
            assert ours == [429, 200], "Retry-After was waited out in one go"
        assert contents(box.requests, GENERATIONS, status=200)[1:] == ["Wait for it"]
        assert "Sent reaction: Wait for it" in final and "Reactions waiting" not in final
    finally:
        box.stop()


def test_a_join_that_times_out_is_asked_again_and_settles_in_chat(lab, sandbox, monkeypatch):
    monkeypatch.setattr(presence_module, "JOIN_RETRY_DELAY_S", 0.3)  # 5 s in production
    sandbox.set_faults(join_timeouts=1)
    engine = lab.engine(sandbox.url)
    engine.handle(ev.StreamStarted("Intro"))
    seen = lab.wait_for_status(engine, "did not confirm joining in time")
    assert "asking again (try 2 of 3). She may still join." in seen
    final = lab.settle(engine)
    joins = of(sandbox.requests, "POST", STREAM)
    assert [j.status for j in joins] == [200, 200] and joins[0].t < joins[1].t
    assert "ai_licia is in chat (she was already there)." in final
    assert contents(sandbox.requests, status=200) == ["Stream started. On air: the 'Intro' scene"]


def test_a_join_that_always_times_out_is_asked_three_times_then_left_to_the_streamer(lab, scripted, monkeypatch):
    monkeypatch.setattr(presence_module, "JOIN_RETRY_DELAY_S", 0.3)
    # The sandbox counts a timed-out join as joined, so the next one says "already there": script it instead.
    timed_out = {
        "success": False,
        "message": "Join request sent but AI join confirmation timed out after 10 seconds",
        "timeout": True,
        "joinRequestId": "req_1",
    }
    scripted.script("POST", STREAM, *[json_answer(200, timed_out)] * 5)
    engine = lab.engine(scripted.url)
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    joins = [r for r in scripted.received if r.method == "POST" and r.path == STREAM]
    assert len(joins) == presence_module.MAX_JOIN_ATTEMPTS == 3
    assert "did not confirm joining chat (Join request sent but AI join confirmation timed out" in final
    assert "She may still join; press 'Join chat now' to ask again." in final
    assert engine.status().in_chat is None


def test_an_html_page_answered_with_200_to_context_is_not_taken_as_delivered(lab, sandbox):
    # A captive portal or a proxy error page can answer 200 with HTML; the sandbox's garbage_first is that,
    # and (as documented in sandbox.py) a request a fault answers never reached ai_licia.
    sandbox.set_faults(garbage_first=1)
    engine = lab.engine(sandbox.url, only_when_live=False)
    engine.handle(ev.ManualContext("Behind a captive portal"))
    seen = lab.wait_for_status(engine, "answered by a web page")
    assert "The context was answered by a web page, not by ai_licia: check the API address in Advanced and" in seen
    final = lab.settle(engine)
    assert len(of(sandbox.requests, "POST", EVENTS)) == 2, "the context that met the HTML page was never resent"
    assert "Sent context: Behind a captive portal" in final
