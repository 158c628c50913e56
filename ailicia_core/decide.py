"""The decision table: what to do after a request failed, for every lane. Pure: no clock, no I/O.

Modelled on openai-python's ``_should_retry`` / ``_calculate_retry_timeout`` (retry
connection errors, 408/409/429 and 5xx; honour a sane ``Retry-After``, otherwise
exponential backoff with jitter) and slack-sdk's ``http_retry`` handlers (one
handler per failure class: connection errors, server errors, rate limits). One
function answers for all lanes; a :class:`LanePolicy` holds what differs between
them, so a new lane (such as the character lane) is one more entry in
:data:`LANES`.

:func:`decide` returns one of:

- :class:`Retry` — send the same request again at ``at``; the lane is held until
  then (an outage slows the lane down as one, never a storm of items), or until a
  success elsewhere ends an outage's hold (:class:`~ailicia_core.lanes.Recovery`;
  never a wait the server asked for);
- :class:`GiveUp` — drop this request with ``reason`` (sending it again cannot help,
  it may already have arrived, or it was tried often enough);
- :class:`Pause` — the key was rejected: all lanes pause until the settings change.

Every number (tries, backoff ranges, the one ``Retry-After`` cap) is in
:mod:`ailicia_core.retry_policy`. A server's ``Retry-After`` reaches this table
already capped by the one parser (:func:`ailicia_core.api_bodies.parse_retry_after`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Union

from . import errors as err
from . import retry_policy as rp
from .backoff import delay
from .retry_policy import MAX_RATE_LIMITED_TRIES, MAX_SERVER_WAIT_S, MAX_UNREACHED_TRIES  # noqa: F401 (importable here)

PRESENCE = "presence"
REACTIONS = "reactions"
CONTEXT = "context"
CHARACTER = "character"

# Reasons a request is given up (the status and the activity feed render them).
REFUSED = "refused"  # 4xx other than 401/429, a redirect, a bad channel: sending again cannot help
MAY_HAVE_ARRIVED = "may_have_arrived"  # resending could make ai_licia act twice
TOO_MANY_TRIES = "too_many_tries"
RATE_LIMITED_TOO_OFTEN = "rate_limited_too_often"


@dataclass(frozen=True)
class LanePolicy:
    """What differs between lanes. ``label`` names the lane in the status ("Context paused for …")."""

    name: str
    label: str
    #: Tries (the first included) before a request that got no usable answer is given up.
    max_attempts: int
    #: 429 answers before a request is given up.
    max_rate_limited: int
    #: False when resending a request that may have arrived would do harm (a double reaction).
    resend_if_may_have_arrived: bool = True
    base_s: float = rp.BASE_DELAY_S
    cap_s: float = rp.MAX_DELAY_S


#: Every lane; the character lane (``PUT /v1/characters/{id}/active``) uses its entry.
LANES: Dict[str, LanePolicy] = {
    PRESENCE: LanePolicy(
        PRESENCE,
        "Joining and leaving chat",
        max_attempts=rp.MAX_PRESENCE_TRIES,
        max_rate_limited=rp.MAX_PRESENCE_RATE_LIMITED_TRIES,
        cap_s=rp.PRESENCE_MAX_DELAY_S,
    ),
    REACTIONS: LanePolicy(
        REACTIONS,
        "Reactions",
        max_attempts=MAX_UNREACHED_TRIES,
        max_rate_limited=MAX_RATE_LIMITED_TRIES,
        resend_if_may_have_arrived=False,
    ),
    CONTEXT: LanePolicy(
        CONTEXT, "Context", max_attempts=rp.MAX_CONTEXT_TRIES, max_rate_limited=rp.MAX_CONTEXT_RATE_LIMITED_TRIES
    ),
    CHARACTER: LanePolicy(
        CHARACTER,
        "Character changes",
        max_attempts=rp.MAX_CHARACTER_TRIES,
        max_rate_limited=rp.MAX_CHARACTER_RATE_LIMITED_TRIES,
    ),
}


@dataclass(frozen=True)
class Retry:
    """Send again at ``at`` (the lane's clock); ``reason`` is the error's."""

    at: float
    reason: str


@dataclass(frozen=True)
class GiveUp:
    """Drop the request; ``reason`` is one of the module's give-up reasons."""

    reason: str


@dataclass(frozen=True)
class Pause:
    """The key was rejected: every lane pauses until the key, channel or address changes."""

    reason: str = err.KEY_REJECTED


Decision = Union[Retry, GiveUp, Pause]


def should_retry(error: err.ApiError) -> bool:
    """Whether sending again later can help (openai-python's ``_should_retry``, in our error family)."""
    if isinstance(error, (err.NetworkError, err.ServerError, err.RateLimitedError)):
        return True
    if error.status_code in (408, 409):
        return True
    # A web page or an unreadable answer came from something between us and ai_licia: try again.
    if isinstance(error, err.BadResponseError):
        return error.reason != err.TOO_LARGE
    return bool(error.retryable)


def decide(
    lane: LanePolicy,
    error: err.ApiError,
    attempts: int,
    now: float,
    *,
    failures: int = 0,
    jitter: float = 0.5,
    keep_trying: bool = False,
) -> Decision:
    """What to do after ``error`` on ``lane``.

    ``attempts`` counts this request's tries so far (this one included); ``failures``
    the lane's consecutive failures (for the backoff; defaults to ``attempts``);
    ``jitter`` is a number in [0, 1) drawn by the caller; ``keep_trying`` (presence
    while live with auto_join on) never gives up on network or server trouble.
    """
    failures = max(failures, attempts, 1)
    if isinstance(error, err.AuthError):
        return Pause()
    if not should_retry(error):
        return GiveUp(REFUSED)
    backoff = delay(failures, jitter, base_s=lane.base_s, cap_s=lane.cap_s)
    if isinstance(error, err.RateLimitedError):
        if attempts >= lane.max_rate_limited and not keep_trying:
            return GiveUp(RATE_LIMITED_TOO_OFTEN)
        wait = backoff if error.retry_after is None else max(error.retry_after, lane.base_s / 2)
        return Retry(now + wait, error.reason)
    if error.may_have_arrived and not lane.resend_if_may_have_arrived:
        return GiveUp(MAY_HAVE_ARRIVED)
    if attempts >= lane.max_attempts and not keep_trying:
        return GiveUp(TOO_MANY_TRIES)
    wait = backoff if error.retry_after is None else max(backoff, error.retry_after)
    return Retry(now + wait, error.reason)
