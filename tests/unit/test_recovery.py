"""Recovery after an outage, with a fake clock: lanes wake on any success, a probe finds ai_licia back, quit sends.

The API here is :class:`OutageApi`: the scripted fake API of the worker tests that,
until ``up_at`` on the fake clock, refuses every connection (or answers a 5xx).
"""

from __future__ import annotations

import logging
import math

import pytest
import requests

from ailicia_core import decide as dt
from ailicia_core import errors as err
from ailicia_core import events as ev
from ailicia_core.backoff import MAX_DELAY_S
from ailicia_core.lanes import PROBE_INTERVAL_S, RECENTLY_ANSWERED_S, Lane, Recovery
from tests.unit.fake_api import Call, Clock, FakeApi, drive, live_engine, make_engine

EVENTS = "/v1/events"
GENERATIONS = "/v1/events/generations"
STREAM = "/v1/streams/mychannel"
CHARACTERS = "/v1/characters"

#: After an outage ends, nothing vital waits longer than this.
VITAL_WITHIN_S = 2.0


class OutageApi(FakeApi):
    """The fake API, down until ``up_at`` (fake clock): refused, or answering ``down_status``."""

    up_at = -math.inf
    down_status = None

    def _answer(self, request):
        if self.clock() >= self.up_at:
            return super()._answer(request)
        self.calls.append(Call(self.clock(), request.method, request.path_url, None))
        if self.down_status is None:
            raise requests.exceptions.ConnectionError("Connection refused")
        return (self.down_status, {}, "")


@pytest.fixture
def down(clock):
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield OutageApi(mock, clock)


def first_answered(api, method, path):
    """The time of the first call to ``method path`` once the API was back."""
    return next(c.t for c in api.calls if c.method == method and c.path == path and c.t >= api.up_at)


def context_times(api, needle):
    return [c.t for c in api.calls if c.path == EVENTS and c.body and needle in c.body["data"]["content"]]


# --- after an outage, nothing vital waits more than 2 s ------------------------------------------


@pytest.mark.parametrize("down_status", [None, 503, 502], ids=["refused", "503", "502"])
@pytest.mark.parametrize("outage_s", [5.0, 20.0, 37.0])  # "Stream started" is given up after its 8th try (~45 s)
def test_after_an_outage_at_stream_start_the_join_and_stream_started_go_within_two_seconds(
    clock, down, down_status, outage_s
):
    down.down_status, down.up_at = down_status, clock.t + outage_s
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=down.up_at)
    assert engine.status().in_chat is not True
    drive(engine, clock, until=down.up_at + 60)
    assert first_answered(down, "POST", STREAM) - down.up_at <= VITAL_WITHIN_S
    assert min(t for t in context_times(down, "Stream started") if t >= down.up_at) - down.up_at <= VITAL_WITHIN_S
    assert engine.status().in_chat is True


def test_after_a_long_outage_the_join_still_goes_within_two_seconds(clock, down):
    down.up_at = clock.t + 1800.0
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=down.up_at + 60, max_turns=20000)
    assert first_answered(down, "POST", STREAM) - down.up_at <= VITAL_WITHIN_S


def test_the_lanes_backoffs_alone_would_have_taken_far_longer(clock, down):
    """The scenario seen in OBS: without wake and probe the join came 10 s after recovery, context 13 s."""
    down.up_at = clock.t + 37.0
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=down.up_at)
    presence, context = engine.worker.delivery.lanes[dt.PRESENCE], engine.worker.delivery.lanes[dt.CONTEXT]
    assert presence.backoff.until - down.up_at > VITAL_WITHIN_S or context.backoff.until - down.up_at > VITAL_WITHIN_S


def test_a_join_that_succeeds_wakes_stream_started_at_once(clock, api):
    engine = make_engine(clock)
    refused = requests.exceptions.ConnectionError("Connection refused")
    api.script("POST", EVENTS, *[refused] * 5)
    api.script("POST", STREAM, *[refused] * 5)
    api.script("GET", CHARACTERS, *[refused] * 100)  # the probe finds nothing: only the join's success wakes
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 120)
    joined_at = [c.t for c in api.calls if c.path == STREAM][-1]
    started = context_times(api, "Stream started")
    assert len(started) == 6 and started[-1] == joined_at  # the same turn's clock: at once


