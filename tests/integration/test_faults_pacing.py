"""The fault table, property: no two generations reach ai_licia closer than the cooldown.

Hypothesis draws a cooldown, press timings, how long each request takes, and how
ai_licia answers each generation (accepted, 429 with or without Retry-After,
503, refused, read timeout, cut off, 422). The real engine runs without its
thread on a fake clock (as in ``tests/unit/test_worker.py``), so hours of
pressing take milliseconds; ``responses`` stands in for the network.

The property is about what ai_licia may have counted: every generation request
that reached her (everything but a refused connection or a 503, which means it was
not processed) starts at least one cooldown after the previous one *ended*. The
server counts from arrival, which may be as late as the end of the request.
The content and normalization properties live in ``tests/unit/test_properties.py``.
"""

from __future__ import annotations

from typing import Any, List, Tuple

import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ailicia_core import events as ev
from ailicia_core.decide import MAX_UNREACHED_TRIES
from tests.unit.fake_api import Clock, FakeApi, drive, make_engine

GENERATIONS = "/v1/events/generations"

#: How ai_licia (or the network) may answer one generation, and whether it reached her.
ANSWERS = {
    "accepted": (None, True),
    "429 Retry-After 40": ((429, "", {"Retry-After": "40"}), True),
    "429 Retry-After 1": ((429, "", {"Retry-After": "1"}), True),
    "429 no Retry-After": (429, True),
    "422": (422, True),
    "503": (503, False),
    "refused": (requests.exceptions.ConnectionError("Connection refused"), False),
    "read timeout": (requests.exceptions.ReadTimeout("slow"), True),
    "cut off": (requests.exceptions.ChunkedEncodingError("IncompleteRead"), True),
}


class TimedApi(FakeApi):
    """:class:`FakeApi` whose every request takes ``duration`` seconds of the fake clock."""

    def __init__(self, mock: responses.RequestsMock, clock: Clock, duration: float) -> None:
        super().__init__(mock, clock)
        self.duration = duration

    def _answer(self, request: requests.PreparedRequest):
        try:
            return super()._answer(request)
        finally:
            self.clock.t += self.duration


presses = st.lists(
    st.tuples(
        st.floats(0, 90, allow_nan=False),  # seconds after the previous press
        st.one_of(
            st.sampled_from(["hype", "roast", "welcome"]).map(ev.ManualGeneration),
            st.integers(1, 3).map(ev.TriggerPressed),
        ),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cooldown=st.integers(1, 60),
    timings=presses,
    answers=st.lists(st.sampled_from(sorted(ANSWERS)), max_size=25),
    duration=st.sampled_from([0.0, 0.05, 1.0, 9.9]),
)
def test_no_two_generations_reach_ai_licia_closer_than_the_cooldown(cooldown, timings, answers, duration):
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        api = TimedApi(mock, clock, duration)
        api.script("POST", GENERATIONS, *[ANSWERS[name][0] or (200, "{}") for name in answers])
        engine = make_engine(clock, generation_cooldown_s=cooldown, only_when_live=False)
        for gap, event in timings:
            drive(engine, clock, until=clock.t + gap, max_turns=2000)
            engine.handle(event)
        drive(engine, clock, max_turns=2000)
    sent = [call for call in api.calls if call.path == GENERATIONS]
    reached: List[Tuple[float, Any]] = [
        (call.t, call.body) for n, call in enumerate(sent) if n >= len(answers) or ANSWERS[answers[n]][1]
    ]
    starts = [t for t, _ in reached]
    gaps = [next_start - (start + duration) for start, next_start in zip(starts, starts[1:], strict=False)]
    assert all(gap >= cooldown - 1e-9 for gap in gaps), (cooldown, gaps)
    # And no storm: each press costs a bounded number of requests, whatever the answers.
    assert len(sent) <= len(timings) * MAX_UNREACHED_TRIES
