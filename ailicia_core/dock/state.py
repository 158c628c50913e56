"""What the dock shows, as plain JSON-ready dicts built from the engine (pure reads, never blocking)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Dict, List

from ..activity import Activity
from ..settings import TRIGGER_SLOTS, Settings
from ..status import render_status
from ..text import abbreviate

PROMPT_PREVIEW_CHARS = 60
#: Entries a page gets when it (re)connects.
INITIAL_ENTRIES = 50


def trigger_name(settings: Settings, slot: int) -> str:
    """The streamer's name for trigger ``slot`` (``settings.trigger_name``), else ``Trigger N``."""
    getter = getattr(settings, "trigger_name", None)
    name = getter(slot) if callable(getter) else ""
    return abbreviate(str(name or ""), 40) or f"Trigger {slot}"


def triggers(settings: Settings) -> List[Dict[str, Any]]:
    """Slots 1-5 with their names and a preview of their prompts; ``ready`` is False without a prompt."""
    return [
        {
            "slot": slot,
            "name": trigger_name(settings, slot),
            "prompt": abbreviate(settings.trigger_prompt(slot), PROMPT_PREVIEW_CHARS),
            "ready": bool(settings.trigger_prompt(slot)),
        }
        for slot in range(1, TRIGGER_SLOTS + 1)
    ]


def status_state(engine: Any) -> Dict[str, Any]:
    """The live status: what the dock's header shows, and the panel's own lines."""
    status = engine.status()
    automatic_paused = bool(getattr(engine, "automatic_paused", False))
    return {
        "live": status.live,
        "in_chat": status.in_chat,
        # The live-events listener may confirm presence from the server's events.
        "in_chat_confirmed": getattr(status, "in_chat_confirmed", None),
        "presence": status.presence,
        "active_character": getattr(status, "active_character", ""),
        "paused": bool(status.paused_reason),
        "paused_reason": status.paused_reason,
        "automatic_paused": automatic_paused,
        "can_pause": callable(getattr(engine, "pause_automatic", None)),
        "reactions_waiting": status.queued_generations,
        "next_reaction_in_s": int(round(status.next_generation_in_s)),
        "context_waiting": status.queued_context,
        "lines": render_status(status).splitlines(),
        "triggers": triggers(engine.settings),
        # The "Connect with ai_licia" button shows only when the engine has the flow.
        "can_connect": callable(getattr(engine, "connect_with_app", None)),
    }


def entry_state(entry: Activity) -> Dict[str, Any]:
    """One feed entry; ``time`` is the local time of day it happened."""
    item = asdict(entry)
    item["time"] = time.strftime("%H:%M:%S", time.localtime(entry.at))
    return item


def full_state(engine: Any) -> Dict[str, Any]:
    """Status and the latest entries (oldest first), with the cursor to follow from."""
    entries, cursor = engine.activity.since(0)
    return {
        "status": status_state(engine),
        "activity": [entry_state(e) for e in entries[-INITIAL_ENTRIES:]],
        "cursor": cursor,
    }
