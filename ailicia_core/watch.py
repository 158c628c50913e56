"""Watched sources: what text and media sources show, turned into context (pure).

The glue reads a watched OBS source each timer tick and reports a change as a
domain event; :class:`WatchTracker` debounces and deduplicates those readings and
says which settled; :func:`watch_sentence` gives the words ai_licia hears
("Now playing: Lofi Chill Mix Vol 2", "Race HUD: Lap 5/12"). Nothing here does I/O
or reads a clock: times are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .text import clean_text

#: More watched sources than this are ignored: each one costs a little on every OBS timer tick.
MAX_WATCHED_SOURCES = 20

# Why the file behind a from-file text source cannot be read (the status turns these into words).
#: Missing, or any other failure to read it.
FILE_UNREADABLE = "file unreadable"
#: A pipe, a device, a folder: anything but a regular file is never opened for reading.
FILE_NOT_REGULAR = "file not regular"
#: Reading it was refused for several polls in a row (locked by its writer, or no permission).
FILE_DENIED = "file denied"
#: Words in a source name or label that make its text a "Now playing" line.
_NOW_PLAYING_WORDS = (
    "now playing",
    "nowplaying",
    "now_playing",
    "song",
    "music",
    "track",
    "tuna",
    "snip",
    "spotify",
    "playlist",
)
_NOW_PLAYING_PREFIXES = ("now playing:", "now playing -", "now playing")


@dataclass(frozen=True)
class WatchedSource:
    """One line of ``watched_sources``: the OBS source ``name`` and the ``label`` ai_licia hears ("" = the name)."""

    name: str
    label: str = ""

    @property
    def shown_as(self) -> str:
        return self.label or self.name


def parse_watched_sources(lines: Sequence[str]) -> Tuple[Tuple[WatchedSource, ...], Tuple[str, ...]]:
    """(watched sources, problems in plain words) from the setting's non-empty lines; never raises."""
    watched: List[WatchedSource] = []
    problems: List[str] = []
    seen = set()
    for line in lines:
        name, found, label = line.partition(" = " if " = " in line else "=")
        name, label = name.strip(), label.strip()
        if not name:
            problems.append(f"Watched sources: '{line[:60]}' has no source name before '='.")
            continue
        if name.casefold() in seen:
            problems.append(f"Watched sources: '{name[:60]}' is listed twice; the first line counts.")
            continue
        if len(watched) >= MAX_WATCHED_SOURCES:
            problems.append(
                f"Watched sources: at most {MAX_WATCHED_SOURCES} sources; '{name[:60]}' and the "
                "lines after it are ignored."
            )
            break
        seen.add(name.casefold())
        watched.append(WatchedSource(name, label if found else ""))
    return tuple(watched), tuple(problems)


def is_now_playing(source: WatchedSource, kind: str = "") -> bool:
    """True when the source shows the current track: a VLC source, or a name/label that says so."""
    if kind == "media":
        return True
    words = f"{source.name} {source.label}".casefold()
    return any(word in words for word in _NOW_PLAYING_WORDS)


def media_text(title: str, artist: str) -> str:
    """A VLC source's metadata as one line: "Title by Artist", or whichever of the two is known."""
    title, artist = clean_text(title).strip(), clean_text(artist).strip()
    if title and artist:
        return f"{title} by {artist}"
    return title or artist


def shown_text(raw: str) -> str:
    """What a text source shows, on one line: its non-empty lines joined with " / "."""
    lines = [clean_text(line).strip() for line in str(raw).splitlines()]
    return " / ".join(line for line in lines if line)


def watch_sentence(source: WatchedSource, text: str, kind: str = "text") -> str:
    """The context for ``text`` shown by ``source``: "Now playing: …" or "<label>: <text>"."""
    text = shown_text(text)
    if is_now_playing(source, kind):
        if text.casefold().startswith(_NOW_PLAYING_PREFIXES):
            return text  # Tuna/Snip templates often say "Now playing: …" themselves
        return f"Now playing: {text}"
    return f"{clean_text(source.shown_as).strip()}: {text}"


def find_watched(watched: Sequence[WatchedSource], name: str) -> Optional[WatchedSource]:
    """The configured entry for source ``name`` (exact match first, then any case)."""
    for entry in watched:
        if entry.name == name:
            return entry
    folded = name.casefold()
    return next((entry for entry in watched if entry.name.casefold() == folded), None)


@dataclass
class _Reading:
    text: str
    kind: str
    changed_at: float


class WatchTracker:
    """Debounces and deduplicates readings per source.

    A reading settles once it stayed unchanged for the debounce; it is reported
    only if it differs from the last settled text of that source (a track that
    flips A → B → A within the debounce is never reported). Empty text never
    settles: a source that went blank has nothing to say.
    """

    def __init__(self) -> None:
        self._pending: Dict[str, _Reading] = {}
        self._settled: Dict[str, str] = {}

    def observe(self, source: str, text: str, now: float, kind: str = "text") -> None:
        """Record that ``source`` shows ``text`` at ``now``."""
        text = shown_text(text)
        pending = self._pending.get(source)
        if pending is not None and pending.text == text:
            return
        if pending is None and self._settled.get(source) == text:
            return
        self._pending[source] = _Reading(text, kind, now)

    def forget(self, source: str) -> None:
        """Stop tracking ``source`` (it left the watched list)."""
        self._pending.pop(source, None)
        self._settled.pop(source, None)

    def settle(self, now: float, debounce_s: float) -> List[Tuple[str, str, str, bool]]:
        """(source, text, kind, first) of every reading that settled by ``now``, oldest change first.

        ``first`` is true for a source's first settled text since this tracker began (the script loaded).
        """
        ready = sorted((r.changed_at, s) for s, r in self._pending.items() if now - r.changed_at >= debounce_s)
        out = []
        for _, source in ready:
            reading = self._pending.pop(source)
            if reading.text and reading.text != self._settled.get(source):
                out.append((source, reading.text, reading.kind, source not in self._settled))
            if reading.text:
                self._settled[source] = reading.text
        return out

    def due_at(self, debounce_s: float) -> Optional[float]:
        """When the next reading settles (None when nothing is pending)."""
        if not self._pending:
            return None
        return min(r.changed_at for r in self._pending.values()) + debounce_s
