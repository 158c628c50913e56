"""The real engine and worker thread over real HTTP on loopback: the sandbox, and a server that never answers."""

from __future__ import annotations

import socket
import threading

import pytest

from ailicia_core import events as ev
from ailicia_core.engine import Engine
from ailicia_core.sandbox import Sandbox, SandboxConfig

KEY = "sandbox-key"


def settings_for(url: str, **overrides):
    settings = {
        "api_key": KEY,
        "channel": "mychannel",
        "api_base_url": url,
        "scene_debounce_ms": 0,
        "generation_cooldown_s": 1,
    }
    settings["eventsub_enabled"] = False  # these count every request; the listener's are in test_eventsub_loopback.py
    settings.update(overrides)
    return settings


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True, generation_window_s=1.0, join_delay_s=0.05)).start()
    yield box
    box.stop()


@pytest.fixture
def engines():
    started = []
    yield started
    for engine in started:
        engine.shutdown(timeout=2.0)


def of(sandbox, method, path):
    return [r for r in sandbox.requests if r.method == method and r.path == path]


def test_a_stream_session_reaches_the_sandbox(sandbox, engines):
    engine = Engine(settings_for(sandbox.url))
    engines.append(engine)
    engine.handle(ev.StreamStarted("Just Chatting"))
    assert engine.wait_idle(timeout=10)
    engine.handle(ev.SceneSwitched("Gameplay"))
    for slot in (1, 2, 1):
        engine.handle(ev.TriggerPressed(slot))
    engine.handle(ev.StreamStopped())
    assert engine.wait_idle(timeout=20)
    received = sandbox.requests
    assert [(r.method, r.path) for r in received if "streams" in r.path] == [
        ("POST", "/v1/streams/mychannel"),
        ("DELETE", "/v1/streams/mychannel"),
    ]
    contents = [r.body["data"]["content"] for r in of(sandbox, "POST", "/v1/events")]
    assert contents[0] == "Stream started. On air: the 'Just Chatting' scene"
    assert contents[1] == "Streamer switched to the 'Gameplay' scene"
    assert contents[2].startswith("Stream ended after")
    generations = of(sandbox, "POST", "/v1/events/generations")
    assert all(r.status == 200 for r in generations), "no press may earn a 429"
    sent = " / ".join(r.body["data"]["content"] for r in generations)
    assert "hype up chat" in sent and "Roast me gently" in sent
    assert engine.status().in_chat is False


def test_context_arrives_after_an_outage(sandbox, engines):
    sandbox.set_faults(fail_first=2)
    engine = Engine(settings_for(sandbox.url, only_when_live=False), rng=lambda: 0.0)
    engines.append(engine)
    engine.handle(ev.SceneSwitched("After the outage"))
    assert sandbox.wait_for(lambda rs: any(r.status == 200 for r in rs), timeout=15)
    statuses = [r.status for r in of(sandbox, "POST", "/v1/events")]
    assert statuses == [503, 503, 200]


