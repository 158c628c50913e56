"""Backoff: how long a lane waits after consecutive failures.

Each lane (presence, reactions, context, …) has its own :class:`Backoff`, so an
outage slows a lane down as one instead of each queued item retrying on its own
(no retry storms), and one lane's trouble never holds another. Exponential,
capped, with "equal jitter" drawn by the caller (an injected ``rng``) so tests are
deterministic.
"""

from __future__ import annotations

from typing import Callable, Optional

from .retry_policy import BASE_DELAY_S, MAX_DELAY_S


def delay(failures: int, jitter: float, *, base_s: float = BASE_DELAY_S, cap_s: float = MAX_DELAY_S) -> float:
    """The wait after ``failures`` consecutive failures: half fixed, half ``jitter`` (in [0, 1)) of the ceiling."""
    ceiling = min(cap_s, base_s * (2 ** min(max(failures, 1) - 1, 30)))
    return ceiling / 2 + ceiling / 2 * min(max(jitter, 0.0), 1.0)


class Backoff:
    """Counts consecutive failures and says until when to hold off."""

    def __init__(self, rng: Callable[[], float], *, base_s: float = BASE_DELAY_S, cap_s: float = MAX_DELAY_S) -> None:
        self._rng = rng
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self.until = float("-inf")

    def delay_for(self, failures: int) -> float:
        """The wait after ``failures`` consecutive failures (jitter from ``rng``)."""
        return delay(failures, self._rng(), base_s=self.base_s, cap_s=self.cap_s)

    def failed(self, now: float, at_least: Optional[float] = None) -> float:
        """Record a failure at ``now``; returns the wait. ``at_least`` honours a server's Retry-After."""
        self.failures += 1
        wait = max(self.delay_for(self.failures), at_least or 0.0)
        self.until = now + wait
        return wait

    def hold_until(self, at: float) -> None:
        """Record a failure whose next try the decision table set at ``at``."""
        self.failures += 1
        self.until = at

    def release(self, now: float) -> None:
        """End the current wait at ``now``; the failures still count, so the next one waits longer."""
        self.until = min(self.until, now)

    def succeeded(self) -> None:
        self.failures = 0
        self.until = float("-inf")

    def blocked(self, now: float) -> bool:
        return now < self.until
