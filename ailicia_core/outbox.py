"""The context outbox: context waiting to be sent, in order, debounced, with a ttl and a bound.

Policies, stated once:

- **Order.** Context goes out in the order it happened (the head first).
- **Debounce.** A scene switch may not go before ``debounce_s`` has passed; a newer
  switch within that time replaces it (flicking through scenes is not spam).
- **Ttl.** Context whose ttl has passed is dropped, never sent stale.
- **Overflow.** At most :data:`AUTOMATIC_CAPACITY` *automatic* items wait; beyond
  that the oldest automatic one goes (newer state supersedes older), counted in
  :attr:`ContextOutbox.dropped`. Stream start/stop and manual context
  (:data:`NEVER_DROPPED`) are never dropped.

Pure bookkeeping: times are arguments, no I/O, one thread (the worker's).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Optional

from .compose import SendContext

#: Automatic context that may wait at once.
AUTOMATIC_CAPACITY = 200
#: Context kinds that overflow never drops.
NEVER_DROPPED = frozenset({"stream", "manual"})


@dataclass
class QueuedContext:
    """One context waiting; ``tries`` counts failed sends."""

    action: SendContext
    happened_at: float
    not_before: float
    expires_at: Optional[float]
    tries: int = 0

    @property
    def automatic(self) -> bool:
        return self.action.kind not in NEVER_DROPPED


class ContextOutbox:
    """Ordered context with debounce, ttl and overflow; see the module docstring."""

    def __init__(self, capacity: int = AUTOMATIC_CAPACITY) -> None:
        self._items: Deque[QueuedContext] = deque()
        self._capacity = capacity
        self._automatic = 0
        #: Automatic context dropped on overflow since the start.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, action: SendContext, at: float, debounce_s: float = 0.0) -> Optional[QueuedContext]:
        """Queue ``action`` (happened at ``at``); returns the item overflow dropped for it, if any."""
        is_scene = action.kind == "scene" and debounce_s > 0
        if is_scene:
            self._drop_superseded_scene(at, debounce_s)
        item = QueuedContext(
            action=action,
            happened_at=at,
            not_before=at + (debounce_s if is_scene else 0.0),
            expires_at=at + action.ttl if action.ttl else None,
        )
        dropped = None
        if item.automatic and self._automatic >= self._capacity:
            dropped = next(q for q in self._items if q.automatic)
            self._discard(dropped)
            self.dropped += 1
        self._items.append(item)
        self._automatic += item.automatic
        return dropped

    def head(self) -> Optional[QueuedContext]:
        return self._items[0] if self._items else None

    def due(self, now: float) -> Optional[QueuedContext]:
        """The head when it may go now, else None."""
        head = self.head()
        return head if head is not None and head.not_before <= now else None

    def due_at(self) -> Optional[float]:
        head = self.head()
        return head.not_before if head is not None else None

    def expire(self, now: float) -> List[QueuedContext]:
        """Remove and return the items at the head whose ttl has passed."""
        expired = []
        while self._items and self._items[0].expires_at is not None and self._items[0].expires_at <= now:
            expired.append(self._items[0])
            self._discard(self._items[0])
        return expired

    def remove(self, item: QueuedContext) -> None:
        if item in self._items:
            self._discard(item)

    def drop_automatic(self) -> int:
        """Forget every automatic item (the streamer paused automatic context); returns how many."""
        keep = [q for q in self._items if not q.automatic]
        gone = len(self._items) - len(keep)
        self._items = deque(keep)
        self._automatic = 0
        return gone

    def clear(self) -> int:
        """Forget everything (shutdown); returns how many items there were."""
        count = len(self._items)
        self._items.clear()
        self._automatic = 0
        return count

    def _discard(self, item: QueuedContext) -> None:
        self._items.remove(item)
        self._automatic -= item.automatic

    def _drop_superseded_scene(self, at: float, debounce_s: float) -> None:
        for queued in reversed(self._items):
            if queued.action.kind == "scene":
                if queued.tries == 0 and at - queued.happened_at < debounce_s:
                    self._discard(queued)
                return
