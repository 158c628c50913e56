"""A lane's runtime state (its policy, its own backoff, why it is held back) and what the lanes learn together.

The policies (and the decision table every lane consults) are in
:mod:`ailicia_core.decide`; :class:`Lane` is what one lane remembers between
requests, :class:`Recovery` what all of them learn about whether ai_licia answers.
Worker thread only; :meth:`Lane.hold` is also read by status snapshots (floats, no lock).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import decide as dt
from . import errors as err
from .backoff import Backoff
from .retry_policy import MAX_DELAY_S, PROBE_INTERVAL_S, PROBE_TIMEOUT_S, RECENTLY_ANSWERED_S  # noqa: F401 (delivery imports it here)

log = logging.getLogger("ailicia")

#: Refused at connect: the host itself is down, whatever endpoint was asked.
_HOST_DOWN = frozenset({err.UNREACHABLE, err.CONNECT_TIMEOUT})


def is_outage(error: err.ApiError) -> bool:
    """No answer at all, or a 5xx without ``Retry-After``: a wait that a success elsewhere may end."""
    return isinstance(error, (err.NetworkError, err.ServerError)) and error.retry_after is None


class Lane:
    """One lane's runtime state: its policy, its own backoff and why it is held.

    :attr:`on_success` is called when a request on this lane succeeded (:class:`Recovery` listens).
    """

    def __init__(self, policy: dt.LanePolicy, rng: Callable[[], float]) -> None:
        self.policy = policy
        self._rng = rng
        self.on_success: Optional[Callable[[], Any]] = None
        self.backoff = Backoff(rng, base_s=policy.base_s, cap_s=policy.cap_s)
        self.held_for = ""
        #: The current hold waits out an outage (:func:`is_outage`), not a wait the server asked for.
        self.outage = False
        #: The last woken try failed while ai_licia answered elsewhere: this endpoint's trouble is its own.
        self.stubborn = False
        self._woken = False

    def after(self, error: err.ApiError, attempts: int, now: float, keep_trying: bool = False) -> dt.Decision:
        """Consult the decision table; a retry holds the lane until its time."""
        woken_try, self._woken = self._woken, False
        decision = dt.decide(
            self.policy,
            error,
            attempts,
            now,
            failures=self.backoff.failures + 1,
            jitter=self._rng(),
            keep_trying=keep_trying,
        )
        held = False
        if isinstance(decision, dt.Retry):
            self.backoff.hold_until(decision.at)
            self.held_for, held = decision.reason, True
        elif isinstance(decision, dt.GiveUp) and decision.reason == dt.TOO_MANY_TRIES:
            self.backoff.failed(now)  # the next item must not hammer a server that is still down
            self.held_for, held = error.reason, True
        self.outage = held and is_outage(error)
        # Refused at connect after a wake: the host is down again, an outage like any other.
        self.stubborn = self.outage and woken_try and error.reason not in _HOST_DOWN
        return decision

    def succeeded(self) -> None:
        """A request on this lane succeeded: the hold and the failure count end, the other lanes hear of it."""
        self.reset()
        if self.on_success is not None:
            self.on_success()

    def reset(self) -> None:
        """Forget the hold and the failures (another key or address), without it counting as an answer."""
        self.backoff.succeeded()
        self.held_for = ""
        self.outage = self.stubborn = self._woken = False

    def wakeable(self, now: float) -> bool:
        """Held by an outage backoff that a success elsewhere may end."""
        return self.outage and not self.stubborn and self.blocked(now)

    def wake(self, now: float) -> bool:
        """ai_licia answered another request: end an outage hold at ``now`` (True if it did).

        A wait the server asked for (429, ``Retry-After``) is never ended early.
        """
        if not self.wakeable(now):
            return False
        self.backoff.release(now)
        self._woken = True
        return True

    def blocked(self, now: float) -> bool:
        return self.backoff.blocked(now)

    def hold(self, now: float) -> Optional[Tuple[str, str, float]]:
        """While held: the lane's label, the reason it is held for and the seconds left; None otherwise."""
        if not self.blocked(now) or not self.held_for:
            return None
        return (self.policy.label, self.held_for, self.backoff.until - now)


def later(due: Optional[float], lane: Lane) -> Optional[float]:
    """When work due at ``due`` may go on ``lane`` (not before the lane's hold ends)."""
    return None if due is None else max(due, lane.backoff.until)


