"""The dock's controls: one small function per POST, turning a JSON body into an engine call.

Each returns None when done, or a refusal code (``bad_request``, ``unavailable``)
that the server answers with 400/404. Nothing here waits: the engine's methods
return at once and the outcome arrives later through the status and the feed.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from .. import commands as cmd
from .. import events as ev
from ..settings import TRIGGER_SLOTS
from ..text import clean_text

#: Longest line of context or reaction prompt accepted from the dock.
TEXT_MAX_CHARS = 500

Control = Callable[[Any, Mapping[str, Any]], Optional[str]]


def _text(body: Mapping[str, Any]) -> str:
    value = body.get("text")
    text = clean_text(value).strip() if isinstance(value, str) else ""
    return text if len(text) <= TEXT_MAX_CHARS else ""


def fire_trigger(engine: Any, body: Mapping[str, Any]) -> Optional[str]:
    slot = body.get("slot")
    if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= TRIGGER_SLOTS:
        return "bad_request"
    engine.handle(ev.TriggerPressed(slot=slot))
    return None


def _text_event(event_type: Callable[[str], ev.DomainEvent]) -> Control:
    """A control that hands ``event_type(text)`` to the engine, for a cleaned, non-empty, bounded ``text``."""

    def control(engine: Any, body: Mapping[str, Any]) -> Optional[str]:
        text = _text(body)
        if not text:
            return "bad_request"
        engine.handle(event_type(text))
        return None

    return control


def _submit(command: cmd.Command) -> Control:
    """A control that submits ``command`` to the engine (an engine without ``submit`` answers ``unavailable``)."""

    def control(engine: Any, body: Mapping[str, Any]) -> Optional[str]:
        submit = getattr(engine, "submit", None)
        if not callable(submit):
            return "unavailable"
        submit(command)
        return None

    return control


def connect_with_app(engine: Any, body: Mapping[str, Any]) -> Optional[str]:
    """Start "Connect with ai_licia" (an engine without it answers ``unavailable``)."""
    start = getattr(engine, "connect_with_app", None)
    if not callable(start):
        return "unavailable"
    start()
    return None


#: ``POST /api/control/<name>`` → its control.
CONTROLS: Dict[str, Control] = {
    "trigger": fire_trigger,
    "context": _text_event(ev.ManualContext),
    "reaction": _text_event(ev.ManualGeneration),
    "join": _submit(cmd.JoinNow()),
    "leave": _submit(cmd.LeaveNow()),
    "test": _submit(cmd.TestConnection()),
    "pause": _submit(cmd.PauseAutomatic()),
    "resume": _submit(cmd.ResumeAutomatic()),
    "connect": connect_with_app,
}
