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

from . import character_lane as lane
from . import errors as err
from .events import SOURCE_MISSING, SOURCE_UNREADABLE_KIND
from .logsafe import redact
from .text import abbreviate


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
    #: One sentence per lane that is held back by a failure or a server's limit (issue 10).
    waits: Tuple[str, ...] = ()
    #: True while the streamer paused automatic context (Engine.pause_automatic).
    automatic_paused: bool = False
    #: Non-empty when the delivery thread ended unexpectedly (it restarts with the next event).
    worker_problem: str = ""
    #: Watched sources that cannot be read (issue 13): facts with ``source``, ``reason``, ``detail``.
    watch_problems: Tuple[Any, ...] = ()
    #: issue 15: how "Connect with ai_licia" stands, in words ("" when it was not used); see connect_words.
    app_connect: str = ""

    #: The active character's name from the last connection test ("" when not known yet).
    active_character: str = ""


# --- errors -----------------------------------------------------------------------------


def quoted(text: Any, limit: int = 40) -> str:
    """Outside text (a channel, a server's words) made safe to quote: one line, short, no secret."""
    return redact(abbreviate(str(text), limit))


def describe_error(error: err.ApiError) -> str:
    """The panel's sentence for ``error`` (what went wrong and what to check; never when to retry)."""
    what, code, reason = error.what, error.status_code, error.reason
    channel = quoted(error.channel)
    words = {
        err.KEY_REJECTED: f"ai_licia rejected the API key for channel '{channel}' ({code}). Paste the key again from "
        "your ai_licia dashboard and check the channel. Sending is paused until the settings change.",
        err.NEEDS_SUBSCRIPTION: f"ai_licia needs an active subscription or credits for this ({code}). "
        "Check your ai_licia plan.",
        err.NOT_LINKED: f"ai_licia refused the {what} for channel '{channel}' ({code}): the channel is not linked "
        "to this API key, or the account has no active subscription or credits.",
        err.CHANNEL_NOT_FOUND: f"ai_licia cannot find the channel '{channel}' for this API key ({code}). "
        "Check the channel name.",
        err.ADDRESS_NOT_FOUND: f"ai_licia's API was not found at this address for the {what} ({code}); "
        "check the API address in Advanced (it ends at the host name, without /v1).",
        err.INVALID: f"ai_licia refused the {what} as invalid ({code}).",
        err.RATE_LIMITED: f"ai_licia answered the {what} with 'too many requests' ({code}).",
        err.SERVER: f"ai_licia's server had a problem with the {what} ({code}).",
        err.REDIRECT: f"The API address redirected the {what} elsewhere ({code}); check the API address in Advanced.",
        err.UNEXPECTED_STATUS: f"ai_licia answered the {what} with an unexpected status ({code}).",
        err.WEB_PAGE: f"The {what} was answered by a web page, not by ai_licia: check the API address and your "
        "network (a Wi-Fi login page?).",
        err.UNREADABLE: f"ai_licia's answer to the {what} could not be read (status {code}, not the expected JSON).",
        err.TOO_LARGE: f"ai_licia's answer to the {what} was too large to read (over 64 KiB); check the API address "
        "and your network (a proxy?).",
        err.CONNECT_TIMEOUT: f"Could not reach ai_licia for the {what}: the connection timed out.",
        err.READ_TIMEOUT: f"ai_licia did not answer the {what} in time.",
        err.TLS: f"Could not open a secure connection to ai_licia for the {what} (certificate problem).",
        err.NOT_HTTPS: f"The API address does not speak https:// (it answered the {what} in plain HTTP); check "
        "the API address in Advanced (http:// is only for a sandbox on this computer).",
        err.UNREACHABLE: f"Could not reach ai_licia for the {what}: check the internet connection and the API address.",
        err.BROKEN: f"The connection to ai_licia broke during the {what}.",
        err.BAD_CHANNEL: f"'{channel}' is not a channel name. Check the channel in Connection.",
        err.BAD_CHARACTER_ID: "That character has no usable id.",
    }
    return words.get(reason) or f"Sending the {what} to ai_licia failed ({reason})."


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
    lines.extend(f"Watched source: {watch_problem_words(p)}" for p in status.watch_problems)
    return redact("\n".join(lines))  # the last belt: a key that reached any field is masked here


# --- issue 13: watched sources and characters ------------------------------------------------


def _shown(name: str, limit: int = 60) -> str:
    return abbreviate(name, limit)


def watch_problem_words(problem: Any) -> str:
    """A watched source that cannot be read, in plain words (reasons: events.SOURCE_*, FILE_UNREADABLE)."""
    name = _shown(problem.source)
    if problem.reason == SOURCE_MISSING:
        return f"there is no source called '{name}': check the name in 'Watched sources' (any case works)."
    if problem.reason == SOURCE_UNREADABLE_KIND:
        return (
            f"'{name}' is a {_shown(problem.detail, 40) or 'kind of'} source, which shows no text to read: "
            "watch a Text (GDI+ or FreeType 2) or VLC source."
        )
    return f"cannot read the file behind '{name}' ({_shown(problem.detail, 80)}): check that it exists."