# --- a success wakes every lane held by an outage; a server's wait holds -------------------------


def test_a_reaction_that_succeeds_wakes_context_held_by_an_outage(clock, api):
    engine = live_engine(clock, api, generation_cooldown_s=1)
    api.script("POST", EVENTS, 503, 503, 503, 503)
    engine.handle(ev.SceneSwitched("Held"))  # automatic context: no probe, only the wake
    drive(engine, clock, until=clock.t + 6)
    lane = engine.worker.delivery.lanes[dt.CONTEXT]
    assert lane.blocked(clock.t) and lane.backoff.until - clock.t > 1
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t)
    reaction = next(c.t for c in api.calls if c.path == GENERATIONS)
    assert context_times(api, "Held")[-1] == reaction
    assert not [c for c in api.calls if c.path == CHARACTERS]


def test_a_woken_reaction_goes_at_once_the_pacer_does_not_hold_an_outage(clock, api):
    engine = live_engine(clock, api, generation_cooldown_s=1)
    api.script("POST", GENERATIONS, requests.exceptions.ConnectionError("Connection refused"))
    engine.handle(ev.TriggerPressed(1))
    engine.worker.run_once()
    assert engine.worker.delivery.lanes[dt.REACTIONS].blocked(clock.t)
    engine.handle(ev.ManualContext("back"))
    drive(engine, clock, until=clock.t)
    assert [c.path for c in api.calls] == [GENERATIONS, EVENTS, GENERATIONS]


@pytest.mark.parametrize(
    "answer",
    [(429, "", {"Retry-After": "60"}), 429, (503, "", {"Retry-After": "60"})],
    ids=["429 with Retry-After", "429 alone", "503 with Retry-After"],
)
def test_a_wait_the_server_asked_for_never_ends_early(clock, api, answer):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, answer)
    engine.handle(ev.ManualContext("Asked to wait"))
    engine.worker.run_once()
    held_at = clock.t
    lane = engine.worker.delivery.lanes[dt.CONTEXT]
    until = lane.backoff.until
    assert not lane.outage
    engine.handle(ev.TriggerPressed(1))  # a success on another lane
    engine.leave_now()  # and another
    drive(engine, clock)
    retried = context_times(api, "Asked to wait")
    assert len(retried) == 2 and retried[1] >= until > held_at + 0.4
    assert not [c for c in api.calls if c.path == CHARACTERS], "a lane held by the server's wait never probes"


def test_a_successful_connection_test_wakes_outage_holds_but_not_a_429(clock, api):
    engine = live_engine(clock, api, generation_cooldown_s=1)
    api.script("POST", EVENTS, 503)
    api.script("POST", GENERATIONS, (429, "", {"Retry-After": "60"}))
    engine.handle(ev.SceneSwitched("Outage"))
    engine.handle(ev.TriggerPressed(1))
    engine.worker.run_once()
    engine.worker.run_once()
    delivery = engine.worker.delivery
    assert delivery.lanes[dt.CONTEXT].outage and not delivery.lanes[dt.REACTIONS].outage
    engine.test_connection()
    drive(engine, clock, until=clock.t)
    assert not delivery.lanes[dt.CONTEXT].blocked(clock.t)
    assert delivery.lanes[dt.REACTIONS].blocked(clock.t)


def test_a_woken_lane_that_fails_again_waits_longer_than_before(clock):
    lane = Lane(dt.LANES[dt.CONTEXT], rng=lambda: 0.0)
    outage = err.ServerError("context", status_code=503)
    lane.after(outage, 1, 0.0)
    lane.after(outage, 2, 1.0)
    before = lane.backoff.until - 1.0
    assert lane.wake(1.5) and not lane.blocked(1.5)
    lane.after(outage, 3, 1.5)
    assert lane.backoff.until - 1.5 > before


# --- the probe: bounded, one for all lanes, silent, and the server's wait holds it -----------------


