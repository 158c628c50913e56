"""Pacing forced reactions: at most one generation per cooldown, nothing lost silently.

The API allows about one ``POST /v1/events/generations`` per 25 s per key and
answers 429 beyond that. :class:`GenerationPacer` is the pure bookkeeping the
worker consults; it takes the time as an argument and does no I/O.

Policy:
- the first press goes out at once;
- presses during the cooldown wait in a small queue (:data:`MAX_WAITING` distinct
  prompts; pressing the same prompt again only counts another press);
- when the window opens, waiting prompts go out together, merged into one
  generation as far as they fit in 300 characters; the rest wait for the next window;
- the window is counted from the *end* of the previous request, so that the
  server, which counts from arrival, never sees two closer than the cooldown;
- a failure is decided by the decision table (:mod:`ailicia_core.decide`, the
  reactions lane): a batch to retry goes back in front (:meth:`requeue`) and a 429
  also waits out ``Retry-After`` (:meth:`hold_until`) as well as the cooldown.

The pacer returns facts (accepted or not, what to send), never sentences.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Deque, Optional, Tuple

from .limits import GENERATION_MAX_CHARS
from .text import api_length

#: Distinct prompts that may wait for the window at once.
MAX_WAITING = 8
#: Between merged prompts.
SEPARATOR = " / "


@dataclass
class Waiting:
    """One distinct prompt waiting for the window, and how many presses asked for it."""

    content: str
    event_type: str
    presses: int = 1
    #: Generation feature flags as (name, flag) pairs; only presses with the same flags merge.
    features: Tuple[Tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class Batch:
    """What goes out in one generation request."""

    content: str
    event_type: str
    parts: Tuple[Waiting, ...]
    tries: int = 0
    features: Tuple[Tuple[str, bool], ...] = ()

    @property
    def presses(self) -> int:
        return sum(p.presses for p in self.parts)


class GenerationPacer:
    """Decides when the next generation may go and what it contains."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = float(cooldown_s)
        self.next_allowed_at = float("-inf")
        self._waiting: Deque[Waiting] = deque()
        self._retry: Optional[Batch] = None

    def set_cooldown(self, cooldown_s: float) -> None:
        """A new cooldown (settings changed); it applies from the next request on."""
        self.cooldown_s = float(cooldown_s)

    # --- intake --------------------------------------------------------------

    def add(self, content: str, event_type: str, presses: int = 1, features: Tuple[Tuple[str, bool], ...] = ()) -> bool:
        """Queue ``presses`` presses of one prompt; False when too many distinct prompts wait already."""
        for waiting in self._waiting:
            if waiting.content == content and waiting.event_type == event_type and waiting.features == features:
                waiting.presses += presses
                return True
        if len(self._waiting) >= MAX_WAITING:
            return False
        self._waiting.append(Waiting(content, event_type, presses, features=features))
        return True

    # --- schedule ------------------------------------------------------------

    @property
    def waiting_presses(self) -> int:
        retry = self._retry.presses if self._retry else 0
        return retry + sum(w.presses for w in self._waiting)

    def has_work(self) -> bool:
        return self._retry is not None or bool(self._waiting)

    def due_at(self) -> Optional[float]:
        """When the next batch may go (None when nothing waits)."""
        return self.next_allowed_at if self.has_work() else None

    def seconds_until_allowed(self, now: float) -> float:
        return max(0.0, self.next_allowed_at - now)

    def take(self, now: float) -> Optional[Batch]:
        """The batch to send now, or None when nothing waits or the window is closed."""
        if not self.has_work() or now < self.next_allowed_at:
            return None
        if self._retry is not None:
            batch, self._retry = self._retry, None
            return batch
        parts = [self._waiting.popleft()]
        event_type, features = parts[0].event_type, parts[0].features
        content = parts[0].content
        while self._waiting and (self._waiting[0].event_type, self._waiting[0].features) == (event_type, features):
            merged = content + SEPARATOR + self._waiting[0].content
            if api_length(merged) > GENERATION_MAX_CHARS:
                break
            content = merged
            parts.append(self._waiting.popleft())
        return Batch(content=content, event_type=event_type, parts=tuple(parts), features=features)

    # --- outcomes ------------------------------------------------------------

    def sent(self, finished_at: float) -> None:
        """The batch reached the server (accepted or not): the window restarts from here."""
        self.next_allowed_at = finished_at + self.cooldown_s

    def hold_until(self, at: float) -> None:
        """The server asked for a pause (a 429): nothing goes before ``at`` (nor before the cooldown)."""
        self.next_allowed_at = max(self.next_allowed_at, at)

    def requeue(self, batch: Batch) -> None:
        """``batch`` failed and will be tried again first (its ``tries`` counts the failure)."""
        self._retry = replace(batch, tries=batch.tries + 1)

    def drop_all(self) -> int:
        """Forget everything waiting (shutdown); returns how many presses were dropped."""
        dropped = self.waiting_presses
        self._waiting.clear()
        self._retry = None
        return dropped
