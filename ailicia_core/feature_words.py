"""The status's words for the features around delivery: watched sources and characters,
Connect with ai_licia and the dock.

Part of the status rendering (``status.py`` re-exports every name here): helpers elsewhere return
facts and outcomes, and only these functions and ``status.py`` turn them into sentences.
"""

from __future__ import annotations

from typing import Any, Tuple

from . import characters as lane
from .events import SOURCE_MISSING, SOURCE_UNREADABLE_KIND
from .text import abbreviate
from .watch import FILE_DENIED, FILE_NOT_REGULAR

# --- watched sources and characters ---------------------------------------------------------


def _shown(name: str, limit: int = 60) -> str:
    return abbreviate(name, limit)


def watch_problem_words(problem: Any) -> str:
    """A watched source that cannot be read, in plain words (reasons: events.SOURCE_*, watch.FILE_*)."""
    name = _shown(problem.source)
    if problem.reason == SOURCE_MISSING:
        return f"there is no source called '{name}': check the name in 'Watched sources' (any case works)."
    if problem.reason == SOURCE_UNREADABLE_KIND:
        return (
            f"'{name}' is a {_shown(problem.detail, 40) or 'kind of'} source, which shows no text to read: "
            "watch a Text (GDI+ or FreeType 2) or VLC source."
        )
    if problem.reason == FILE_NOT_REGULAR:
        return (
            f"the file behind '{name}' ({_shown(problem.detail, 80)}) is not a regular file (a pipe, a device "
            "or a folder), so it is never read: point the Text source at a text file."
        )
    if problem.reason == FILE_DENIED:
        return (
            f"cannot read the file behind '{name}' ({_shown(problem.detail, 80)}): another program keeps it "
            "locked, or reading it is not allowed."
        )
    return f"cannot read the file behind '{name}' ({_shown(problem.detail, 80)}): check that it exists."


def character_words(outcome: str, name: str, scene: str = "", known: Tuple[str, ...] = ()) -> str:
    """What a character switch did, in plain words (``outcome``: one of the outcomes in characters.py)."""
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


# --- Connect with ai_licia (the words for each ConnectState of ailicia_core.connect) ---------

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


# --- the dock's words for the panel ---------------------------------------------------------------


def render_dock_line(outcome: str, port: int) -> str:
    """The panel's line about the dock for a :class:`ailicia_core.dock.DockStart` outcome.

    ``outcome`` is ``running``, ``starting``, ``disabled``, ``port_in_use``, ``no_token`` or ``failed``.
    """
    if outcome == "running":
        return f"Dock running on this computer (port {port}): paste its address in View → Docks → Custom Browser Docks."
    if outcome == "starting":
        return f"Dock starting on port {port}: waiting a moment for the previous dock to free it."
    if outcome == "disabled":
        return "Dock switched off (tick 'Dock enabled' in Advanced to use it)."
    if outcome == "port_in_use":
        return f"Port {port} is in use by another program: change dock_port in Advanced."
    if outcome == "no_token":
        return "Dock: no access token yet; click 'New dock address' to make one."
    return f"Dock: could not start on port {port}; try another dock_port in Advanced."
