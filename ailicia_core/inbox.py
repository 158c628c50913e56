"""The inbox: how events and commands cross from OBS threads to the worker, bounded, never blocking.

:meth:`Inbox.put` is called from any thread: it appends (or merges) and returns in
microseconds; the only lock is held for a few dictionary operations, never while
anything talks to the network. The worker takes items in the order they arrived.

Bounds, stated once:

- **Automatic** items (scene, source, mute, recording changes) wait in a ring of
  :data:`AUTOMATIC_CAPACITY`; when full the *oldest* goes (newer state supersedes
  older) and is counted in :attr:`Inbox.dropped`.
- **Vital** items (stream start/stop, hotkeys, buttons, settings, manual context)
  are never dropped. They are bounded by merging: an item with a ``merge_key``
  equal to one still waiting adds to that one's ``count`` (200k presses of one
  hotkey become one item counting 200k presses) and carries the newest payload.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from typing import Any, Deque, Dict, Hashable, Iterator, Optional

AUTOMATIC_CAPACITY = 1000


class Item:
    """One thing for the worker: ``payload`` arrived at ``at`` (worker clock), ``count`` times merged."""

    __slots__ = ("seq", "at", "payload", "count", "merge_key")

    def __init__(self, seq: int, at: float, payload: Any, merge_key: Optional[Hashable]) -> None:
        self.seq = seq
        self.at = at
        self.payload = payload
        self.count = 1
        self.merge_key = merge_key


class Inbox:
    """Two queues (automatic, vital) read in arrival order; see the module docstring."""

    def __init__(self, capacity: int = AUTOMATIC_CAPACITY) -> None:
        self._seq = itertools.count()
        self._automatic: Deque[Item] = deque(maxlen=capacity)
        self._vital: Deque[Item] = deque()
        self._waiting: Dict[Hashable, Item] = {}
        self._lock = threading.Lock()
        self._capacity = capacity
        #: Automatic items dropped on overflow.
        self.dropped = 0

    def put(self, payload: Any, at: float, *, automatic: bool = False, merge_key: Optional[Hashable] = None) -> None:
        """Add ``payload``; never blocks on I/O. See the module docstring for the bounds."""
        if automatic:
            if len(self._automatic) >= self._capacity:
                self.dropped += 1
            self._automatic.append(Item(next(self._seq), at, payload, None))
            return
        with self._lock:
            waiting = self._waiting.get(merge_key) if merge_key is not None else None
            if waiting is not None:
                waiting.count += 1
                waiting.payload = payload
                return
            item = Item(next(self._seq), at, payload, merge_key)
            if merge_key is not None:
                self._waiting[merge_key] = item
            self._vital.append(item)

    def __bool__(self) -> bool:
        return bool(self._automatic or self._vital)

    def __len__(self) -> int:
        return len(self._automatic) + len(self._vital)

    def take(self) -> Iterator[Item]:
        """Every waiting item, oldest first (worker thread only)."""
        while self._automatic or self._vital:
            item = self._pop()
            if item is not None:
                yield item

    def _pop(self) -> Optional[Item]:
        automatic_seq = self._automatic[0].seq if self._automatic else math.inf
        with self._lock:
            vital_seq = self._vital[0].seq if self._vital else math.inf
            if vital_seq < automatic_seq:
                item = self._vital.popleft()
                if item.merge_key is not None:
                    self._waiting.pop(item.merge_key, None)
                return item
        try:
            return self._automatic.popleft()
        except IndexError:  # emptied by overflow between the peek and the pop
            return None