class Recovery:
    """What the lanes learn together: an outage is nobody's lane, and neither is its end.

    Each lane backs off on its own so that one lane held back never holds another.
    But when ai_licia stops answering, every lane fails, and by the time it answers
    again their backoffs have grown (15 s for presence, 30 s for the others).
    Left alone, each lane would find out on its own schedule: the join 10 s after
    recovery, "Stream started" still waiting out its own 13 s when the stream ended.
    So the lanes share what they learn:

    - **A success wakes every lane.** A request that succeeded, on any lane, is
      evidence that ai_licia answers again: every lane waiting out an *outage*
      backoff (:func:`is_outage`: no answer at all, or a 5xx without ``Retry-After``)
      may try again at once. Its failures still count, so if it fails again it
      waits longer than before. A wait the server asked for (a 429, any
      ``Retry-After``) is the API's explicit instruction and never ends early.
    - **Something vital always probes.** Waking needs a success, and during an
      outage nothing may be due for 15-30 s. So while something vital (a join or
      leave, "Stream started/ended" or manual context) waits out an outage, ai_licia
      is asked whether it answers again (:meth:`probe_at`): a ``GET /v1/characters``
      (no side effect, counted against no request's tries) once no request of any
      kind has ended for :data:`PROBE_INTERVAL_S` (times 0.75-1, jittered). Its
      success wakes every lane, and the vital request goes on the next turn: about
      one second plus two round trips after ai_licia is back, within 2 s.
    - **At quit**, context held only by an outage backoff goes if ai_licia answered
      in the last :data:`RECENTLY_ANSWERED_S` (:meth:`may_go_at_quit`).

    Why this does not spam the API:

    - The probe is one request for all lanes, and only fills silence: a lane's own
      retry within the interval *is* the probe. Beyond what the backoffs send, a
      client adds at most one GET per 0.75-1 s, and only while vital work waits out
      an outage; the jitter keeps many clients from arriving in step when it is
      back. A connection refused costs the API nothing, a gateway's 502/503 little.
    - The server has the last word: a ``Retry-After`` (or a 429) on a probe stops
      probing for that long, and a lane held by one neither probes nor wakes.
    - Generations (about one per 25 s, 429 beyond) are not vital: they never
      probe, and a woken reactions lane still waits for the pacer's window.
    - A lane whose woken try fails again at its endpoint (a 5xx, an answer cut
      short) while ai_licia answers elsewhere becomes :attr:`Lane.stubborn`: it
      neither wakes nor probes until its own backoff's next try. An endpoint that
      fails alone so costs at most two more requests per backoff period, never a
      loop of probe and retry. A woken try refused at connect means the host is
      down again: an outage like any other, and probing goes on.
    """

    def __init__(self, clock: Callable[[], float], rng: Callable[[], float], lanes: Dict[str, Lane]) -> None:
        self._clock = clock
        self._rng = rng
        self._lanes = lanes
        for lane in lanes.values():
            lane.on_success = self.answered
        #: When a request to ai_licia last succeeded (worker clock).
        self.answered_at = -math.inf
        self._quiet_until = -math.inf  # no probe before: the last request's end plus a jittered interval
        self._server_wait_until = -math.inf  # no probe before: what a server's answer to a probe asked

    def request_ended(self) -> None:
        """Any request ended (answered or not): the next probe waits for silence after it."""
        gap = PROBE_INTERVAL_S * (1.0 - 0.25 * min(max(self._rng(), 0.0), 1.0))
        self._quiet_until = self._clock() + gap

    def answered(self) -> List[Lane]:
        """A request succeeded: wake every lane held by an outage; returns those woken."""
        now = self.answered_at = self._clock()
        woken = [lane for lane in self._lanes.values() if lane.wake(now)]
        if woken:
            log.info("ai_licia answers again; trying again now: %s.", ", ".join(lane.policy.label for lane in woken))
        return woken

    def probe_at(self, *, presence_waits: bool, context: Any) -> Optional[float]:
        """When to ask whether ai_licia answers again; None when nothing vital waits out an outage.

        ``presence_waits``: a join or leave waits; ``context``: the outbox's head (vital unless automatic).
        """
        now = self._clock()
        vital = (presence_waits and self._lanes[dt.PRESENCE].wakeable(now)) or (
            context is not None and not context.automatic and self._lanes[dt.CONTEXT].wakeable(now)
        )
        return max(self._quiet_until, self._server_wait_until) if vital else None

    def probe_failed(self, error: err.ApiError) -> None:
        """A probe got no success: a server's explicit wait holds the next probe back."""
        if error.retry_after is not None:
            self._server_wait_until = self._clock() + error.retry_after
        elif isinstance(error, err.RateLimitedError):
            self._server_wait_until = self._clock() + MAX_DELAY_S

    def may_go_at_quit(self, name: str) -> bool:
        """Whether lane ``name`` may still send at quit: not held, or held by an outage while ai_licia just answered."""
        lane, now = self._lanes[name], self._clock()
        return not lane.blocked(now) or (lane.outage and now - self.answered_at <= RECENTLY_ANSWERED_S)
