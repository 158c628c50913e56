"""Status: one immutable snapshot of how things stand, for the OBS panel and a terminal.

The worker publishes a new snapshot after every change (one attribute assignment,
so readers on any thread never wait); :func:`render_status` turns it into the
plain-words lines the panel shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from .logsafe import redact


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


def render_status(status: Status) -> str:
    """The status as a few short lines, most important first."""
    lines = []
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
    return redact("\n".join(lines))  # the last belt: a key that reached any field is masked here
