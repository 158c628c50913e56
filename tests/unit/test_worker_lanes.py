"""The delivery core, with a fake clock: lanes, guards, merging, never-dropped context."""

from __future__ import annotations

import logging
import threading

import pytest
import requests

from ailicia_core import decide as dt
from ailicia_core import events as ev
from ailicia_core.engine import Engine
from ailicia_core.outbox import AUTOMATIC_CAPACITY
from tests.unit.fake_api import BASE, KEY, drive, live_engine, make_engine

EVENTS = "/v1/events"
GENERATIONS = "/v1/events/generations"
STREAM = "/v1/streams/mychannel"


# --- lanes --------------------------------------------------------------------------------


def test_a_context_429_with_a_huge_retry_after_holds_only_context_and_says_so(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, (429, "", {"Retry-After": "3600"}))
    engine.handle(ev.SceneSwitched("Limited"))
    engine.worker.run_once()
    limited_at = clock.t
    engine.handle(ev.TriggerPressed(1))
    engine.handle(ev.StreamStopped())
    drive(engine, clock, until=clock.t + 1)
    sent = [(c.method, c.path) for c in api.calls]
    # The reaction and the leave go at once; only context waits.
    assert ("POST", GENERATIONS) in sent and ("DELETE", STREAM) in sent
    waits = engine.status().waits
    assert waits == ("Context paused for 2 min after 'too many requests'.",)
    assert "Too many reactions" not in engine.status_text()
    drive(engine, clock)
    retried = [c for c in api.calls if c.path == EVENTS and "Limited" in c.body["data"]["content"]]
    assert len(retried) == 2 and retried[1].t - limited_at == pytest.approx(dt.MAX_SERVER_WAIT_S)


def test_a_reaction_429_does_not_hold_context_or_presence(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", GENERATIONS, (429, "", {"Retry-After": "90"}))
    engine.handle(ev.TriggerPressed(1))
    engine.worker.run_once()
    engine.handle(ev.SceneSwitched("Right away"))
    engine.leave_now()
    drive(engine, clock, until=clock.t + 1)
    assert ("POST", EVENTS) in [(c.method, c.path) for c in api.calls]
    assert ("DELETE", STREAM) in [(c.method, c.path) for c in api.calls]
    assert [w.split(" after ")[1] for w in engine.status().waits] == ["'too many requests'."]
    assert engine.status().waits[0].startswith("Reactions paused for ")


def test_an_outage_at_stream_start_keeps_asking_to_join_until_the_api_is_back(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, *[requests.exceptions.ConnectionError("Connection refused")] * 12)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 600)
    joins = [c for c in api.calls if c.path == STREAM]
    assert len(joins) == 13  # 12 refused, then she joins: never given up while live
    gaps = [b.t - a.t for a, b in zip(joins, joins[1:], strict=False)]
    assert max(gaps) <= dt.LANES[dt.PRESENCE].cap_s
    assert engine.status().in_chat is True


def test_while_the_join_keeps_failing_the_status_says_it_keeps_asking(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, *[503] * 30)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 60)
    presence = engine.status().presence
    assert "Asking again in" in presence and "for as long as the stream is live" in presence
    assert " 0 s" not in engine.status_text()


def test_no_status_line_ever_says_zero_seconds(clock, api):
    engine = live_engine(clock, api, generation_cooldown_s=1)
    api.script("POST", EVENTS, 503, 503)
    engine.handle(ev.SceneSwitched("X"))
    engine.handle(ev.TriggerPressed(1))
    engine.handle(ev.TriggerPressed(2))
    for _ in range(10):
        engine.worker.run_once()
        clock.t += 0.49
        assert " 0 s" not in engine.status_text()


# --- a worker that cannot die ----------------------------------------------------------------


@pytest.mark.parametrize(
    "odd",
    [
        ev.SceneSwitched(None),
        ev.SceneSwitched(42),
        ev.SourceVisibilityChanged(None, 3, True),
        ev.AudioMuteChanged(None, True, None),
        ev.TriggerPressed(None),
        None,
        42,
        "scene",
    ],
)
def test_an_odd_event_is_dropped_and_logged_once_and_the_worker_goes_on(clock, api, caplog, odd):
    engine = live_engine(clock, api)
    with caplog.at_level(logging.WARNING, logger="ailicia"):
        engine.handle(odd)
        engine.handle(odd)
        engine.handle(ev.ManualContext("still here"))
        drive(engine, clock)
    assert api.contents()[-1] == "still here"
    kind = type(odd).__name__
    lines = [r.getMessage() for r in caplog.records if kind in r.getMessage()]
    assert len(lines) <= 1
    assert "Traceback" not in caplog.text


def test_a_thread_that_ends_unexpectedly_is_reported_and_restarted_by_the_next_event(clock, api):
    engine = make_engine(clock)
    worker = engine.worker
    died = threading.Event()
    original = worker.run_once

    def explode():
        died.set()
        raise SystemExit("simulated death outside every guard")

    worker.run_once = explode
    worker.start()
    assert died.wait(5)
    worker._thread.join(5)
    assert not worker._thread.is_alive()
    assert "stopped unexpectedly" in engine.status_text()
    worker.run_once = original
    engine.handle(ev.ManualContext("after the restart"))
    assert engine.wait_idle(5)
    assert worker._thread.is_alive()
    assert api.contents() == ["after the restart"]
    assert "stopped unexpectedly" not in engine.status_text()
    engine.shutdown(1.0)


def test_handle_after_shutdown_is_refused_and_logged_once(clock, api, caplog):
    engine = make_engine(clock)
    engine.shutdown(0.5)
    with caplog.at_level(logging.WARNING, logger="ailicia"):
        for _ in range(3):
            engine.handle(ev.ManualContext("too late"))
    assert [r.getMessage() for r in caplog.records] == ["ai_licia-obs has stopped; ignored a ManualContext."]
    assert api.calls == []