class HungServer:
    """Accepts connections on loopback and never answers, like an API that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connected = threading.Event()
        self._held: list = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.connected.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def hung():
    server = HungServer()
    yield server
    server.close()


def shutdown_in_thread(engine: Engine, timeout: float, **kwargs) -> threading.Thread:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("ok", engine.shutdown(timeout, **kwargs)))
    thread.result = result
    thread.start()
    return thread


def test_shutdown_returns_by_its_deadline_when_the_server_never_answers(hung):
    engine = Engine(settings_for(hung.url, only_when_live=False))
    engine.handle(ev.SceneSwitched("Stuck"))
    engine.handle(ev.SceneSwitched("Also stuck"))
    assert hung.connected.wait(5), "the worker never connected"
    stopper = shutdown_in_thread(engine, 0.5)
    # A generous bound: the contract is "returns by the deadline"; speed is measured in bench/.
    stopper.join(10)
    assert not stopper.is_alive()
    assert stopper.result["ok"] is False  # something could not be sent, and it said so


def test_submit_keeps_working_while_the_worker_is_stuck(hung):
    engine = Engine(settings_for(hung.url, only_when_live=False))
    engine.handle(ev.SceneSwitched("Stuck"))
    assert hung.connected.wait(5)
    for n in range(5000):
        engine.handle(ev.SourceVisibilityChanged("Stuck", f"S{n}", True))
    assert engine.status().live is False
    stopper = shutdown_in_thread(engine, 0.3)
    stopper.join(10)
    assert not stopper.is_alive()


def test_quitting_while_a_join_hangs_still_sends_the_leave(engines):
    sandbox = Sandbox(SandboxConfig(quiet=True, join_delay_s=30.0)).start()
    try:
        engine = Engine(settings_for(sandbox.url))
        engine.handle(ev.StreamStarted("Intro"))
        assert sandbox.wait_for_in_flight(1, timeout=5)
        stopper = shutdown_in_thread(engine, 1.5, leave_if_live=True)
        stopper.join(10)
        assert not stopper.is_alive()
        assert sandbox.wait_for(lambda rs: any(r.method == "DELETE" for r in rs), timeout=5)
        assert [r.status for r in of(sandbox, "DELETE", "/v1/streams/mychannel")] == [202]
    finally:
        sandbox.stop()


def test_quitting_while_live_sends_the_leave_first(sandbox):
    engine = Engine(settings_for(sandbox.url, scene_debounce_ms=60_000))
    engine.handle(ev.StreamStarted("Intro"))
    assert engine.wait_idle(10)
    engine.handle(ev.SceneSwitched("Outro"))  # still in its debounce when OBS quits
    assert engine.shutdown(2.0, leave_if_live=True) is True
    tail = [(r.method, r.path) for r in sandbox.requests][-2:]
    assert tail == [("DELETE", "/v1/streams/mychannel"), ("POST", "/v1/events")]


def test_reloading_without_quitting_does_not_leave(sandbox):
    engine = Engine(settings_for(sandbox.url))
    engine.handle(ev.StreamStarted("Intro"))
    assert engine.wait_idle(10)
    assert engine.shutdown(2.0, leave_if_live=False) is True
    assert not of(sandbox, "DELETE", "/v1/streams/mychannel")


def test_a_wrong_key_gives_a_clear_status_and_a_bounded_number_of_requests(sandbox):
    engine = Engine(settings_for(sandbox.url, api_key="wrong-key-123"))
    engine.handle(ev.StreamStarted("Intro"))
    for n in range(30):
        engine.handle(ev.SceneSwitched(f"Scene {n}"))
        engine.handle(ev.TriggerPressed(1))
    assert engine.wait_idle(10)
    engine.shutdown(1.0)
    assert len(sandbox.requests) == 1
    assert "rejected the API key" in engine.status_text()
    assert "wrong-key-123" not in engine.status_text()


def test_settings_changed_while_a_request_is_in_flight_apply_to_the_next_one(sandbox):
    sandbox.set_faults(delay_s=30)  # hold the first request until the settings have changed
    engine = Engine(settings_for(sandbox.url, only_when_live=False))
    try:
        engine.handle(ev.SceneSwitched("Before"))
        assert sandbox.wait_for_in_flight(1, timeout=5)
        engine.reconfigure(
            settings_for(
                sandbox.url, only_when_live=False, event_type="IRL_EVENT", scene_descriptions="After = the new words"
            )
        )
        engine.handle(ev.SceneSwitched("After"))
        sandbox.set_faults(delay_s=0)  # lets the held request go
        assert engine.wait_idle(10)
        sent = of(sandbox, "POST", "/v1/events")
        assert [(r.status, r.body["eventType"], r.body["data"]["content"]) for r in sent] == [
            (200, "GAME_EVENT", "Streamer switched to the 'Before' scene"),
            (200, "IRL_EVENT", "Streamer switched to the 'After' scene — the new words"),
        ]
    finally:
        engine.shutdown(2.0)


def test_a_key_fixed_while_its_rejection_is_in_flight_resends_with_the_new_key(sandbox):
    sandbox.set_faults(delay_s=30)
    engine = Engine(settings_for(sandbox.url, api_key="wrong-key-456", only_when_live=False))
    try:
        engine.handle(ev.SceneSwitched("Held"))
        assert sandbox.wait_for_in_flight(1, timeout=5)
        engine.reconfigure(settings_for(sandbox.url, only_when_live=False))
        sandbox.set_faults(delay_s=0)
        assert engine.wait_idle(10)
        sent = of(sandbox, "POST", "/v1/events")
        assert [(r.status, r.auth) for r in sent] == [(401, "bad key"), (200, "auth ok")]
        assert engine.status().paused_reason == ""
        assert "wrong-key-456" not in engine.status_text()
    finally:
        engine.shutdown(2.0)