def test_during_a_long_outage_the_probe_is_the_only_extra_request_and_fills_only_silence(clock, down):
    down.up_at = clock.t + 600
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    start = clock.t
    drive(engine, clock, until=start + 600, max_turns=5000)
    times = sorted(c.t for c in down.calls)
    probes = [c.t for c in down.calls if c.path == CHARACTERS]
    assert len(times) <= 600 / (0.75 * PROBE_INTERVAL_S) + 2 * 600 / 7.5
    for probe in probes:  # a probe only after silence: no request of any kind ended just before it
        earlier = [t for t in times if t < probe]
        assert not earlier or probe - max(earlier) >= 0.75 * PROBE_INTERVAL_S - 1e-9


def test_no_probe_when_nothing_vital_waits(clock, api):
    engine = live_engine(clock, api, generation_cooldown_s=1)
    refused = requests.exceptions.ConnectionError("Connection refused")
    api.script("POST", EVENTS, *[refused] * 7)
    api.script("POST", GENERATIONS, *[refused] * 5)
    engine.handle(ev.SceneSwitched("Only automatic"))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t + 300)
    assert not [c for c in api.calls if c.path == CHARACTERS]


@pytest.mark.parametrize("answer", [(429, "", {"Retry-After": "40"}), 429], ids=["Retry-After", "429 alone"])
def test_a_probe_answered_429_stops_probing_for_as_long_as_asked(clock, api, answer):
    engine = make_engine(clock)
    api.script("POST", STREAM, *[503] * 100)
    api.script("GET", CHARACTERS, answer)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 80, max_turns=5000)
    probes = [c.t for c in api.calls if c.path == CHARACTERS]
    asked = 40 if isinstance(answer, tuple) else MAX_DELAY_S
    assert len(probes) >= 2 and probes[1] - probes[0] >= asked


def test_probe_failures_write_no_line_each(clock, down, caplog):
    down.up_at = clock.t + 120
    engine = make_engine(clock)
    with caplog.at_level(logging.INFO, logger="ailicia"):
        engine.handle(ev.StreamStarted("Intro"))
        drive(engine, clock, until=clock.t + 119, max_turns=5000)
    probes = [c for c in down.calls if c.path == CHARACTERS]
    others = [c for c in down.calls if c.path != CHARACTERS]
    assert len(probes) > 40
    assert len(caplog.records) <= len(others) + 5


def test_recovery_is_logged_once_with_the_lanes_it_woke(clock, down, caplog):
    down.up_at = clock.t + 30
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    with caplog.at_level(logging.INFO, logger="ailicia"):
        drive(engine, clock, until=clock.t + 60)
    lines = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert len(lines) == 1 and lines[0].endswith("Context."), lines


def test_a_join_failing_alone_is_not_retried_in_a_loop_while_the_rest_answers(clock, api):
    """A 503 on the join only: each probe succeeds, yet the join goes about twice per backoff, not every second."""
    engine = make_engine(clock)
    api.script("POST", STREAM, *[503] * 1000)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 300, max_turns=5000)
    joins = [c for c in api.calls if c.path == STREAM]
    probes = [c for c in api.calls if c.path == CHARACTERS]
    own_tries = 300 / (dt.LANES[dt.PRESENCE].cap_s / 2)  # the backoff's shortest wait at its cap (jitter 0)
    assert len(joins) <= 2 * own_tries + 6
    assert len(probes) <= own_tries + 6


# --- at quit -----------------------------------------------------------------------------------------


def stubborn_context(clock, api, content):
    """A live engine whose context lane is held by an outage (15 s) after its woken try failed again."""
    engine = live_engine(clock, api, generation_cooldown_s=1)
    api.script("POST", EVENTS, *[503] * 6)
    engine.handle(ev.SceneSwitched(content))
    drive(engine, clock, until=clock.t + 8)  # five failures
    engine.handle(ev.TriggerPressed(1))  # succeeds, wakes context, whose woken try fails again
    drive(engine, clock, until=clock.t)
    lane = engine.worker.delivery.lanes[dt.CONTEXT]
    assert lane.stubborn and lane.backoff.until - clock.t > RECENTLY_ANSWERED_S + 1
    return engine


def test_at_quit_context_held_by_an_outage_goes_when_ai_licia_just_answered(clock, api):
    engine = stubborn_context(clock, api, "Held by an outage")
    clock.t += RECENTLY_ANSWERED_S - 1
    sent = len(context_times(api, "Held by an outage"))
    assert engine.shutdown(2.0) is True
    assert len(context_times(api, "Held by an outage")) == sent + 1


