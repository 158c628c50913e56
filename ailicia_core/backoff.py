"""Backoff: how long to wait after consecutive failures, shared by every request.

One instance guards the whole connection, so an outage slows *all* sending down
together instead of each queued item retrying on its own (no retry storms).
Exponential, capped, with jitter drawn from an injected ``rng`` so tests are
deterministic.
"""

from __future__ import annotations

from typing import Callable, Optional

#: First wait after a failure, in seconds.
BASE_DELAY_S = 1.0
#: Longest wait between two tries, in seconds.
MAX_DELAY_S = 30.0


class Backoff:
    """Counts consecutive failures and says until when to hold off."""

    def __init__(self, rng: Callable[[], float], *, base_s: float = BASE_DELAY_S, cap_s: float = MAX_DELAY_S) -> None:
        self._rng = rng
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self.until = float("-inf")

    def delay_for(self, failures: int) -> float:
        """The wait after ``failures`` consecutive failures: half fixed, half random ("equal jitter")."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(failures - 1, 30)))
        return ceiling / 2 + ceiling / 2 * self._rng()

    def failed(self, now: float, at_least: Optional[float] = None) -> float:
        """Record a failure at ``now``; returns the wait. ``at_least`` honours a server's Retry-After."""
        self.failures += 1
        wait = max(self.delay_for(self.failures), at_least or 0.0)
        self.until = now + wait
        return wait

    def succeeded(self) -> None:
        self.failures = 0
        self.until = float("-inf")

    def blocked(self, now: float) -> bool:
        return now < self.until
