"""What the dock relies on in the engine: request outcomes in the activity feed, pausing automatic sending."""

from __future__ import annotations

import pytest
import responses

from ailicia_core import events as ev
from tests.unit.fake_api import Clock, FakeApi, drive, make_engine


@pytest.fixture
def world():
    """(clock, api): a fake clock and the mocked API answering on it, for engines made by ``make_engine``."""
    fake_clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield fake_clock, FakeApi(mock, fake_clock)


def feed(engine):
    return [(e.kind, e.outcome) for e in engine.activity.since(0)[0]]


def test_each_request_outcome_lands_in_the_feed(world):
    clock, api = world
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.TriggerPressed(1))
    engine.test_connection()
    drive(engine, clock)
    engine.leave_now()
    drive(engine, clock)
    assert sorted(feed(engine)) == sorted(
        [("join", "sent"), ("context", "sent"), ("reaction", "sent"), ("test", "sent"), ("leave", "sent")]
    )
    context = next(e for e in engine.activity.since(0)[0] if e.kind == "context")
    assert "Intro" in context.content


def test_a_refused_context_lands_in_the_feed_as_failed_with_the_reason(world):
    clock, api = world
    api.script("POST", "/v1/events", (422, {"success": False, "message": "bad"}))  # not retryable
    engine = make_engine(clock)
    engine.handle(ev.ManualContext("Refused one"))
    drive(engine, clock)
    entry = engine.activity.latest("context")
    assert (entry.content, entry.outcome) == ("Refused one", "failed")
    assert "422" in entry.detail


def test_the_active_character_comes_from_the_connection_test(world):
    clock, api = world
    engine = make_engine(clock)
    engine.test_connection()
    drive(engine, clock)
    assert engine.status().active_character != ""


def test_pausing_automatic_sending_holds_obs_events_but_not_the_streamers(world):
    clock, api = world
    engine = make_engine(clock, only_when_live=False)
    engine.pause_automatic()
    drive(engine, clock)  # the pause is a command the worker applies in its turn
    assert engine.automatic_paused
    engine.handle(ev.SceneSwitched("Held"))
    engine.handle(ev.SourceVisibilityChanged("Held", "Webcam", False))
    engine.handle(ev.AudioMuteChanged("Mic", True))
    engine.handle(ev.RecordingStarted())
    engine.handle(ev.ManualContext("Still goes"))
    drive(engine, clock)
    assert api.contents() == ["Still goes"]
    engine.resume_automatic()
    engine.handle(ev.SceneSwitched("Back"))
    drive(engine, clock)
    assert api.contents()[-1] == "Streamer switched to the 'Back' scene"


def test_stream_start_still_goes_while_automatic_sending_is_paused(world):
    clock, api = world
    engine = make_engine(clock)
    engine.pause_automatic()
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    assert "/v1/streams/mychannel" in api.paths("POST")
    assert engine.status().live
