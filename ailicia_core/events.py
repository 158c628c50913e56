"""Domain events: what the OBS side reports, as plain frozen values.

The OBS glue copies strings and booleans out of OBS objects, builds exactly one
of these and hands it to :meth:`ailicia_core.engine.Engine.handle`. Nothing here
knows about OBS, HTTP or time: the engine stamps each event when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class SceneSwitched:
    """The program scene changed (after the transition ended)."""

    scene: str


@dataclass(frozen=True)
class StreamStarted:
    """The stream went live (STREAMING_STARTED, never STARTING); ``scene`` is on air."""

    scene: str = ""


@dataclass(frozen=True)
class StreamStopped:
    """The stream ended (STREAMING_STOPPED after a STARTED)."""


@dataclass(frozen=True)
class StreamAlreadyLive:
    """The script was loaded (or reloaded) while OBS was already streaming."""

    scene: str = ""


@dataclass(frozen=True)
class RecordingStarted:
    """Recording started."""


@dataclass(frozen=True)
class RecordingStopped:
    """Recording stopped."""


@dataclass(frozen=True)
class RecordingPaused:
    """Recording paused."""


@dataclass(frozen=True)
class RecordingResumed:
    """Recording resumed after a pause."""


@dataclass(frozen=True)
class SourceVisibilityChanged:
    """A scene item viewers can see was shown or hidden.

    ``scene`` is the scene (or group) holding the item, ``source`` the item's
    source name. The glue only reports items of the program scene tree.
    """

    scene: str
    source: str
    visible: bool


@dataclass(frozen=True)
class AudioMuteChanged:
    """An audio source was muted or unmuted.

    ``source_kind`` is OBS's source id (``pulse_input_capture``,
    ``wasapi_input_capture``, ...); the core turns it into words.
    """

    source: str
    muted: bool
    source_kind: str = ""


@dataclass(frozen=True)
class TriggerPressed:
    """Hotkey trigger ``slot`` (1-based) was pressed: force a reaction with its prompt."""

    slot: int


@dataclass(frozen=True)
class ManualContext:
    """Explicit context from the streamer (command line, a button): always sent."""

    text: str


@dataclass(frozen=True)
class ManualGeneration:
    """An explicit request for an immediate reaction: always sent, but paced."""

    text: str


# --- watched sources -------------------------------------------------------------------


@dataclass(frozen=True)
class WatchedTextRead:
    """Watched text source ``source`` shows ``text`` now (reported only when it changed)."""

    source: str
    text: str


@dataclass(frozen=True)
class WatchedFileNamed:
    """Watched text source ``source`` shows the file at ``path``: the core reads it (off the OBS thread)."""

    source: str
    path: str


@dataclass(frozen=True)
class WatchedMediaRead:
    """Watched VLC source ``source`` plays ``title`` by ``artist`` (either may be "")."""

    source: str
    title: str
    artist: str


#: Why a watched source cannot be read: no source has that name, or its kind has no text to read.
SOURCE_MISSING = "missing"
SOURCE_UNREADABLE_KIND = "unreadable kind"


@dataclass(frozen=True)
class WatchedSourceUnavailable:
    """Watched source ``source`` cannot be read (``reason`` above; ``kind`` is OBS's source id)."""

    source: str
    reason: str
    kind: str = ""


@dataclass(frozen=True)
class WatchedSourceSettled:
    """What ``source`` shows settled (debounced, deduplicated) as ``text``; ``kind`` is "text" or "media".

    ``first``: the source's first settled text since the script loaded.
    """

    source: str
    text: str
    kind: str = "text"
    first: bool = False


#: What the glue reports about watched sources: the engine's source watcher takes these, not the worker.
WATCH_READINGS = (WatchedTextRead, WatchedFileNamed, WatchedMediaRead, WatchedSourceUnavailable)

DomainEvent = Union[
    SceneSwitched,
    StreamStarted,
    StreamStopped,
    StreamAlreadyLive,
    RecordingStarted,
    RecordingStopped,
    RecordingPaused,
    RecordingResumed,
    SourceVisibilityChanged,
    AudioMuteChanged,
    TriggerPressed,
    ManualContext,
    ManualGeneration,
    WatchedTextRead,
    WatchedFileNamed,
    WatchedMediaRead,
    WatchedSourceUnavailable,
    WatchedSourceSettled,
]