@pytest.mark.parametrize("timeout", [float("inf"), float("-inf"), float("nan"), -1.0, 0.0, 1e308, 1.4])
def test_shutdown_takes_any_float_and_never_raises(timeout):
    engine = Engine({"api_key": KEY, "channel": "mychannel", "api_base_url": "http://127.0.0.1:9"})
    assert engine.shutdown(timeout) in (True, False)
    engine.worker._thread.join(2.5)  # its deadline (at most 1.4 s here) plus 1 s
    assert not engine.worker._thread.is_alive()


# --- never dropped means never dropped -----------------------------------------------------------


def test_outbox_overflow_drops_only_automatic_context_never_stream_or_manual(clock, api):
    engine = make_engine(clock, only_when_live=False)
    api.script("POST", EVENTS, *[503] * 3)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.ManualContext("Manual one"))
    for n in range(AUTOMATIC_CAPACITY + 40):
        engine.handle(ev.SourceVisibilityChanged("Intro", f"S{n}", True))
        engine.worker.run_once()
    engine.handle(ev.StreamStopped())
    drive(engine, clock)
    sent = api.contents()
    assert "Manual one" in sent
    assert any(c.startswith("Stream started") for c in sent) and any(c.startswith("Stream ended") for c in sent)
    assert engine.status().dropped_context == 40
    assert not any(c.startswith("'S0'") for c in sent)


def test_two_hundred_thousand_presses_while_stuck_are_one_merged_item(clock, api):
    engine = make_engine(clock)
    for _ in range(200_000):
        engine.handle(ev.TriggerPressed(1))
    assert len(engine.worker._inbox) == 1
    drive(engine, clock)
    assert len(api.contents(GENERATIONS)) == 1
    assert "200000 presses" in engine.status().last_success


def test_a_huge_event_type_is_never_sent_verbatim(clock, api):
    engine = live_engine(clock, api, event_type="X" * 100_000)
    engine.handle(ev.ManualContext("labelled"))
    engine.handle(ev.ManualGeneration("react"))
    drive(engine, clock)
    assert api.calls and all(len(c.body["eventType"]) <= 64 for c in api.calls if c.body)


# --- pause, key rejected elsewhere, activity ----------------------------------------------------


def test_pause_automatic_stops_automatic_context_but_not_manual_or_reactions(clock, api):
    engine = live_engine(clock, api)
    engine.pause_automatic()
    engine.handle(ev.SceneSwitched("Hidden"))
    engine.handle(ev.ManualContext("Typed by hand"))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    assert api.contents() == ["Typed by hand"] and len(api.contents(GENERATIONS)) == 1
    assert "Paused by you: automatic context is not sent." in engine.status_text()
    engine.resume_automatic()
    engine.handle(ev.SceneSwitched("Shown"))
    drive(engine, clock)
    assert api.contents()[-1] == "Streamer switched to the 'Shown' scene"
    assert "Paused by you" not in engine.status_text()


def test_report_key_rejected_pauses_delivery_like_its_own_401(clock, api):
    engine = live_engine(clock, api)
    engine.report_key_rejected()
    engine.handle(ev.ManualContext("held"))
    drive(engine, clock)
    assert api.calls == []
    text = engine.status_text()
    assert text.count("rejected the API key") == 1
    engine.reconfigure(
        {"api_key": "another-key-77", "channel": "mychannel", "api_base_url": BASE, "scene_debounce_ms": 0}
    )
    engine.handle(ev.ManualContext("after the fix"))
    drive(engine, clock)
    assert api.contents() == ["after the fix"]


def test_the_401_sentence_appears_once_in_the_status(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 401)
    engine.handle(ev.ManualContext("x"))
    engine.test_connection()
    api.script("GET", "/v1/characters", 401)
    drive(engine, clock)
    assert engine.status_text().count("rejected the API key") == 1


def test_each_request_outcome_reaches_the_activity_feed(clock, api):
    engine = make_engine(clock)
    api.script("POST", GENERATIONS, requests.exceptions.ReadTimeout("slow"))
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.TriggerPressed(1))
    engine.test_connection()
    drive(engine, clock)
    entries, _ = engine.activity.since(0)
    seen = {(e.kind, e.outcome) for e in entries}
    assert {("join", "sent"), ("context", "sent"), ("reaction", "failed"), ("test", "sent")} <= seen
    assert all(e.detail for e in entries)


def test_dry_run_never_says_sent_or_asked_to_leave(clock, api, caplog):
    engine = make_engine(clock, dry_run=True)
    with caplog.at_level(logging.INFO, logger="ailicia"):
        engine.handle(ev.StreamStarted("Intro"))
        engine.handle(ev.TriggerPressed(1))
        drive(engine, clock)
        engine.handle(ev.StreamStopped())
        drive(engine, clock)
    assert api.calls == []
    said = caplog.text + engine.status_text()
    assert "Sent " not in said and "asked to leave" not in said.replace("would have been asked to leave", "")


def test_a_key_pasted_into_the_channel_box_is_never_quoted_back_in_any_case(clock, api):
    key = "AbCdEf123456GhIj"  # letters and digits only: as a channel it passes the login check, lowercased
    engine = make_engine(clock, api_key=key, channel=key)
    api.script("POST", "/v1/events", 401)
    engine.handle(ev.ManualContext("x"))
    drive(engine, clock)
    text = engine.status_text() + " ".join(e.detail for e in engine.activity.since(0)[0])
    assert "rejected the API key for channel '***'" in text
    assert key.lower() not in text.lower(), text
