"""The decision table, as a table: lane × failure × attempts → Retry / GiveUp / Pause."""

from __future__ import annotations

import pytest

from ailicia_core import decide as dt
from ailicia_core import errors as err
from ailicia_core.api_bodies import parse_retry_after

NOW = 1000.0


def net(reason=err.UNREACHABLE, arrived=False):
    return err.NetworkError("x", reason, may_have_arrived=arrived)


def server(code=503):
    return err.ServerError("x", status_code=code)


def limited(retry_after=None):
    """A 429 as the client raises it: its ``Retry-After`` read (and capped) by the one parser."""
    wait = None if retry_after is None else parse_retry_after(str(retry_after))
    return err.RateLimitedError("x", err.RATE_LIMITED, status_code=429, retry_after=wait)


P, R, C, CH = (dt.LANES[name] for name in (dt.PRESENCE, dt.REACTIONS, dt.CONTEXT, dt.CHARACTER))

TABLE = [
    # lane, error, attempts, keep_trying, expected (a Retry's wait after NOW, jitter 0 → half the ceiling)
    (C, err.AuthError("x", err.KEY_REJECTED, status_code=401), 1, False, dt.Pause()),
    (R, err.AuthError("x", err.KEY_REJECTED, status_code=401), 1, False, dt.Pause()),
    (P, err.AuthError("x", err.KEY_REJECTED, status_code=401), 1, True, dt.Pause()),
    (C, err.ContentRejectedError("x", err.INVALID, status_code=422), 1, False, dt.GiveUp(dt.REFUSED)),
    (C, err.ForbiddenError("x", err.NOT_LINKED, status_code=403), 1, False, dt.GiveUp(dt.REFUSED)),
    (P, err.NotFoundError("x", err.CHANNEL_NOT_FOUND, status_code=404), 1, True, dt.GiveUp(dt.REFUSED)),
    (C, err.UnexpectedResponseError("x", err.REDIRECT, status_code=302), 1, False, dt.GiveUp(dt.REFUSED)),
    (C, err.BadResponseError("x", err.TOO_LARGE), 1, False, dt.GiveUp(dt.REFUSED)),
    (C, err.UnexpectedResponseError("x", err.UNEXPECTED_STATUS, status_code=408), 1, False, 0.5),
    (C, server(503), 1, False, 0.5),
    (C, server(503), 2, False, 1.0),
    (C, server(503), 3, False, 2.0),
    (C, server(503), 20, False, dt.GiveUp(dt.TOO_MANY_TRIES)),
    (C, server(503), C.max_attempts - 1, False, 15.0),  # capped: 30 s ceiling
    (C, net(), 1, False, 0.5),
    (C, err.BadResponseError("x", err.WEB_PAGE, retryable=True, may_have_arrived=False), 1, False, 0.5),
    (C, limited(), 1, False, 0.5),
    (C, limited(2.0), 1, False, 2.0),
    (C, limited(3600.0), 1, False, dt.MAX_SERVER_WAIT_S),  # capped at 120 s
    (C, limited(float("nan")), 1, False, 0.5),
    (C, limited(-5.0), 1, False, 0.5),  # never "0 s": at least half the base
    (C, limited(), C.max_rate_limited, False, dt.GiveUp(dt.RATE_LIMITED_TOO_OFTEN)),
    (R, limited(40.0), 1, False, 40.0),
    (R, limited(), R.max_rate_limited, False, dt.GiveUp(dt.RATE_LIMITED_TOO_OFTEN)),
    (R, net(err.READ_TIMEOUT, arrived=True), 1, False, dt.GiveUp(dt.MAY_HAVE_ARRIVED)),
    (R, server(500), 1, False, dt.GiveUp(dt.MAY_HAVE_ARRIVED)),
    (R, net(err.UNREACHABLE), 1, False, 0.5),
    (R, net(err.UNREACHABLE), R.max_attempts, False, dt.GiveUp(dt.TOO_MANY_TRIES)),
    (C, net(err.READ_TIMEOUT, arrived=True), 1, False, 0.5),  # context may arrive twice: harmless
    (P, net(), P.max_attempts, False, dt.GiveUp(dt.TOO_MANY_TRIES)),
    (P, net(), P.max_attempts, True, 7.5),  # live with auto_join: never gives up...
    (P, server(502), 500, True, 7.5),  # ...with capped backoff (15 s ceiling)
    (P, limited(10_000.0), 500, True, dt.MAX_SERVER_WAIT_S),
    (CH, server(503), 1, False, 0.5),
    (CH, err.AuthError("x", err.KEY_REJECTED, status_code=401), 1, False, dt.Pause()),
]


@pytest.mark.parametrize("lane, error, attempts, keep_trying, expected", TABLE)
def test_the_decision_table(lane, error, attempts, keep_trying, expected):
    decision = dt.decide(lane, error, attempts, NOW, jitter=0.0, keep_trying=keep_trying)
    if isinstance(expected, float):
        assert isinstance(decision, dt.Retry), decision
        assert decision.at - NOW == pytest.approx(expected)
        assert decision.reason == error.reason
    else:
        assert decision == expected


def test_every_wait_is_capped_and_positive_whatever_the_server_says():
    for retry_after in (0.0, -1.0, 1e9, float("inf"), float("nan"), 30.0):
        for lane in dt.LANES.values():
            decision = dt.decide(lane, limited(retry_after), 1, NOW, jitter=0.999)
            assert isinstance(decision, dt.Retry)
            assert 0 < decision.at - NOW <= dt.MAX_SERVER_WAIT_S


def test_the_lane_backoff_uses_the_lanes_failures_not_only_this_items_tries():
    decision = dt.decide(dt.LANES[dt.CONTEXT], server(), 1, NOW, failures=4, jitter=0.0)
    assert decision == dt.Retry(NOW + 4.0, err.SERVER)


def test_a_fourth_lane_is_one_more_entry():
    assert set(dt.LANES) == {dt.PRESENCE, dt.REACTIONS, dt.CONTEXT, dt.CHARACTER}
    assert all(lane.label for lane in dt.LANES.values())
