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
- a 429 puts the batch back in front and waits out ``Retry-After`` (or the cooldown).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Deque, Optional, Tuple

from .limits import GENERATION_MAX_CHARS
from .text import api_length

#: Distinct prompts that may wait for the window at once.
MAX_WAITING = 8
#: A batch answered 429 this many times is given up (with a status message).
MAX_RATE_LIMITED_TRIES = 4
#: A batch that never reached the server is tried this many times before it is given up.
MAX_UNREACHED_TRIES = 6
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

    # --- intake --------------------------------------------------------------

    def add(self, content: str, event_type: str, features: Tuple[Tuple[str, bool], ...] = ()) -> Optional[str]:
        """Queue one press. Returns a message when the press could not be queued."""
        for waiting in self._waiting:
            if waiting.content == content and waiting.event_type == event_type and waiting.features == features:
                waiting.presses += 1
                return None
        if len(self._waiting) >= MAX_WAITING:
            return (f"Too many different reactions are waiting ({MAX_WAITING}); "
                    f"this press was not queued: '{content[:40]}'.")
        self._waiting.append(Waiting(content, event_type, features=features))
        return None

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

    def rate_limited(self, batch: Batch, finished_at: float, retry_after: Optional[float]) -> Optional[str]:
        """A 429: put ``batch`` back in front and wait. Returns a message if it is given up."""
        self.next_allowed_at = finished_at + max(retry_after or 0.0, self.cooldown_s)
        return self._requeue(batch, MAX_RATE_LIMITED_TRIES, "ai_licia kept answering 'too many requests'")

    def retry_later(self, batch: Batch) -> Optional[str]:
        """The batch never reached the server: send it again first. Returns a message if given up."""
        return self._requeue(batch, MAX_UNREACHED_TRIES, "ai_licia could not be reached")

    def _requeue(self, batch: Batch, max_tries: int, why: str) -> Optional[str]:
        tries = batch.tries + 1
        if tries >= max_tries:
            return f"{why}; gave up the reaction '{batch.content[:40]}' ({batch.presses} press(es))."
        self._retry = replace(batch, tries=tries)
        return None

    def drop_all(self) -> int:
        """Forget everything waiting (shutdown); returns how many presses were dropped."""
        dropped = self.waiting_presses
        self._waiting.clear()
        self._retry = None
        return dropped
