"""EventSub envelopes: the JSON inside each SSE frame, and the memory that drops duplicates.

Pure values and functions; :mod:`ailicia_core.listener` reads them off the wire.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Mapping, Optional, Set

from .sse import SseEvent

#: The event keys the plugin listens to (``types=``).
EVENT_TYPES = (
    "chat.ai_message",
    "system.join",
    "system.left",
    "character.updated",
    "channel.go_live",
    "channel.go_offline",
)
#: Envelope ids remembered to drop duplicates.
DEDUPE_MEMORY = 1024


@dataclass(frozen=True)
class Envelope:
    """One EventSub event: the JSON envelope of an SSE frame."""

    id: str
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    timestamp: str = ""
    #: The envelope's ``channel.name`` as sent ("" when absent): which channel the event belongs to.
    channel: str = ""


def parse_envelope(event: SseEvent) -> Optional[Envelope]:
    """The envelope in ``event.data``, or None when it is not the documented JSON object."""
    try:
        body = json.loads(event.data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    kind = body.get("type") if isinstance(body.get("type"), str) else event.event
    payload = body.get("payload")
    channel = body.get("channel")
    name = channel.get("name") if isinstance(channel, dict) else None
    return Envelope(
        id=str(body.get("id") or ""),
        type=str(kind or ""),
        payload=payload if isinstance(payload, dict) else {},
        timestamp=str(body.get("timestamp") or ""),
        channel=name if isinstance(name, str) else "",
    )


class RecentIds:
    """The last ``capacity`` ids seen; :meth:`seen` answers and remembers in one step."""

    def __init__(self, capacity: int = DEDUPE_MEMORY) -> None:
        self._order: Deque[str] = deque()
        self._ids: Set[str] = set()
        self._capacity = max(1, capacity)

    def seen(self, event_id: str) -> bool:
        if not event_id:
            return False  # nothing to compare: let it through
        if event_id in self._ids:
            return True
        self._order.append(event_id)
        self._ids.add(event_id)
        if len(self._order) > self._capacity:
            self._ids.discard(self._order.popleft())
        return False

    def __len__(self) -> int:
        return len(self._order)
