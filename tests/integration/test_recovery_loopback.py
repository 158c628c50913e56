"""Recovery over real HTTP on loopback: the sandbox goes down and comes back; nothing vital waits more than 2 s.

Two outages: the sandbox stopped (connections refused) and started again on the
same port, and the sandbox answering 503 to everything (``fail_first``) until it
is switched off. Times come from the sandbox's request log (wall clock at
arrival), never from sleeps: recovery is the moment just before the sandbox
could answer again, so the measured delay is an upper bound.
"""

from __future__ import annotations

import time

import pytest

from ailicia_core import decide as dt
from ailicia_core import events as ev
from ailicia_core.engine import Engine
from ailicia_core.lanes import PROBE_INTERVAL_S
from ailicia_core.sandbox import Sandbox, SandboxConfig

KEY = "sandbox-key"
STREAM = "/v1/streams/mychannel"
EVENTS = "/v1/events"
CHARACTERS = "/v1/characters"
#: After an outage ends, nothing vital waits longer than this.
VITAL_WITHIN_S = 2.0
#: Long enough for the lanes' backoffs to grow past 2 s (the third failure waits 2-4 s).
FAILURES_BEFORE_RECOVERY = 4


def settings_for(url: str):
    return {
        "api_key": KEY,
        "channel": "mychannel",
        "api_base_url": url,
        "scene_debounce_ms": 0,
        "generation_cooldown_s": 1,
        "eventsub_enabled": False,  # the listener's own requests are not what is measured here
    }


def new_sandbox(port: int = 0, **faults) -> Sandbox:
    return Sandbox(SandboxConfig(port=port, quiet=True, generation_window_s=1.0, join_delay_s=0.05, **faults))


@pytest.fixture
def engines():
    started = []
    yield started
    for engine in started:
        engine.shutdown(timeout=2.0)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.02)


def stream_started(r) -> bool:
    return r.method == "POST" and r.path == EVENTS and "Stream started" in str(r.body)


def first_ok(sandbox: Sandbox, predicate, timeout: float = 20.0):
    assert sandbox.wait_for(lambda rs: any(predicate(r) and r.status == 200 for r in rs), timeout), [
        (r.method, r.path, r.status) for r in sandbox.requests
    ]
    return next(r for r in sandbox.requests if predicate(r) and r.status == 200)


def test_sandbox_down_then_up_stream_started_and_the_join_within_two_seconds(engines):
    first = new_sandbox().start()
    port, url = first.port, first.url
    first.stop()  # down: every connection is refused
    engine = Engine(settings_for(url))
    engines.append(engine)
    engine.handle(ev.StreamStarted("Intro"))
    lanes = engine.worker.delivery.lanes
    wait_until(
        lambda: (
            min(lanes[dt.CONTEXT].backoff.failures, lanes[dt.PRESENCE].backoff.failures) >= FAILURES_BEFORE_RECOVERY
        ),
        30,
        "the join and the context to fail while the API is down",
    )
    up_at = time.time()
    back = new_sandbox(port).start()  # the same address, answering again
    try:
        started = first_ok(back, stream_started)
        joined = first_ok(back, lambda r: r.method == "POST" and r.path == STREAM)
        print(f"refused outage: 'Stream started' {started.t - up_at:.2f} s, join {joined.t - up_at:.2f} s after")
        assert started.t - up_at <= VITAL_WITHIN_S
        assert joined.t - up_at <= VITAL_WITHIN_S
        assert engine.wait_idle(10)
        assert engine.status().in_chat is True
    finally:
        back.stop()


def test_sandbox_answering_503_then_well_stream_started_within_two_seconds_and_probes_bounded(engines):
    sandbox = new_sandbox(fail_first=10**9).start()
    try:
        engine = Engine(settings_for(sandbox.url))
        engines.append(engine)
        engine.handle(ev.StreamStarted("Intro"))
        assert sandbox.wait_for(lambda rs: sum(stream_started(r) for r in rs) >= FAILURES_BEFORE_RECOVERY, 30), (
            "the context never failed often enough"
        )
        down_since = sandbox.requests[0].t
        up_at = time.time()
        sandbox.set_faults(fail_first=0)
        during = [r for r in sandbox.requests if r.t < up_at]
        started = first_ok(sandbox, stream_started)
        print(f"503 outage: 'Stream started' {started.t - up_at:.2f} s after; {len(during)} requests while down")
        assert started.t - up_at <= VITAL_WITHIN_S
        # Bounded: beyond the lanes' own backoffs, at most one probe per 0.75 interval of silence.
        probes = [r for r in during if r.path == CHARACTERS]
        assert len(probes) <= (up_at - down_since) / (0.75 * PROBE_INTERVAL_S) + 1
        assert all(r.status == 503 for r in during)
    finally:
        sandbox.stop()


def test_a_429_retry_after_is_not_shortened_by_a_reaction_that_succeeds(engines):
    sandbox = new_sandbox(context_429_first=1, context_retry_after_s=3.0).start()
    try:
        engine = Engine(settings_for(sandbox.url))
        engines.append(engine)
        engine.handle(ev.StreamStarted("Intro"))
        assert sandbox.wait_for(lambda rs: any(r.status == 429 for r in rs), 10)
        limited = next(r for r in sandbox.requests if r.status == 429)
        engine.handle(ev.TriggerPressed(1))  # a success on another lane while context waits
        reaction = first_ok(sandbox, lambda r: r.path == "/v1/events/generations")
        started = first_ok(sandbox, stream_started)
        assert limited.t < reaction.t < started.t
        assert started.t - limited.t >= 3.0 - 0.05  # the server's wait, whatever succeeded meanwhile
    finally:
        sandbox.stop()
