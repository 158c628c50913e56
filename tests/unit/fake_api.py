"""A scripted ai_licia API on top of ``responses``, and a fake clock, for worker tests.

Each request is recorded with the fake clock's time, so pacing and backoff can be
asserted exactly without any real waiting.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Optional

import requests
import responses

from ailicia_core.engine import Engine

BASE = "https://api.example.test"
KEY = "test-key-5f1e9c"
ENDPOINTS = (
    ("POST", "/v1/events"),
    ("POST", "/v1/events/generations"),
    ("POST", "/v1/streams/mychannel"),
    ("DELETE", "/v1/streams/mychannel"),
    ("GET", "/v1/characters"),
)
JOINED = {
    "success": True,
    "message": "AI successfully joined channel",
    "joinedAt": 1739982392000,
    "channelId": "ch_123",
}
ALREADY = {"success": True, "message": "AI already in channel", "alreadyJoined": True}
TIMED_OUT = {
    "success": False,
    "message": "Join request sent but AI join confirmation timed out after 10 seconds",
    "timeout": True,
    "joinRequestId": "req_xyz",
}
CHARACTERS = [{"id": "char_123", "name": "Captain Vibes", "description": "", "isActive": True}]


class Clock:
    """Monotonic seconds that only move when a test moves them."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


@dataclass(frozen=True)
class Call:
    t: float
    method: str
    path: str
    body: Any


class FakeApi:
    """Answers each endpoint from a per-endpoint script (default: the documented success)."""

    def __init__(self, mock: responses.RequestsMock, clock: Clock) -> None:
        self.clock = clock
        self.calls: list = []
        self._scripts: dict = defaultdict(deque)
        for method, path in ENDPOINTS:
            mock.add_callback(method, BASE + path, callback=self._answer)

    def script(self, method: str, path: str, *answers: Any) -> None:
        """Queue answers: an int status, (status, body[, headers]), or an exception to raise."""
        self._scripts[(method, path)].extend(answers)

    def paths(self, method: Optional[str] = None) -> list:
        return [c.path for c in self.calls if method is None or c.method == method]

    def contents(self, path: str = "/v1/events") -> list:
        return [c.body["data"]["content"] for c in self.calls if c.path == path]

    def _answer(self, request: requests.PreparedRequest):
        path = request.path_url
        body = json.loads(request.body) if request.body else None
        self.calls.append(Call(self.clock(), request.method, path, body))
        script = self._scripts[(request.method, path)]
        answer = script.popleft() if script else None
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            return self._default(request.method, path)
        if isinstance(answer, int):
            return (answer, {}, "")
        status, payload, *rest = answer
        headers = rest[0] if rest else {}
        return (status, headers, payload if isinstance(payload, str) else json.dumps(payload))

    @staticmethod
    def _default(method: str, path: str):
        if path.startswith("/v1/streams/"):
            return (200, {}, json.dumps(JOINED)) if method == "POST" else (202, {}, "")
        if path == "/v1/characters":
            return (200, {}, json.dumps(CHARACTERS))
        return (200, {}, "{}")


def make_engine(clock: Clock, **overrides: Any) -> Engine:
    """An engine with no thread (driven by :func:`drive`), jitter fixed at its minimum."""
    settings = {"api_key": KEY, "channel": "mychannel", "api_base_url": BASE, "scene_debounce_ms": 0}
    settings.update(overrides)
    return Engine(settings, clock=clock, wall_clock=lambda: 0.0, rng=lambda: 0.0, start=False)


def drive(engine: Engine, clock: Clock, until: Optional[float] = None, max_turns: int = 500) -> None:
    """Run the worker's turns, jumping the fake clock to each next due time (not past ``until``)."""
    for _ in range(max_turns):
        due = engine.worker.run_once()
        if due is None:
            return
        if due > clock.t:
            if until is not None and due > until:
                clock.t = until
                engine.worker.run_once()
                return
            clock.t = due
    raise AssertionError("the worker never went idle")


def live_engine(clock: Clock, api: FakeApi, **overrides: Any) -> Engine:
    """An engine that already went live (join and start context sent), calls cleared."""
    from ailicia_core import events as ev

    engine = make_engine(clock, **overrides)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    api.calls.clear()
    return engine