def test_at_quit_context_held_by_an_outage_waits_when_ai_licia_has_not_answered_lately(clock, api, caplog):
    engine = stubborn_context(clock, api, "Still held")
    clock.t += RECENTLY_ANSWERED_S + 1
    assert engine.worker.delivery.lanes[dt.CONTEXT].blocked(clock.t)
    sent = len(context_times(api, "Still held"))
    with caplog.at_level(logging.WARNING, logger="ailicia"):
        assert engine.shutdown(2.0) is False
    assert len(context_times(api, "Still held")) == sent
    assert "could not be sent in time" in caplog.text


def test_at_quit_the_leaves_answer_lets_stream_started_go(clock, down, caplog):
    """The scenario seen in OBS: context waited on its backoff at quit; the leave's 200 lets it go."""
    down.up_at = clock.t + 20
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=down.up_at - 0.01)
    assert engine.worker.delivery.lanes[dt.CONTEXT].backoff.until > down.up_at + 5
    clock.t = down.up_at  # back, and nothing has asked yet: quit while live
    with caplog.at_level(logging.WARNING, logger="ailicia"):
        assert engine.shutdown(2.0, leave_if_live=True) is True
    assert [c.method for c in down.calls if c.t >= down.up_at] == ["DELETE", "POST"]
    assert context_times(down, "Stream started")[-1] == down.up_at
    assert "could not be sent in time" not in caplog.text


def test_at_quit_a_429_still_holds_context_even_after_a_success(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, (429, "", {"Retry-After": "60"}))
    engine.handle(ev.ManualContext("Rate limited"))
    engine.worker.run_once()
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t + 1)
    assert engine.shutdown(2.0) is False
    assert len(context_times(api, "Rate limited")) == 1


# --- Recovery itself ------------------------------------------------------------------------------


def test_recovery_wakes_only_outage_holds_and_remembers_when_it_heard_back():
    clock = Clock(0.0)
    lanes = {name: Lane(policy, rng=lambda: 0.0) for name, policy in dt.LANES.items()}
    recovery = Recovery(clock, lambda: 0.0, lanes)
    lanes[dt.CONTEXT].after(err.NetworkError("context", err.UNREACHABLE, may_have_arrived=False), 1, 0.0)
    lanes[dt.REACTIONS].after(err.RateLimitedError("reaction", err.RATE_LIMITED, retry_after=30.0), 1, 0.0)
    lanes[dt.PRESENCE].after(err.ServerError("join", status_code=500, retry_after=10.0), 1, 0.0)
    clock.t = 0.2
    lanes[dt.CHARACTER].succeeded()
    assert recovery.answered_at == 0.2
    assert not lanes[dt.CONTEXT].blocked(0.2)
    assert lanes[dt.REACTIONS].blocked(0.2) and lanes[dt.PRESENCE].blocked(0.2)


@pytest.mark.parametrize(
    ("again", "stubborn"),
    [
        (err.ServerError("context", status_code=500), True),
        (err.NetworkError("context", err.READ_TIMEOUT), True),
        (err.NetworkError("context", err.UNREACHABLE, may_have_arrived=False), False),
        (err.NetworkError("context", err.CONNECT_TIMEOUT, may_have_arrived=False), False),
    ],
    ids=["5xx", "read timeout", "refused", "connect timeout"],
)
def test_a_woken_try_that_fails_at_its_endpoint_is_stubborn_but_a_refused_host_is_an_outage_again(again, stubborn):
    lane = Lane(dt.LANES[dt.CONTEXT], rng=lambda: 0.0)
    lane.after(err.ServerError("context", status_code=503), 1, 0.0)
    assert lane.wake(0.1)
    lane.after(again, 2, 0.1)
    assert lane.stubborn is stubborn
    assert lane.wakeable(0.2) is not stubborn
    lane.after(again, 3, 5.0)  # its own next try: wakeable again either way
    assert lane.wakeable(5.1)


def test_a_probe_answered_401_pauses_sending_like_any_401(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, 503, 503, 503)
    api.script("GET", CHARACTERS, 401)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock, until=clock.t + 30)
    assert [c.path for c in api.calls].count(CHARACTERS) == 1
    assert "rejected the API key" in engine.status_text()
