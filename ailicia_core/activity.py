"""Activity: a bounded, thread-safe feed of what happened, newest last, for the dock and the demo.

Producers (the delivery worker for each request's outcome, the EventSub listener
for what ai_licia said or did) call :meth:`ActivityFeed.add` from their own
threads; it never blocks on I/O. Readers (the dock server's threads) call
:meth:`ActivityFeed.since` with the cursor of the last entry they saw, or
:meth:`ActivityFeed.wait_since` to sleep until something new arrives.

Every string in an entry is already cleaned (no control characters, bounded
length, secrets redacted) by :func:`activity`: readers may show it as text.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Optional, Tuple

from .logsafe import redact
from .text import abbreviate

#: Entries kept; older ones are forgotten (the feed is a view, not a record).
FEED_CAPACITY = 200
#: Longest content kept per entry.
CONTENT_MAX_CHARS = 300

#: What an entry is about.
KINDS = ("context", "reaction", "join", "leave", "character", "test", "ai_message", "presence", "connect", "notice")
#: How it ended: sent/accepted, still waiting (will be retried), failed/given up, dropped, or said by ai_licia.
OUTCOMES = ("sent", "waiting", "failed", "dropped", "said", "info")


@dataclass(frozen=True)
class Activity:
    """One line of the feed. ``seq`` orders entries; ``at`` is epoch seconds."""

    seq: int
    at: float
    kind: str
    content: str
    outcome: str
    detail: str = ""


def activity(seq: int, at: float, kind: str, content: str, outcome: str, detail: str = "") -> Activity:
    """An :class:`Activity` with its text cleaned, cut and redacted."""
    return Activity(
        seq=seq,
        at=float(at),
        kind=kind if kind in KINDS else "notice",
        content=redact(abbreviate(str(content), CONTENT_MAX_CHARS)),
        outcome=outcome if outcome in OUTCOMES else "info",
        detail=redact(abbreviate(str(detail), CONTENT_MAX_CHARS)),
    )


class ActivityFeed:
    """The last :data:`FEED_CAPACITY` entries. Safe from any thread; ``add`` never waits on I/O."""

    def __init__(self, capacity: int = FEED_CAPACITY) -> None:
        self._entries: Deque[Activity] = deque(maxlen=max(1, capacity))
        self._seq = 0
        self._changed = threading.Condition()

    def add(self, at: float, kind: str, content: str, outcome: str, detail: str = "") -> Activity:
        """Append one entry (cleaned by :func:`activity`) and wake waiting readers."""
        with self._changed:
            self._seq += 1
            entry = activity(self._seq, at, kind, content, outcome, detail)
            self._entries.append(entry)
            self._changed.notify_all()
        return entry

    @property
    def cursor(self) -> int:
        """The ``seq`` of the newest entry (0 when empty)."""
        with self._changed:
            return self._seq

    def since(self, cursor: int = 0) -> Tuple[List[Activity], int]:
        """Entries newer than ``cursor``, oldest first, and the new cursor."""
        with self._changed:
            return [e for e in self._entries if e.seq > cursor], self._seq

    def wait_since(self, cursor: int, timeout: float) -> Tuple[List[Activity], int]:
        """Like :meth:`since`, but first waits up to ``timeout`` s for something newer than ``cursor``."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > cursor, max(0.0, timeout))
            return [e for e in self._entries if e.seq > cursor], self._seq

    def latest(self, kind: str) -> Optional[Activity]:
        """The newest entry of ``kind``, or None."""
        with self._changed:
            return next((e for e in reversed(self._entries) if e.kind == kind), None)
