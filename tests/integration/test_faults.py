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
from ailicia_core.sandbox import Sandbox, SandboxConfig, utf16_length

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
    settings = {"api_key": KEY, "channel": CHANNEL, "api_base_url": url, "scene_debounce_ms": 0,
                "generation_cooldown_s": 1, "context_ttl_s": TTL_S}
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
            f"the status never said {words!r}:\n{engine.status_text()}")
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
    for text in texts:
        for secret in secrets:
            # Also a long piece of it: a key cut short by an abbreviation still leaks.
            for piece in (secret, secret[-16:], secret[:16]):
                assert piece not in text, f"the API key leaked into: {text!r}"


def log_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    """Every captured record as its handler formats it, traceback included."""
    return [caplog.handler.format(record) for record in caplog.records]


@pytest.fixture
def lab(caplog: pytest.LogCaptureFixture) -> Iterator[Lab]:
    """A lab whose log (at DEBUG) and status texts are checked for the key after the test."""
    caplog.set_level(logging.DEBUG, logger="ailicia")
    the_lab = Lab()
    yield the_lab
    the_lab.close()
    assert_no_secret(the_lab.seen + log_lines(caplog))


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
    return [r.body["data"]["content"] for r in received
            if r.method == "POST" and r.path == path and (status is None or r.status == status)]


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


JOINED = {"success": True, "message": "AI successfully joined channel", "joinedAt": 1739982392000,
          "channelId": "ch_123"}
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
        path = raw_path[len(self.prefix):] if raw_path.startswith(self.prefix + "/") else None
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
    assert "trying again in" in seen.lower()
    box = new_sandbox(port=port)  # ai_licia comes back on the same address
    try:
        final = lab.settle(engine)
        received = box.requests
        assert sorted(contents(received, status=200)) == [
            "Boss fight starts now", "Streamer switched to the 'Gameplay' scene"]
        assert contents(received, GENERATIONS, status=200) == ["Cheer for the boss fight"]
        assert len(received) == 3, "each request arrives once: nothing was resent after it got through"
        assert all(r.body["data"]["ttl"] <= TTL_S for r in of(received, "POST", EVENTS))
        assert "Last success: " in final and "waiting" not in final
        refused = warnings(caplog, "Could not reach ai_licia")
        assert 1 <= len(refused) <= 6, "backoff, not a storm, while nothing listened"
    finally:
        box.stop()
