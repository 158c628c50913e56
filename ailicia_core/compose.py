"""Composing: pure functions from (event, settings, stream state, time) to actions.

:func:`compose` decides *what* ai_licia should hear about an event, never *how*
or *when* it is sent (that is the worker's job). It returns the new stream state
and a tuple of actions; it does no I/O and reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple, Union

from . import events as ev
from .characters import character_for_scene
from .limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from .settings import Settings
from .text import clean_text, fit, format_duration, quote_name
from .watch import WatchedSource, find_watched, watch_sentence


@dataclass(frozen=True)
class StreamState:
    """What the core remembers about the stream between events."""

    live: bool = False
    live_since: Optional[float] = None
    scene: str = ""
    recording: bool = False
    recording_since: Optional[float] = None
    #: Watched-source context held back while not live (``only_when_live``): (source, sentence), sent at go-live.
    held_watch: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SendContext:
    """Send ``content`` to ``POST /v1/events``. ``kind`` "scene" is debounced by the worker."""

    content: str
    event_type: str
    ttl: Optional[int] = None
    kind: str = "context"


@dataclass(frozen=True)
class SendGeneration:
    """Ask for a reaction (``POST /v1/events/generations``): paced by the worker."""

    content: str
    event_type: str
    #: OpenAPI GenerationFeatures as sorted (name, flag) pairs, e.g. (("tts", True),); () sends none.
    features: Tuple[Tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class SwitchCharacter:
    """Make the character called ``character`` active once ``scene`` stayed on air past the scene debounce.

    ``character`` "" means the scene maps to none: a switch still waiting is called off.
    """

    scene: str
    character: str


@dataclass(frozen=True)
class ChangePresence:
    """Ask ai_licia to join (``join=True``) or leave chat."""

    join: bool
    reason: str


@dataclass(frozen=True)
class Notice:
    """Something the streamer should know that is not a request (shown in status and log)."""

    message: str


Action = Union[SendContext, SendGeneration, ChangePresence, Notice, SwitchCharacter]


def compose(
    event: ev.DomainEvent, settings: Settings, state: StreamState, now: float
) -> Tuple[StreamState, Tuple[Action, ...]]:
    """The new stream state and what to send for ``event`` happening at ``now`` (monotonic s)."""
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return state, ()
    new_state, actions = handler(event, settings, state, now)
    new_state, actions = _after(event, settings, state, new_state, actions)
    if not settings.enabled:
        # The master switch silences automatic sending; explicit requests still go.
        actions = tuple(a for a in actions if isinstance(a, Notice) or _is_explicit(event))
    return new_state, actions


def _is_explicit(event: ev.DomainEvent) -> bool:
    return isinstance(event, (ev.ManualContext, ev.ManualGeneration))


def context(settings: Settings, content: str, kind: str = "context") -> SendContext:
    """A :class:`SendContext` fitted to the 700-character limit, with the configured ttl."""
    return SendContext(
        content=fit(clean_text(content), CONTEXT_MAX_CHARS),
        event_type=settings.event_type,
        ttl=settings.context_ttl_s or None,
        kind=kind,
    )


def generation(settings: Settings, prompt: str, features: Tuple[Tuple[str, bool], ...] = ()) -> SendGeneration:
    """A :class:`SendGeneration` fitted to the 300-character limit."""
    return SendGeneration(
        content=fit(clean_text(prompt), GENERATION_MAX_CHARS), event_type=settings.event_type, features=features
    )


def trigger_features(settings: Settings, slot: int) -> Tuple[Tuple[str, bool], ...]:
    """The generation ``features`` of hotkey ``slot``: ``tts`` when its "speak it aloud" box is ticked."""
    speaks = 1 <= slot <= len(settings.trigger_tts) and settings.trigger_tts[slot - 1]
    return (("tts", True),) if speaks else ()


def scene_phrase(settings: Settings, scene: str) -> str:
    """ "the 'X' scene — what it shows" (the description only when the streamer gave one)."""
    words = settings.describe_scene(scene)
    phrase = f"the '{quote_name(scene)}' scene"
    return f"{phrase} — {clean_text(words)}" if words else phrase


def _gate(settings: Settings, state: StreamState, enabled: bool) -> bool:
    """Whether automatic context may go out: its toggle is on and, if required, we are live."""
    return enabled and (state.live or not settings.only_when_live)


def _scene_switched(event: ev.SceneSwitched, settings: Settings, state: StreamState, now: float):
    new_state = replace(state, scene=event.scene)
    if event.scene == state.scene or settings.is_scene_ignored(event.scene):
        return new_state, ()
    if not _gate(settings, state, settings.send_scene_changes):
        return new_state, ()
    return new_state, (context(settings, f"Streamer switched to {scene_phrase(settings, event.scene)}", "scene"),)


def _stream_started(event: ev.StreamStarted, settings: Settings, state: StreamState, now: float):
    if state.live:  # a duplicate STREAMING_STARTED changes nothing
        return state, ()
    scene = event.scene or state.scene
    new_state = replace(state, live=True, live_since=now, scene=scene)
    actions: list = []
    if settings.send_stream_state:
        on_air = scene and not settings.is_scene_ignored(scene)
        text = f"Stream started. On air: {scene_phrase(settings, scene)}" if on_air else "Stream started"
        actions.append(context(settings, text, "stream"))
    if settings.auto_join:
        actions.append(ChangePresence(join=True, reason="the stream started"))
    return new_state, tuple(actions)


def _stream_already_live(event: ev.StreamAlreadyLive, settings: Settings, state: StreamState, now: float):
    if state.live:
        return state, ()
    # When the stream went live is unknown (only when we noticed), so "Stream ended" gets no duration.
    new_state = replace(state, live=True, live_since=None, scene=event.scene or state.scene)
    join = (ChangePresence(join=True, reason="the stream is already live"),) if settings.auto_join else ()
    return new_state, join


def _stream_stopped(event: ev.StreamStopped, settings: Settings, state: StreamState, now: float):
    if not state.live:
        return state, ()
    new_state = replace(state, live=False, live_since=None)
    actions: list = []
    if settings.send_stream_state:
        text = "Stream ended"
        if state.live_since is not None:
            text += f" after {format_duration(now - state.live_since)}"
        actions.append(context(settings, text, "stream"))
    if settings.auto_leave:
        actions.append(ChangePresence(join=False, reason="the stream ended"))
    return new_state, tuple(actions)


def _recording(event, settings: Settings, state: StreamState, now: float):
    if isinstance(event, ev.RecordingStarted):
        new_state, text = replace(state, recording=True, recording_since=now), "Streamer started recording"
    elif isinstance(event, ev.RecordingStopped):
        new_state = replace(state, recording=False, recording_since=None)
        text = "Streamer stopped recording"
        if state.recording_since is not None:
            text += f" after {format_duration(now - state.recording_since)}"
    elif isinstance(event, ev.RecordingPaused):
        new_state, text = state, "Streamer paused the recording"
    else:
        new_state, text = state, "Streamer resumed the recording"
    if not _gate(settings, state, settings.send_recording_state):
        return new_state, ()
    return new_state, (context(settings, text, "recording"),)


def _visibility(event: ev.SourceVisibilityChanged, settings: Settings, state: StreamState, now: float):
    if settings.is_source_ignored(event.source) or settings.is_scene_ignored(event.scene):
        return state, ()
    if not _gate(settings, state, settings.send_source_visibility):
        return state, ()
    where = f" in {scene_phrase(settings, event.scene)}" if event.scene else ""
    if event.visible:
        text = f"'{quote_name(event.source)}' is now shown on stream{where}"
    else:
        text = f"'{quote_name(event.source)}' was hidden from the stream{where}"
    return state, (context(settings, text, "source"),)


def _mute(event: ev.AudioMuteChanged, settings: Settings, state: StreamState, now: float):
    if settings.is_source_ignored(event.source) or not _gate(settings, state, settings.send_mute_changes):
        return state, ()
    name = quote_name(event.source)
    if "input_capture" in event.source_kind:
        text = (
            f"Streamer muted their microphone ('{name}'): viewers cannot hear them right now"
            if event.muted
            else f"Streamer unmuted their microphone ('{name}'): viewers can hear them again"
        )
    elif "process_output_capture" in event.source_kind or "application" in event.source_kind:
        text = f"Streamer {'muted' if event.muted else 'unmuted'} the application audio '{name}'"
    elif "output_capture" in event.source_kind:
        text = (
            f"Streamer muted the desktop audio ('{name}')"
            if event.muted
            else f"Streamer unmuted the desktop audio ('{name}')"
        )
    else:
        text = f"Streamer {'muted' if event.muted else 'unmuted'} the audio source '{name}'"
    return state, (context(settings, text, "audio"),)


def _trigger(event: ev.TriggerPressed, settings: Settings, state: StreamState, now: float):
    prompt = settings.trigger_prompt(event.slot)
    if not clean_text(prompt):  # a prompt of control characters alone would go out empty
        return state, (Notice(f"Hotkey trigger {event.slot} has no prompt: write one in 'Hotkey triggers'."),)
    if not settings.enabled:
        return state, (Notice(f"Hotkey trigger {event.slot} ignored: ai_licia-obs is switched off."),)
    return state, (generation(settings, prompt, trigger_features(settings, event.slot)),)


def _manual_context(event: ev.ManualContext, settings: Settings, state: StreamState, now: float):
    return state, (context(settings, event.text, "manual"),) if clean_text(event.text) else ()


def _manual_generation(event: ev.ManualGeneration, settings: Settings, state: StreamState, now: float):
    return state, (generation(settings, event.text),) if clean_text(event.text) else ()


def _watched_settled(event: ev.WatchedSourceSettled, settings: Settings, state: StreamState, now: float):
    if event.first and state.live and state.live_since is None:
        # Loaded while already live (Reload Scripts): ai_licia heard this text before the reload.
        return state, ()
    watched = find_watched(settings.watched_sources, event.source) or WatchedSource(event.source)
    sentence = watch_sentence(watched, event.text, event.kind)
    if _gate(settings, state, True):
        return state, (context(settings, sentence, "watch"),)
    # Held back until the stream starts; only the newest reading of each source is kept.
    held = tuple(item for item in state.held_watch if item[0] != event.source) + ((event.source, sentence),)
    return replace(state, held_watch=held), ()


def _after(event: ev.DomainEvent, settings: Settings, old: StreamState, new: StreamState, actions: tuple):
    """Actions every handler shares: character switches, and held watched context once the stream is live."""
    extra = list(_character_switches(event, settings, old, new))
    if new.live and not old.live and new.held_watch:
        extra.extend(context(settings, sentence, "watch") for _, sentence in new.held_watch)
        new = replace(new, held_watch=())
    return new, tuple(actions) + tuple(extra)


def _character_switches(event: ev.DomainEvent, settings: Settings, old: StreamState, new: StreamState) -> tuple:
    """A :class:`SwitchCharacter` when a new scene is on air (or the stream starts on a mapped one)."""
    if not settings.scene_characters or not new.scene or not isinstance(event, (ev.SceneSwitched, ev.StreamStarted)):
        return ()
    character = character_for_scene(settings.scene_characters, new.scene)
    if new.scene != old.scene:
        return (SwitchCharacter(new.scene, character),)  # "" calls off a switch still waiting
    if isinstance(event, ev.StreamStarted) and new.live and not old.live and character:
        return (SwitchCharacter(new.scene, character),)
    return ()


_HANDLERS = {
    ev.SceneSwitched: _scene_switched,
    ev.StreamStarted: _stream_started,
    ev.StreamAlreadyLive: _stream_already_live,
    ev.StreamStopped: _stream_stopped,
    ev.RecordingStarted: _recording,
    ev.RecordingStopped: _recording,
    ev.RecordingPaused: _recording,
    ev.RecordingResumed: _recording,
    ev.SourceVisibilityChanged: _visibility,
    ev.AudioMuteChanged: _mute,
    ev.TriggerPressed: _trigger,
    ev.ManualContext: _manual_context,
    ev.ManualGeneration: _manual_generation,
    ev.WatchedSourceSettled: _watched_settled,
}
