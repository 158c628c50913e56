"""The retry policy as one table: failure kind × lane → wait or give up, and the one Retry-After cap.

Each failure is made the way the product makes it: an answer goes through the client's
classifier (:func:`ailicia_core.client.check_response`, whose ``Retry-After`` is read by the
one parser) and the decision comes from the public decision table (:func:`ailicia_core.decide.decide`)
and a lane's runtime state (:class:`ailicia_core.lanes.Lane`).
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from ailicia_core import decide as dt
from ailicia_core import errors as err
from ailicia_core import retry_policy as rp
from ailicia_core.api_bodies import parse_retry_after
from ailicia_core.client import check_response
from ailicia_core.lanes import Lane

NOW = 1000.0
LANE_NAMES = (dt.PRESENCE, dt.REACTIONS, dt.CONTEXT, dt.CHARACTER)


def answer(code, retry_after=None):
    """The error the client raises for an HTTP answer ``code`` (with an optional Retry-After header)."""
    response = requests.Response()
    response.status_code = code
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    with pytest.raises(err.ApiError) as caught:
        check_response(response, "x", "chan")
    return caught.value


def network():
    return err.NetworkError("x", err.UNREACHABLE, may_have_arrived=False)


FAILURES = {
    "network": network,
    "500": lambda: answer(500),
    "503": lambda: answer(503),
    "503 + Retry-After 30": lambda: answer(503, "30"),
    "429": lambda: answer(429),
    "429 + Retry-After 30": lambda: answer(429, "30"),
    "429 + Retry-After 86400": lambda: answer(429, "86400"),
    "401": lambda: answer(401),
    "400": lambda: answer(400),
}

# A first try's outcome, jitter 0 (half of the first backoff ceiling: 1 s → 0.5 s).
# A float is a Retry's wait after NOW; anything else is the exact decision.
EXPECTED = {
    #                            presence            reactions                       context             character
    "network": (0.5, 0.5, 0.5, 0.5),
    "500": (0.5, dt.GiveUp(dt.MAY_HAVE_ARRIVED), 0.5, 0.5),  # a 500 may have acted: a reaction is not sent twice
    "503": (0.5, 0.5, 0.5, 0.5),  # 502/503/504 never reached the application
    "503 + Retry-After 30": (30.0, 30.0, 30.0, 30.0),
    "429": (0.5, 0.5, 0.5, 0.5),
    "429 + Retry-After 30": (30.0, 30.0, 30.0, 30.0),
    "429 + Retry-After 86400": (120.0, 120.0, 120.0, 120.0),  # the one cap
    "401": (dt.Pause(),) * 4,
    "400": (dt.GiveUp(dt.REFUSED),) * 4,
}

TABLE = [
    pytest.param(kind, lane, EXPECTED[kind][i], id=f"{kind}-{lane}")
    for kind in FAILURES
    for i, lane in enumerate(LANE_NAMES)
]


@pytest.mark.parametrize("kind, lane, expected", TABLE)
def test_the_first_failure_on_each_lane(kind, lane, expected):
    error = FAILURES[kind]()
    decision = dt.decide(dt.LANES[lane], error, 1, NOW, jitter=0.0)
    held = Lane(dt.LANES[lane], rng=lambda: 0.0).after(error, 1, NOW)
    assert held == decision  # the lane's runtime state asks the same table
    if isinstance(expected, float):
        assert isinstance(decision, dt.Retry), decision
        assert decision.at - NOW == pytest.approx(expected)
    else:
        assert decision == expected


@pytest.mark.parametrize(
    "lane, tries, rate_limited, cap_s",
    [
        (dt.PRESENCE, rp.MAX_PRESENCE_TRIES, rp.MAX_PRESENCE_RATE_LIMITED_TRIES, rp.PRESENCE_MAX_DELAY_S),
        (dt.REACTIONS, rp.MAX_UNREACHED_TRIES, rp.MAX_RATE_LIMITED_TRIES, rp.MAX_DELAY_S),
        (dt.CONTEXT, rp.MAX_CONTEXT_TRIES, rp.MAX_CONTEXT_RATE_LIMITED_TRIES, rp.MAX_DELAY_S),
        (dt.CHARACTER, rp.MAX_CHARACTER_TRIES, rp.MAX_CHARACTER_RATE_LIMITED_TRIES, rp.MAX_DELAY_S),
    ],
)
def test_each_lane_gives_up_after_its_tries_and_caps_its_backoff(lane, tries, rate_limited, cap_s):
    policy = dt.LANES[lane]
    last_retry = dt.decide(policy, network(), tries - 1, NOW, failures=50, jitter=0.999)
    assert isinstance(last_retry, dt.Retry) and last_retry.at - NOW <= cap_s
    assert dt.decide(policy, network(), tries, NOW) == dt.GiveUp(dt.TOO_MANY_TRIES)
    assert dt.decide(policy, answer(429), rate_limited, NOW) == dt.GiveUp(dt.RATE_LIMITED_TOO_OFTEN)
    # Live with auto-join, presence keeps trying (the other lanes are never asked to).
    assert isinstance(dt.decide(policy, network(), tries, NOW, keep_trying=True), dt.Retry)


def http_date(offset_s):
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=offset_s), usegmt=True)


@pytest.mark.parametrize(
    "value, low, high",
    [
        ("30", 30.0, 30.0),
        ("2.5", 2.5, 2.5),
        ("0", 0.0, 0.0),
        (60, 50.0, 60.0),
        (-60, 0.0, 0.0),  # a date already past: go now
        (86400, rp.MAX_SERVER_WAIT_S, rp.MAX_SERVER_WAIT_S),
        ("86400", rp.MAX_SERVER_WAIT_S, rp.MAX_SERVER_WAIT_S),
        ("1e300", rp.MAX_SERVER_WAIT_S, rp.MAX_SERVER_WAIT_S),
        ("inf", rp.MAX_SERVER_WAIT_S, rp.MAX_SERVER_WAIT_S),
        ("-5", 0.0, 0.0),
        ("-inf", 0.0, 0.0),
    ],
    ids=["seconds", "fraction", "zero", "date", "past date", "far date", "huge", "1e300", "inf", "negative", "-inf"],
)
def test_retry_after_is_read_and_capped_once(value, low, high):
    """A number is seconds from now as an HTTP date (made when the test runs); a string is the header itself."""
    header = http_date(value) if isinstance(value, int) else value
    assert low <= parse_retry_after(header) <= high


@pytest.mark.parametrize("value", [None, "", "  ", "nan", "soon", "Wed, 99 Foo 2015", "30s", "0x10"])
def test_an_absent_or_odd_retry_after_is_no_wait_at_all(value):
    assert parse_retry_after(value) is None


def test_the_cap_keeps_a_wait_the_server_asked_for_at_two_minutes():
    assert rp.MAX_SERVER_WAIT_S == 120.0


def test_the_policy_module_imports_nothing_of_the_product():
    tree = ast.parse(Path(rp.__file__).read_text(encoding="utf-8"))
    imported = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(node) for node in imported] == ["from __future__ import annotations"]