def character_words(outcome: str, name: str, scene: str = "", known: Tuple[str, ...] = ()) -> str:
    """What a character switch did, in plain words (``outcome``: one of character_lane's outcomes)."""
    name, where = _shown(name, 40), f" for the scene '{_shown(scene, 40)}'" if scene else ""
    if outcome == lane.ACTIVATED:
        return f"ai_licia is now the character '{name}'{where}."
    if outcome == lane.DRY_RUN:
        return f"Dry run: the character '{name}' would be made active{where}."
    if outcome == lane.ALREADY_ACTIVE:
        return f"The character '{name}' is already active{where}."
    if outcome == lane.UNKNOWN:
        names = ", ".join(f"'{_shown(k, 40)}'" for k in known) or "none"
        return f"There is no character called '{name}'{where}. Characters you have: {names}."
    if outcome == lane.FORBIDDEN:
        return f"ai_licia refused to switch to the character '{name}' (403): it does not belong to this API key."
    if outcome == lane.NOT_FOUND:
        return f"ai_licia no longer knows the character '{name}' (404): check 'Characters per scene'."
    if outcome == lane.GAVE_UP:
        return f"Could not switch to the character '{name}'{where}: ai_licia could not be reached; gave up."
    return f"Could not switch to the character '{name}'{where} yet; trying again."


def characters_words(names: Tuple[str, ...], active: str) -> str:
    """The character list of a connection test, so the streamer can copy the names."""
    if not names:
        return "Characters: none yet (create one in your ai_licia dashboard)."
    listed = ", ".join(_shown(n, 40) + (" (active)" if n == active else "") for n in names[:12])
    more = f" and {len(names) - 12} more" if len(names) > 12 else ""
    return f"Characters: {listed}{more}."
# --- issue 15: Connect with ai_licia (the words for each ConnectState of ailicia_core.connect) ---------

_CONNECT_PHASES = {
    "opening": "Connect with ai_licia: asking the ai_licia app on this computer…",
    "welcome_awaited": "Connect with ai_licia: asking the ai_licia app on this computer…",
    "requested": "Connect with ai_licia: asking the ai_licia app on this computer…",
}
_NOT_READY = (
    "The ai_licia app is open but not ready: sign in there and wait until your dashboard has loaded, "
    "then click 'Connect with ai_licia' again."
)
_CONNECT_OUTCOMES = {
    "no_app": "Open the ai_licia app on this computer and sign in, then click again.",
    "signed_out": _NOT_READY,
    "timed_out": "Connect with ai_licia: nobody clicked Allow in the ai_licia app within {wait}; click again.",
    "dropped": "The ai_licia app closed the connection before answering: click 'Connect with ai_licia' again.",
    "odd_answer": (
        "The ai_licia app's answer could not be used: click 'Connect with ai_licia' again, or paste "
        "your API key instead."
    ),
    "not_the_app": (
        "Something other than the ai_licia app answers on port {port}: check 'ai_licia app port' "
        "(Advanced), then click again."
    ),
    "no_library": (
        "Connect with ai_licia needs the Python package websocket-client, which is not installed: "
        "use the release zip (it includes it), or paste your API key instead."
    ),
    "stopped": "",
}
_DENIED = {
    "user_denied": "You declined in the ai_licia app; nothing was changed. Click again to allow it.",
    "timeout": (
        "The ai_licia app stopped waiting for your answer: click 'Connect with ai_licia' again, then Allow in the app."
    ),
    "not_ready": _NOT_READY,
}
_APP_ERRORS = {
    "rate_limited": "The ai_licia app asks to wait a little before asking again: click again in a minute.",
    "request_pending": ("The ai_licia app is already showing a request from OBS: answer it there (Allow or Deny)."),
    "not_ready": _NOT_READY,
    "ui_unavailable": (
        "The ai_licia app cannot show its consent window right now: bring it to the front, then click again."
    ),
}
_PROTOCOL_ERRORS = ("missing_hello", "invalid_client_type", "invalid_client_id", "invalid_scope")


def connect_words(state: object) -> str:
    """One line for a ``ConnectState`` (phase, outcome, detail, channel, port, wait_s); "" before any attempt."""
    phase = getattr(state, "phase", "idle")
    outcome = getattr(state, "outcome", "")
    detail = getattr(state, "detail", "") or "no reason given"
    if phase == "granted":
        return f"Connected as {getattr(state, 'channel', '')} via the ai_licia app."
    if phase == "pending":
        return (
            f"Connect with ai_licia: click Allow in the ai_licia app (waiting up to "
            f"{_wait_words(getattr(state, 'wait_s', 0))})."
        )
    if phase != "failed":
        return _CONNECT_PHASES.get(phase, "")
    if outcome == "denied":
        return _DENIED.get(detail, f"The ai_licia app declined ({detail}): click again, or paste your API key instead.")
    if outcome == "app_error":
        if detail in _PROTOCOL_ERRORS:
            return (
                f"The ai_licia app refused the request ({detail}); this ai_licia-obs may not match your app's "
                "version: update both, or paste your API key instead."
            )
        return _APP_ERRORS.get(
            detail, f"The ai_licia app refused the request ({detail}): click again, or paste your API key instead."
        )
    words = _CONNECT_OUTCOMES.get(outcome, "Connect with ai_licia did not finish: click again.")
    return words.format(wait=_wait_words(getattr(state, "wait_s", 0)), port=getattr(state, "port", ""))


def _wait_words(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
# --- issue 14: the dock's words for the panel ------------------------------------------------------


def render_dock_line(outcome: str, port: int) -> str:
    """The panel's line about the dock for a :class:`ailicia_core.dock.DockStart` outcome.

    ``outcome`` is ``running``, ``disabled``, ``port_in_use``, ``no_token`` or ``failed``.
    """
    if outcome == "running":
        return f"Dock running on this computer (port {port}): paste its address in View → Docks → Custom Browser Docks."
    if outcome == "disabled":
        return "Dock switched off (tick 'Dock enabled' in Advanced to use it)."
    if outcome == "port_in_use":
        return f"Port {port} is in use by another program: change dock_port in Advanced."
    if outcome == "no_token":
        return "Dock: no access token yet; click 'New dock address' to make one."
    return f"Dock: could not start on port {port}; try another dock_port in Advanced."


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
