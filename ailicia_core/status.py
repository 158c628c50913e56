"""Status: one immutable snapshot of how things stand, for the OBS panel and a terminal.

The worker publishes a new snapshot after every change (one attribute assignment,
so readers on any thread never wait); :func:`render_status` turns it into the
plain-words lines the panel shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from .text import quote_name


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
    #: Context events dropped because too many were waiting (see worker overflow policy).
    dropped_context: int = 0
    notes: Tuple[str, ...] = field(default=())
    # issue 12: what the live events (EventSub) said; plain facts from hearing.py.
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
    #: issue 15: how "Connect with ai_licia" stands, in words ("" when it was not used); see connect_words.
    app_connect: str = ""


def render_status(status: Status) -> str:
    """The status as a few short lines, most important first."""
    lines = [status.app_connect] if status.app_connect else []
    if not status.enabled:
        lines.append("Switched off: nothing is sent (tick 'Enabled' to start).")
    if status.problems:
        lines.extend(f"Needs attention: {p}" for p in status.problems)
    elif status.configured:
        lines.append(status.connection)
    if status.paused_reason:
        lines.append(f"Paused: {status.paused_reason}")
    if status.dry_run:
        lines.append("Dry run: requests are written to the Script Log, nothing is sent.")
    lines.append(("Live. " if status.live else "Not live. ") + status.presence)
    if status.queued_generations:
        wait = f" (next in {status.next_generation_in_s:.0f} s)" if status.next_generation_in_s > 0 else ""
        lines.append(f"Reactions waiting: {status.queued_generations}{wait}.")
    elif status.next_generation_in_s > 0:
        lines.append(f"Next reaction possible in {status.next_generation_in_s:.0f} s.")
    if status.queued_context:
        lines.append(f"Context waiting to be sent: {status.queued_context}.")
    if status.dropped_context:
        lines.append(f"Context dropped because too much was waiting: {status.dropped_context}.")
    if status.last_error:
        lines.append(f"Last problem: {status.last_error}")
    if status.last_success:
        lines.append(f"Last success: {status.last_success}")
    lines.extend(status.notes)
    lines.extend(_live_event_lines(status))
    return "\n".join(lines)


#: issue 12: the listener's states in words ("" adds no line).
_LISTENER_WORDS = {
    "connecting": "Live events: connecting…",
    "connected": "",
    "key_rejected": "Live events are off: ai_licia rejected the API key.",
    "not_included": "Your ai_licia plan doesn't include live events: captions and confirmations are off",
    "not_found": "Your ai_licia plan doesn't include live events: captions and confirmations are off",
}


def _live_event_lines(status: Status) -> list:
    """issue 12: confirmed presence, character, listener trouble and caption hints."""
    lines = []
    if status.listener_state == "retrying":
        wait = status.listener_retry_in_s
        lines.append("Live events: connection lost; " + (f"trying again in {wait:.0f} s." if wait else "retrying."))
    elif _LISTENER_WORDS.get(status.listener_state):
        lines.append(_LISTENER_WORDS[status.listener_state])
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
