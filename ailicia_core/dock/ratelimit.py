"""A token bucket for the dock's controls: a burst of presses goes through, a flood does not."""

from __future__ import annotations

import threading
from typing import Callable

#: Presses allowed at once, and how many come back per second.
CONTROL_BURST = 10
CONTROL_REFILL_PER_S = 2.0


class TokenBucket:
    """``capacity`` tokens, refilled at ``per_second``; :meth:`take` spends one. Thread-safe."""

    def __init__(self, capacity: int, per_second: float, clock: Callable[[], float]) -> None:
        self._capacity = float(max(1, capacity))
        self._rate = max(0.0, per_second)
        self._clock = clock
        self._tokens = self._capacity
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is back."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self._rate if self._rate else float("inf")
