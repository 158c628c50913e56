"""Status: one immutable snapshot of how things stand, for the OBS panel and a terminal.

The worker publishes a new snapshot after every change (one attribute assignment,
so readers on any thread never wait); :func:`render_status` turns it into the
plain-words lines the panel shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from . import character_lane as lane
from .events import SOURCE_MISSING, SOURCE_UNREADABLE_KIND
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
    #: Context events dropped because too many were waiting (see worker overflow policy).
    dropped_context: int = 0
    notes: Tuple[str, ...] = field(default=())
    #: Watched sources that cannot be read (issue 13): facts with ``source``, ``reason``, ``detail``.
    watch_problems: Tuple[Any, ...] = ()


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
    lines.extend(f"Watched source: {watch_problem_words(p)}" for p in status.watch_problems)
    return "\n".join(lines)


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
