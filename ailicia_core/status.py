"""Status: one immutable snapshot of how things stand, and every panel sentence about delivery.

The worker publishes a new snapshot after every change (one attribute assignment,
so readers on any thread never wait); :func:`render_status` turns it into the
plain-words lines the panel shows. The words for errors (:func:`describe_error`),
for presence (:func:`describe_presence`) and for a held lane (:func:`describe_hold`)
live here too: clients and helpers return facts, this module composes sentences.
Text that came from outside (a channel, a server's message) is cleaned and
redacted before it is quoted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from . import errors as err
from .error_words import explain_error, explain_live
from .feature_words import (  # noqa: F401 (re-exported: the status's words live here and there)
    character_words,
    characters_words,
    connect_words,
    render_dock_line,
    watch_problem_words,
)
from .logsafe import redact
from .text import abbreviate, quote_name


@dataclass(frozen=True)
class Status:
    """What the streamer needs to know right now. All text is plain words, never the key."""

    configured: bool = False
    problems: Tuple[str, ...] = ()
    enabled: bool = True
    dry_run: bool = False
    live: bool = False
    #: True in chat, False not in chat, None not known yet.
    in_chat: Optional[bool] = None
    presence: str = "ai_licia has not been asked to join yet."
    connection: str = "Connection not tested yet."
    #: Non-empty while sending is paused (for example a rejected key).
    paused_reason: str = ""
    last_success: str = ""
    last_error: str = ""
    queued_context: int = 0
    queued_generations: int = 0
    #: Seconds until the next forced reaction may go out (0 when it may go now).
    next_generation_in_s: float = 0.0
    #: Automatic context dropped because too much was waiting (see the outbox's overflow policy).
    dropped_context: int = 0
    notes: Tuple[str, ...] = field(default=())
    #: One sentence per lane that is held back by a failure or a server's limit.
    waits: Tuple[str, ...] = ()
    #: True while the streamer paused automatic context (Engine.pause_automatic).
    automatic_paused: bool = False
    #: Non-empty when the delivery thread ended unexpectedly (it restarts with the next event).
    worker_problem: str = ""
    # What the live events (EventSub) said; plain facts from hearing.py.
    #: The listener's state (listener.py constants); "" when there is no listener.
    listener_state: str = ""
    listener_retry_in_s: Optional[float] = None
    #: From system.join / system.left: True in chat, False left, None not heard yet; at HH:MM.
    confirmed_in_chat: Optional[bool] = None
    presence_at: str = ""
    left_unexpectedly: bool = False
    rejoin_asked: bool = False
    character: str = ""
    caption_source: str = ""
    #: What the OBS glue found under caption_source: "ok", "missing", "not_text" or "" (not looked yet).
    caption_target: str = ""
    heard_messages: int = 0
    #: Watched sources that cannot be read: facts with ``source``, ``reason``, ``detail``.
    watch_problems: Tuple[Any, ...] = ()
    #: How "Connect with ai_licia" stands, in words ("" when it was not used); see connect_words.
    app_connect: str = ""

    #: The active character's name from the last connection test ("" when not known yet).
    active_character: str = ""


# --- errors -----------------------------------------------------------------------------


def quoted(text: Any, limit: int = 40) -> str:
    """Outside text (a channel, a server's words) made safe to quote: one line, short, no secret."""
    return redact(abbreviate(str(text), limit))


def describe_error(error: err.ApiError) -> str:
    """The panel's sentence for ``error`` (what went wrong and what to check; never when to retry).

    The words come from the one table shared with the command line (:mod:`ailicia_core.error_words`).
    """
    return explain_error(error).text


# --- waiting ----------------------------------------------------------------------------

_HOLD_CAUSES = {
    err.RATE_LIMITED: "'too many requests'",
    err.SERVER: "a server error",
    err.WEB_PAGE: "a web page answering instead of ai_licia",
    err.UNREADABLE: "an unreadable answer",
    err.TOO_LARGE: "an answer far too large",
    err.READ_TIMEOUT: "no answer in time",
    err.CONNECT_TIMEOUT: "no connection",
    err.UNREACHABLE: "no connection",
    err.BROKEN: "a broken connection",
    err.TLS: "a certificate problem",
    err.NOT_HTTPS: "an address that does not speak https",
}


def format_wait(seconds: float) -> str:
    """A wait as a person says it, rounded up so it is never "0 s": "8 s", "2 min", "1 h 5 min"."""
    if seconds != seconds or seconds <= 0:
        return "a moment"
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def describe_hold(label: str, reason: str, seconds: float) -> str:
    """ "Context paused for 2 min after 'too many requests'." (``label`` names the lane)."""
    cause = _HOLD_CAUSES.get(reason, "a failure")
    return f"{label} paused for {format_wait(seconds)} after {cause}."


#: The words after a give-up, by decide's reason (refused, too_many_tries, rate_limited_too_often).
CONTEXT_GIVE_UP = {
    "refused": "Not sent: {}",
    "too_many_tries": "Gave up on: {}",
    "rate_limited_too_often": "ai_licia kept answering 'too many requests'; gave up on: {}",
}
REACTION_GIVE_UP = {
    "refused": "Reaction not sent: {}",
    "too_many_tries": "ai_licia could not be reached; gave up the reaction '{}'.",
    "rate_limited_too_often": "ai_licia kept answering 'too many requests'; gave up the reaction '{}'.",
}


# --- presence ---------------------------------------------------------------------------


def describe_presence(note: Any) -> str:
    """The presence line for a :class:`~ailicia_core.presence.PresenceNote`."""
    verb = "join" if note.join else "leave"
    kind = note.kind
    if kind == "not_asked":
        return "ai_licia has not been asked to join yet."
    if kind == "asking":
        return f"Asking ai_licia to {verb} chat ({note.why})."
    if kind == "in_chat":
        since = _clock_time(note.joined_at_ms)
        return "ai_licia is in chat" + (f" (joined at {since})." if since else ".")
    if kind == "already":
        return "ai_licia is in chat (she was already there)."
    if kind == "dry_run":
        return f"Dry run: ai_licia would have been asked to {verb} chat."
    if kind == "confirm_retry":
        return (
            f"ai_licia did not confirm joining in time; asking again (try {note.attempt} of {note.of}). "
            "She may still join."
        )
    if kind == "unconfirmed":
        detail = quoted(note.server_message, 120) or "no confirmation"
        return (
            f"ai_licia did not confirm joining chat ({detail}). She may still join; press 'Join chat now' to ask again."
        )
    if kind == "left":
        return "ai_licia was asked to leave chat."
    if kind == "waiting_key":
        return f"Waiting for a working API key to ask ai_licia to {verb} chat."
    if kind == "retrying":
        if note.keep_trying:
            return (
                f"Could not {verb} yet: {describe_error(note.error)} Asking again in "
                f"{format_wait(note.retry_in_s)}, for as long as the stream is live."
            )
        return f"Could not {verb} yet: {describe_error(note.error)} Trying again in {format_wait(note.retry_in_s)}."
    if kind == "failed":
        return f"ai_licia could not {verb} chat: {describe_error(note.error)}"
    return f"ai_licia: {kind}."


def _clock_time(epoch_ms: Optional[int]) -> str:
    """ "HH:MM" local time of an epoch in ms; "" when absent or absurd."""
    try:
        return time.strftime("%H:%M", time.localtime(epoch_ms / 1000)) if epoch_ms else ""
    except (OverflowError, OSError, ValueError):
        return ""


# --- the panel --------------------------------------------------------------------------


def render_status(status: Status) -> str:
    """The status as a few short lines, most important first; one sentence is never shown twice."""
    lines = [status.app_connect] if status.app_connect else []
    if status.worker_problem:
        lines.append(status.worker_problem)
    if not status.enabled:
        lines.append("Switched off: nothing is sent (tick 'Enabled' to start).")
    if status.problems:
        lines.extend(f"Needs attention: {p}" for p in status.problems)
    elif status.configured and not (status.paused_reason and status.paused_reason in status.connection):
        lines.append(status.connection)
    if status.paused_reason:
        lines.append(f"Paused: {status.paused_reason}")
    if status.automatic_paused:
        lines.append("Paused by you: automatic context is not sent.")
    if status.dry_run:
        lines.append("Dry run: requests are written to the Script Log, nothing is sent.")
    lines.append(("Live. " if status.live else "Not live. ") + status.presence)
    lines.extend(status.waits)
    if status.queued_generations:
        wait = f" (next in {format_wait(status.next_generation_in_s)})" if status.next_generation_in_s > 0 else ""
        lines.append(f"Reactions waiting: {status.queued_generations}{wait}.")
    elif status.next_generation_in_s > 0:
        lines.append(f"Next reaction possible in {format_wait(status.next_generation_in_s)}.")
    if status.queued_context:
        lines.append(f"Context waiting to be sent: {status.queued_context}.")
    if status.dropped_context:
        lines.append(f"Context dropped because too much was waiting: {status.dropped_context}.")
    if status.last_error and not (status.paused_reason and status.paused_reason in status.last_error):
        lines.append(f"Last problem: {status.last_error}")
    if status.last_success:
        lines.append(f"Last success: {status.last_success}")
    lines.extend(status.notes)
    lines.extend(_live_event_lines(status))
    lines.extend(f"Watched source: {watch_problem_words(p)}" for p in status.watch_problems)
    return redact("\n".join(lines))  # the last belt: a key that reached any field is masked here


#: The listener's states in words ("" adds no line); its refusals come from error_words' table.
_LISTENER_WORDS = {
    "connecting": "Live events: connecting…",
    "connected": "",
}


def _live_event_lines(status: Status) -> list:
    """Confirmed presence, character, listener trouble and caption hints."""
    lines = []
    if status.listener_state == "retrying":
        wait = status.listener_retry_in_s
        lines.append("Live events: connection lost; " + (f"trying again in {wait:.0f} s." if wait else "retrying."))
    elif _LISTENER_WORDS.get(status.listener_state):
        lines.append(_LISTENER_WORDS[status.listener_state])
    elif explain_live(status.listener_state) is not None:
        lines.append(explain_live(status.listener_state).text)
    if status.confirmed_in_chat is True:
        lines.append(f"ai_licia is in chat (confirmed {status.presence_at}).")
    elif status.confirmed_in_chat is False and status.left_unexpectedly:
        back = " Asked her back." if status.rejoin_asked else ""
        lines.append(
            f"ai_licia left chat at {status.presence_at} without being asked (someone may have removed her).{back}"
        )
    elif status.confirmed_in_chat is False:
        lines.append(f"ai_licia left chat ({status.presence_at}).")
    if status.character:
        lines.append(f"Active character: {status.character}.")
    source = quote_name(status.caption_source) if status.caption_source else ""
    if source and status.caption_target == "missing":
        lines.append(
            f"Captions: there is no source named '{source}'. Create a Text source with "
            "that name, or change 'Caption source'."
        )
    elif source and status.caption_target == "not_text":
        lines.append(f"Captions: '{source}' is not a Text source (GDI+ or FreeType 2).")
    return lines


def skipped_events_words(count: int, seconds: float) -> str:
    """The one Script Log line for live events skipped because too many came at once (never one line each)."""
    span = "minute" if seconds >= 55 else f"{max(1, round(seconds))} s"
    noun = "event" if count == 1 else "events"
    return (
        f"Live events: {count} {noun} skipped in the last {span} "
        "(they came faster than captions and confirmations can follow)."
    )
