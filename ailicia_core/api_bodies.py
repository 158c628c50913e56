"""Request bodies and paths of issue 13: generation features and the character switch (split from client.py).

Pure functions; ``client.py`` sends what they build.
"""

from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import quote

from . import errors as err
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
