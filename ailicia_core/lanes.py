"""A lane's runtime state: its policy, its own backoff, and why it is held back.

The policies (and the decision table every lane consults) are in
:mod:`ailicia_core.decide`; this is what one lane remembers between requests.
Worker thread only; :meth:`Lane.hold` is also read by status snapshots (floats, no lock).
"""

from __future__ import annotations

from typing import Callable, Optional

from . import decide as dt
from . import errors as err
from .backoff import Backoff
from .status import describe_hold


class Lane:
    """One lane's runtime state: its policy, its own backoff and why it is held."""

    def __init__(self, policy: dt.LanePolicy, rng: Callable[[], float]) -> None:
        self.policy = policy
        self._rng = rng
        self.backoff = Backoff(rng, base_s=policy.base_s, cap_s=policy.cap_s)
        self.held_for = ""

    def after(self, error: err.ApiError, attempts: int, now: float, keep_trying: bool = False) -> dt.Decision:
        """Consult the decision table; a retry holds the lane until its time."""
        decision = dt.decide(
            self.policy,
            error,
            attempts,
            now,
            failures=self.backoff.failures + 1,
            jitter=self._rng(),
            keep_trying=keep_trying,
        )
        if isinstance(decision, dt.Retry):
            self.backoff.hold_until(decision.at)
            self.held_for = decision.reason
        elif isinstance(decision, dt.GiveUp) and decision.reason == dt.TOO_MANY_TRIES:
            self.backoff.failed(now)  # the next item must not hammer a server that is still down
            self.held_for = error.reason
        return decision

    def succeeded(self) -> None:
        self.backoff.succeeded()
        self.held_for = ""

    def blocked(self, now: float) -> bool:
        return self.backoff.blocked(now)

    def hold(self, now: float) -> str:
        """The status sentence while held, "" otherwise."""
        if not self.blocked(now) or not self.held_for:
            return ""
        return describe_hold(self.policy.label, self.held_for, self.backoff.until - now)


def later(due: Optional[float], lane: Lane) -> Optional[float]:
    """When work due at ``due`` may go on ``lane`` (not before the lane's hold ends)."""
    return None if due is None else max(due, lane.backoff.until)
