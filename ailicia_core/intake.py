"""Intake: what the worker does with composed actions and with commands, before anything is sent.

Called on the worker thread only, for one inbox item at a time (inside the
worker's guard). ``count`` is how many identical presses the inbox merged into one
item: they reach the pacer as a count, never as 200k separate entries.
"""

from __future__ import annotations

import logging
from typing import Any

from . import commands as cmd
from . import events as ev
from .compose import ChangePresence, Notice, SendContext, SendGeneration, SwitchCharacter
from .delivery import Delivery

log = logging.getLogger("ailicia")

#: Events whose oldest may be dropped when the inbox overflows (newer state supersedes older).
AUTOMATIC = (
    ev.SceneSwitched,
    ev.SourceVisibilityChanged,
    ev.AudioMuteChanged,
    ev.RecordingStarted,
    ev.RecordingStopped,
    ev.RecordingPaused,
    ev.RecordingResumed,
)
#: Presses merge with the same press still waiting: they become a count.
_PRESSES = (ev.TriggerPressed, ev.ManualGeneration)
#: Commands that merge with one of their kind still waiting: the newest wins (a newer join/leave replaces an
#: older one anyway; the newest settings are the ones that count).
_MERGE_KEYS = {
    cmd.TestConnection: "test",
    cmd.KeyRejected: "key",
    cmd.ApplySettings: "settings",
    cmd.JoinNow: "presence",
    cmd.LeaveNow: "presence",
    cmd.PauseAutomatic: "automatic",
    cmd.ResumeAutomatic: "automatic",
}


def merge_key(item: Any) -> Any:
    """What ``item`` merges with in the inbox (None: it never merges)."""
    return item if isinstance(item, _PRESSES) else _MERGE_KEYS.get(type(item))


def accept(delivery: Delivery, action: Any, at: float, count: int = 1) -> None:
    """Queue one composed action on its lane (a :class:`Notice` is handled by the worker)."""
    if not delivery.can_send():
        if isinstance(action, SendGeneration):
            # While the key pause is shown above, one short line; otherwise the settings' own words.
            why = (
                "sending is paused until the API key works."
                if delivery.paused_reason
                else (delivery.cannot_send_reason())
            )
            delivery.error(f"Reaction not sent: {why}")
        return
    if isinstance(action, SendContext):
        delivery.queue_context(action, at)
    elif isinstance(action, SendGeneration):
        if not delivery.pacer.add(action.content, action.event_type, count, action.features):
            short = action.content[:40]
            delivery.error(f"Too many different reactions are waiting; this press was not queued: '{short}'.")
            delivery.record("reaction", action.content, "dropped", "Too many different reactions waiting.")
    elif isinstance(action, ChangePresence):
        delivery.presence.request(action.join, action.reason, at)
    elif isinstance(action, SwitchCharacter):
        delivery.characters.request(action.scene, action.character, at, delivery.settings.scene_debounce_ms / 1000.0)
    elif not isinstance(action, Notice):
        log.debug("ai_licia-obs: ignored an action of kind %s", type(action).__name__)


def presence_button(delivery: Delivery, join: bool, at: float) -> None:
    """Join chat now / Leave chat now."""
    if not delivery.can_send():
        delivery.error(delivery.cannot_send_reason())
        return
    delivery.presence.request(join, "you pressed the button", at)


def pause_automatic(delivery: Delivery, paused: bool) -> None:
    """Pause or resume automatic context; waiting automatic context is dropped on pause (it would go stale)."""
    if paused and not delivery.automatic_paused:
        gone = delivery.outbox.drop_automatic()
        log.info("Automatic context paused by you%s.", f"; {gone} waiting were not sent" if gone else "")
    elif not paused and delivery.automatic_paused:
        log.info("Automatic context resumed.")
    delivery.automatic_paused = paused


def rejoin(delivery: Delivery, at: float) -> None:
    """Ask ai_licia back into chat after she left unexpectedly (when sending is possible at all)."""
    if delivery.can_send():
        delivery.presence.request(True, "she left chat unexpectedly", at)


def _test(delivery: Delivery, command: cmd.TestConnection, at: float) -> None:
    delivery.pending_test = True


#: The worker dispatches commands by type: ``COMMANDS[type(command)](delivery, command, at)``.
COMMANDS = {
    cmd.ApplySettings: lambda delivery, command, at: delivery.apply_settings(command.settings),
    cmd.TestConnection: _test,
    cmd.JoinNow: lambda delivery, command, at: presence_button(delivery, True, at),
    cmd.LeaveNow: lambda delivery, command, at: presence_button(delivery, False, at),
    cmd.PauseAutomatic: lambda delivery, command, at: pause_automatic(delivery, True),
    cmd.ResumeAutomatic: lambda delivery, command, at: pause_automatic(delivery, False),
    cmd.KeyRejected: lambda delivery, command, at: delivery.key_rejected(),
    cmd.Rejoin: lambda delivery, command, at: rejoin(delivery, at),
}
