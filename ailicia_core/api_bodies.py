"""What travels on the wire, as pure functions split from client.py: generation bodies with their
features, the character switch's path, and reading a ``Retry-After`` header.

``client.py`` sends what they build and re-exports them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping, Optional
from urllib.parse import quote

from . import errors as err
from .retry_policy import MAX_SERVER_WAIT_S
from .text import event_type_label

#: The generation feature flags the OpenAPI ``GenerationFeatures`` schema names.
GENERATION_FEATURES = ("tts", "web_search", "vision", "commands", "memory")


def generation_body(channel: str, content: str, event_type: str, features: Optional[Mapping[str, bool]] = None) -> dict:
    """The ``POST /v1/events/generations`` body; ``features`` keeps only the flags the API knows."""
    data: dict = {"channelName": channel, "content": content}
    flags = {name: bool(value) for name, value in (features or {}).items() if name in GENERATION_FEATURES}
    if flags:
        data["features"] = flags
    return {"eventType": event_type_label(event_type), "data": data}


def character_path(character_id: str) -> str:
    """``/v1/characters/{id}/active`` with the id escaped (never a dot segment)."""
    if character_id.strip(".") == "":
        raise err.NotFoundError("character switch", err.BAD_CHARACTER_ID, retryable=False, may_have_arrived=False)
    return "/v1/characters/" + quote(character_id, safe="") + "/active"


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None when absent or odd.

    The product's one cap on a server's wait: never negative, never past :data:`MAX_SERVER_WAIT_S`.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # "-0000" (RFC 5322: UTC, no local offset known) parses naive
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_SERVER_WAIT_S)
