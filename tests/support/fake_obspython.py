"""A stand-in for OBS Studio's ``obspython`` module, for tests and benchmarks.

``install()`` puts a module into ``sys.modules["obspython"]`` and returns the
:class:`FakeObs` controller behind it. The controller models what the glue
touches (scenes, groups, scene items, sources, program/active state, signal
handlers, frontend events, hotkeys, ``obs_data``, properties) and records:

- every registration (frontend callbacks, signal connections, hotkeys);
- every reference the script acquires and releases, per object, in
  :attr:`FakeObs.refs` (``refs.outstanding()`` must be empty when the script is
  done; releasing what was never acquired is recorded in ``refs.errors``);
- every log line with the thread that wrote it (:attr:`FakeObs.logs`);
- anything OBS would reject or that is forbidden (:attr:`FakeObs.problems`):
  a callback that is not a plain Python function (obspython's
  ``PyFunction_Check`` silently ignores bound methods), a script-bound call
  made outside any script callback ("No active script"), use of a destroyed
  source, ``obs_frontend_set_current_scene``.

Facts mirrored from obs-studio (deps/obs-scripting/obs-scripting-python*.c,
docs/sphinx/reference-*.rst): ``obs_frontend_get_current_scene``,
``obs_frontend_get_scenes``, ``obs_enum_sources``, ``obs_weak_source_get_source``
and ``obs_scene_enum_items`` return new references; ``obs_scene_from_source``,
``obs_scene_get_source``, ``obs_sceneitem_get_source`` and the ``calldata_*``
getters do not; ``obs_hotkey_unregister`` takes the callback, not the id;
``obs_source_active`` is true only for sources shown on the program output.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import threading
import types
from collections import Counter
from typing import Any, Callable, Dict, List, Optional

# --- constants (values as in libobs / obs-frontend-api.h) --------------------------

LOG_ERROR = 100
LOG_WARNING = 200
LOG_INFO = 300
LOG_DEBUG = 400

OBS_SOURCE_VIDEO = 1 << 0
OBS_SOURCE_AUDIO = 1 << 1

OBS_SOURCE_TYPE_INPUT = 0
OBS_SOURCE_TYPE_FILTER = 1
OBS_SOURCE_TYPE_TRANSITION = 2
OBS_SOURCE_TYPE_SCENE = 3

OBS_TEXT_DEFAULT = 0
OBS_TEXT_PASSWORD = 1
OBS_TEXT_MULTILINE = 2
OBS_TEXT_INFO = 3
OBS_TEXT_INFO_NORMAL = 0
OBS_TEXT_INFO_WARNING = 1
OBS_TEXT_INFO_ERROR = 2
OBS_GROUP_NORMAL = 1
OBS_GROUP_CHECKABLE = 2
OBS_NUMBER_SCROLLER = 0
OBS_NUMBER_SLIDER = 1
OBS_COMBO_TYPE_EDITABLE = 1
OBS_COMBO_TYPE_LIST = 2
OBS_COMBO_FORMAT_STRING = 3

OBS_INVALID_HOTKEY_ID = (1 << 64) - 1

_VERSION_SUFFIX = re.compile(r"_v\d+$")

FRONTEND_EVENTS = [
    "STREAMING_STARTING",
    "STREAMING_STARTED",
    "STREAMING_STOPPING",
    "STREAMING_STOPPED",
    "RECORDING_STARTING",
    "RECORDING_STARTED",
    "RECORDING_STOPPING",
    "RECORDING_STOPPED",
    "SCENE_CHANGED",
    "SCENE_LIST_CHANGED",
    "TRANSITION_CHANGED",
    "TRANSITION_STOPPED",
    "TRANSITION_LIST_CHANGED",
    "SCENE_COLLECTION_CHANGED",
    "SCENE_COLLECTION_LIST_CHANGED",
    "PROFILE_CHANGED",
    "PROFILE_LIST_CHANGED",
    "EXIT",
    "REPLAY_BUFFER_STARTING",
    "REPLAY_BUFFER_STARTED",
    "REPLAY_BUFFER_STOPPING",
    "REPLAY_BUFFER_STOPPED",
    "STUDIO_MODE_ENABLED",
    "STUDIO_MODE_DISABLED",
    "PREVIEW_SCENE_CHANGED",
    "SCENE_COLLECTION_CLEANUP",
    "FINISHED_LOADING",
    "RECORDING_PAUSED",
    "RECORDING_UNPAUSED",
    "TRANSITION_DURATION_CHANGED",
    "REPLAY_BUFFER_SAVED",
    "VIRTUALCAM_STARTED",
    "VIRTUALCAM_STOPPED",
    "TBAR_VALUE_CHANGED",
    "SCENE_COLLECTION_CHANGING",
    "PROFILE_CHANGING",
    "SCRIPTING_SHUTDOWN",
    "PROFILE_RENAMED",
    "SCENE_COLLECTION_RENAMED",
    "THEME_CHANGED",
    "SCREENSHOT_TAKEN",
]
EVENT = types.SimpleNamespace(**{name: number for number, name in enumerate(FRONTEND_EVENTS)})
EVENT_NAMES = dict(enumerate(FRONTEND_EVENTS))


# --- model objects --------------------------------------------------------------------


class SignalHandler:
    """One libobs signal handler: connections are (signal, callback) in connect order."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.connections: List[tuple] = []

    def count(self, signal: str) -> int:
        return sum(1 for name, _ in self.connections if name == signal)

    def __repr__(self) -> str:
        return f"<SignalHandler {self.owner}>"


class Source:
    """An obs_source_t: an input, a scene or a group."""

    def __init__(self, name: str, source_id: str, *, kind: int, flags: int = 0) -> None:
        self.name = name
        self.id = source_id
        self.kind = kind
        self.flags = flags
        self.muted = False
        self.destroyed = False
        self.signals = SignalHandler(f"source '{name}'")
        self.scene: Optional[Scene] = None
        #: The source's own settings (obs_source_get_settings hands out references to this object).
        self.settings = Data()
        #: Proc handler: name -> function(calldata) (a VLC source has "get_metadata").
        self.procs = ProcHandler(f"source '{name}'")

    def __repr__(self) -> str:
        return f"<Source {self.name!r} {self.id}>"


class Scene:
    """An obs_scene_t (also the inside of a group)."""

    def __init__(self, source: Source, *, is_group: bool) -> None:
        self.source = source
        self.is_group = is_group
        self.items: List[SceneItem] = []

    def __repr__(self) -> str:
        return f"<Scene {self.source.name!r}>"


class SceneItem:
    """An obs_sceneitem_t: ``source`` placed in ``scene``."""

    def __init__(self, scene: Scene, source: Source, visible: bool) -> None:
        self.scene = scene
        self.source = source
        self.visible = visible

    def __repr__(self) -> str:
        return f"<SceneItem {self.source.name!r} in {self.scene.source.name!r}>"


class WeakSource:
    def __init__(self, source: Source) -> None:
        self.source = source


class Data:
    """An obs_data_t: values with typed defaults."""

    def __init__(self, values: Optional[Dict[str, Any]] = None) -> None:
        self.values: Dict[str, Any] = dict(values or {})
        self.defaults: Dict[str, Any] = {}

    def get(self, name: str, fallback: Any) -> Any:
        if name in self.values:
            return self.values[name]
        return self.defaults.get(name, fallback)


class DataArray:
    def __init__(self, items: Optional[List[Dict[str, Any]]] = None) -> None:
        self.items: List[Dict[str, Any]] = [dict(i) for i in (items or [])]


class Calldata(dict):
    """A calldata_t."""


class ProcHandler:
    """A proc_handler_t: procedures by name, each called with a calldata."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.procs: Dict[str, Callable[[Calldata], None]] = {}
        self.calls = 0


class Property:
    def __init__(self, parent: Properties, name: str, description: str, kind: str, **extra: Any) -> None:
        self.parent = parent
        self.name = name
        self.description = description
        self.long_description: Optional[str] = None
        self.kind = kind
        self.extra = extra
        self.modified: Optional[Callable] = None
        self.visible = True
        self.enabled = True

    def __repr__(self) -> str:
        return f"<Property {self.kind} {self.name!r}>"


class Properties:
    def __init__(self, parent: Optional[Properties] = None) -> None:
        self.parent = parent
        self.props: List[Property] = []

    def walk(self):
        for prop in self.props:
            yield prop
            if prop.kind == "group":
                yield from prop.extra["content"].walk()

    def find(self, name: str) -> Optional[Property]:
        return next((p for p in self.walk() if p.name == name), None)

    def top(self) -> Properties:
        props = self
        while props.parent is not None:
            props = props.parent
        return props


class Hotkey:
    def __init__(self, hotkey_id: int, name: str, description: str, callback: Callable) -> None:
        self.id = hotkey_id
        self.name = name
        self.description = description
        self.callback = callback
        self.bindings: List[Dict[str, Any]] = []
        self.registered = True


# --- reference ledger -----------------------------------------------------------------


class RefLedger:
    """References the script holds, per kind and object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: Counter = Counter()
        self._objects: Dict[tuple, Any] = {}
        self.acquired: Counter = Counter()
        self.released: Counter = Counter()
        self.errors: List[str] = []

    def acquire(self, kind: str, obj: Any) -> Any:
        with self._lock:
            key = (kind, id(obj))
            self._held[key] += 1
            self._objects[key] = obj
            self.acquired[kind] += 1
        return obj

    def release(self, kind: str, obj: Any) -> None:
        if obj is None:
            return
        with self._lock:
            key = (kind, id(obj))
            if self._held[key] <= 0:
                self.errors.append(f"released a {kind} reference that was not held: {obj!r}")
                return
            self._held[key] -= 1
            self.released[kind] += 1

    def outstanding(self) -> Dict[str, int]:
        """{kind: count} of references acquired and not yet released."""
        with self._lock:
            result: Counter = Counter()
            for (kind, _), count in self._held.items():
                if count:
                    result[kind] += count
            return dict(result)

    def held_objects(self, kind: str) -> List[Any]:
        with self._lock:
            return [self._objects[key] for key, count in self._held.items() if key[0] == kind and count]


# --- the controller ---------------------------------------------------------------------


class FakeObs:
    """The state behind the fake ``obspython`` module, and the handles a test drives it with."""

    def __init__(self) -> None:
        self.refs = RefLedger()
        self.logs: List[tuple] = []
        self.problems: List[str] = []
        self.frontend_callbacks: List[Callable] = []
        self.hotkeys: Dict[int, Hotkey] = {}
        self.timers: List[tuple] = []
        #: OBS's monotonic clock (``os_gettime_ns``): moved on only by :meth:`tick_timers`.
        self.now_ns = 1_000_000_000
        self.global_signals = SignalHandler("obs")
        self.sources: List[Source] = []
        self.scenes: List[Source] = []
        self.program: Optional[Source] = None
        self.streaming = False
        self.recording = False
        self.recording_paused = False
        #: (setting name, thread name) of every obs_data_set_string, in order.
        self.data_writes: List[tuple] = []
        self.fail_on: Dict[str, BaseException] = {}
        self._hotkey_ids = itertools.count(1)
        self._local = threading.local()
        self._lock = threading.RLock()
        self.module = self._build_module()

    # --- building a scene collection ------------------------------------------------

    def add_scene(self, name: str) -> Source:
        source = Source(name, "scene", kind=OBS_SOURCE_TYPE_SCENE)
        source.scene = Scene(source, is_group=False)
        self.scenes.append(source)
        self.sources.append(source)
        return source

    def add_group(self, name: str, into: Source, *, visible: bool = True) -> tuple:
        """A group placed in scene ``into``: returns (group source, its item in ``into``)."""
        source = Source(name, "group", kind=OBS_SOURCE_TYPE_SCENE)
        source.scene = Scene(source, is_group=True)
        self.sources.append(source)
        return source, self.add_item(into, source, visible=visible)

    def add_input(
        self, name: str, source_id: str = "color_source", *, audio: bool = False, video: bool = True
    ) -> Source:
        flags = (OBS_SOURCE_AUDIO if audio else 0) | (OBS_SOURCE_VIDEO if video else 0)
        source = Source(name, source_id, kind=OBS_SOURCE_TYPE_INPUT, flags=flags)
        self.sources.append(source)
        return source

    def add_text_source(self, name: str, source_id: str = "text_ft2_source", **settings: Any) -> Source:
        """A text source (``text_ft2_source`` or ``text_gdiplus``) with ``settings`` such as text=..."""
        source = self.add_input(name, source_id)
        source.settings.values.update(settings)
        return source

    def add_vlc_source(self, name: str, **tags: str) -> Source:
        """A VLC video source whose ``get_metadata`` proc answers ``tags`` (title=..., artist=...)."""
        source = self.add_input(name, "vlc_source", audio=True)
        source.metadata = dict(tags)

        def get_metadata(calldata: Calldata) -> None:
            calldata["tag_data"] = source.metadata.get(calldata.get("tag_id", ""), "")

        source.procs.procs["get_metadata"] = get_metadata
        return source

    def add_item(self, into: Source, source: Source, *, visible: bool = True) -> SceneItem:
        item = SceneItem(into.scene, source, visible)
        into.scene.items.append(item)
        return item

    def find_source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name and not s.destroyed)

    def destroy_source(self, source: Source) -> None:
        """The streamer deleted ``source``: it disappears, and touching it now is a bug."""
        source.destroyed = True
        source.signals.connections.clear()
        for scene_source in self.sources:
            if scene_source.scene is not None:
                scene_source.scene.items = [i for i in scene_source.scene.items if i.source is not source]
        self.scenes = [s for s in self.scenes if s is not source]
        self.sources = [s for s in self.sources if s is not source]

    # --- driving OBS ----------------------------------------------------------------------

    def fire(self, event: int) -> None:
        """Emit a frontend event to every registered callback (as the UI thread does)."""
        for callback in list(self.frontend_callbacks):
            self._invoke(callback, event)

    def switch_scene(self, scene: Source, *, fire: bool = True) -> None:
        """Make ``scene`` the program scene; SCENE_CHANGED follows (after the transition)."""
        self.program = scene
        if fire:
            self.fire(EVENT.SCENE_CHANGED)

    def start_stream(self) -> None:
        self.fire(EVENT.STREAMING_STARTING)
        self.streaming = True
        self.fire(EVENT.STREAMING_STARTED)

    def stop_stream(self) -> None:
        self.fire(EVENT.STREAMING_STOPPING)
        self.streaming = False
        self.fire(EVENT.STREAMING_STOPPED)

    def fail_stream_start(self) -> None:
        """A start that never connects: STARTING then STOPPED, no STARTED."""
        self.fire(EVENT.STREAMING_STARTING)
        self.fire(EVENT.STREAMING_STOPPED)

    def set_visible(self, item: SceneItem, visible: bool) -> None:
        """Show/hide a scene item: ``item_visible`` on the signal handler of the scene holding it."""
        item.visible = visible
        self.emit(item.scene.source.signals, "item_visible", Calldata(scene=item.scene, item=item, visible=visible))

    def set_muted(self, source: Source, muted: bool) -> None:
        source.muted = muted
        self.emit(source.signals, "mute", Calldata(source=source, muted=muted))

    def emit(self, handler: SignalHandler, signal: str, calldata: Calldata) -> None:
        for name, callback in list(handler.connections):
            if name == signal:
                self._invoke(callback, calldata, remove_from=(handler, signal))

    def press_hotkey(self, name: str, pressed: bool = True) -> None:
        for hotkey in list(self.hotkeys.values()):
            if hotkey.name == name and hotkey.registered:
                self._invoke(hotkey.callback, pressed)

    def hotkey_named(self, name: str) -> Optional[Hotkey]:
        return next((h for h in self.hotkeys.values() if h.name == name and h.registered), None)

    def tick_timers(self, elapsed_ms: int = 1000) -> None:
        """Run every registered timer once, as OBS's graphics thread does (the script is current),
        ``elapsed_ms`` later on OBS's clock: by default long enough for every interval the script uses."""
        self.now_ns += elapsed_ms * 1_000_000
        for callback, _ in list(self.timers):
            self._local.in_timer = True
            try:
                self._invoke(callback)
            finally:
                self._local.in_timer = False

    def call_script(self, function: Callable, *args: Any) -> Any:
        """Call one of the script's ``script_*`` functions as OBS does (the script is 'current')."""
        with self._script_active():
            return function(*args)

    def click(self, props: Properties, name: str) -> bool:
        """Press a panel button; True when OBS would refresh the panel."""
        prop = props.find(name)
        assert prop is not None and prop.kind == "button", f"no button {name!r}"
        return bool(self._invoke(prop.extra["callback"], prop.parent.top(), prop))

    def modify(self, props: Properties, name: str, settings: Data, value: Any, update: Callable) -> bool:
        """Change a setting in the panel: settings change, ``script_update``, then the modified callback."""
        settings.values[name] = value
        self.call_script(update, settings)
        prop = props.find(name)
        if prop is not None and prop.modified is not None:
            return bool(self._invoke(prop.modified, prop.parent.top(), prop, settings))
        return False

    def is_active(self, source: Source, _seen: Optional[set] = None) -> bool:
        """Shown on the program output: the program scene, or a visible item of an active scene."""
        if source is self.program:
            return True
        seen = _seen or set()
        if id(source) in seen:
            return False
        seen.add(id(source))
        for holder in self.sources:
            if holder.scene is None:
                continue
            for item in holder.scene.items:
                if item.source is source and item.visible and self.is_active(holder, seen):
                    return True
        return False

    # --- inspection -------------------------------------------------------------------------

    def connection_count(self, signal: Optional[str] = None) -> int:
        handlers = [s.signals for s in self.sources] + [self.global_signals]
        return sum(len([c for c in h.connections if signal is None or c[0] == signal]) for h in handlers)

    def registered_hotkeys(self) -> List[Hotkey]:
        return [h for h in self.hotkeys.values() if h.registered]

    def log_lines(self, via: Optional[str] = None) -> List[str]:
        return [entry[2] for entry in self.logs if via is None or entry[0] == via]

    # --- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _script_active(self, callback: Optional[Callable] = None, remove_from: Optional[tuple] = None):
        previous = getattr(self._local, "frame", None)
        self._local.frame = (callback, remove_from)
        try:
            yield
        finally:
            self._local.frame = previous

    def _invoke(self, callback: Callable, *args: Any, remove_from: Optional[tuple] = None) -> Any:
        with self._script_active(callback, remove_from):
            return callback(*args)

    def _require_script(self, what: str) -> None:
        if getattr(self._local, "frame", None) is None:
            self.problems.append(f"{what} called outside any script callback (OBS: 'No active script')")
            raise RuntimeError("No active script, report this to Jim")

    def _accepts(self, callback: Any, what: str) -> bool:
        if isinstance(callback, types.FunctionType):
            return True
        self.problems.append(f"{what}: {callback!r} is not a plain function; obspython ignores it")
        return False

    def _alive(self, source: Any, what: str) -> Any:
        if isinstance(source, Source) and source.destroyed:
            self.problems.append(f"{what} used destroyed source {source.name!r}")
        return source

    def _maybe_fail(self, name: str) -> None:
        exc = self.fail_on.get(name)
        if exc is not None:
            raise exc

    def _log(self, via: str, level: int, message: str) -> None:
        self.logs.append((via, level, message, threading.current_thread().name))

    # --- the obspython API ------------------------------------------------------------------

    def _build_module(self) -> types.ModuleType:
        module = types.ModuleType("obspython")
        module.__dict__["__fake__"] = self
        for name, value in globals().items():
            if name.isupper() and isinstance(value, int):
                setattr(module, name, value)
        for name, number in vars(EVENT).items():
            setattr(module, f"OBS_FRONTEND_EVENT_{name}", number)
        for name in dir(self):
            if name.startswith("api_"):
                setattr(module, name[4:], getattr(self, name))
        return module

    # logging
    def api_script_log(self, level: int, message: str) -> None:
        self._log("script_log", level, message)

    def api_blog(self, level: int, message: str) -> None:
        self._log("blog", level, message)

    # frontend
    def api_obs_frontend_add_event_callback(self, callback: Callable) -> None:
        self._require_script("obs_frontend_add_event_callback")
        if self._accepts(callback, "obs_frontend_add_event_callback"):
            self.frontend_callbacks.append(callback)

    def api_obs_frontend_remove_event_callback(self, callback: Callable) -> None:
        self._require_script("obs_frontend_remove_event_callback")
        if callback in self.frontend_callbacks:
            self.frontend_callbacks.remove(callback)

    def api_obs_frontend_get_current_scene(self) -> Optional[Source]:
        self._maybe_fail("obs_frontend_get_current_scene")
        if self.program is None:
            # obs-scripting-python-frontend.c converts NULL through libobs_to_py, which warns.
            self._log(
                "blog",
                LOG_WARNING,
                "[Python] get_current_scene:83: SWIG failed to convert obs object to python object: obs_source_t *",
            )
            return None
        return self.refs.acquire("source", self.program)

    def api_obs_frontend_get_scenes(self) -> List[Source]:
        if getattr(self._local, "in_timer", False):
            # OBS answers it from the UI's scene list widget: off the UI thread it races the UI
            # clearing that list at quit.
            self.problems.append("obs_frontend_get_scenes called from a timer (reads the UI's widgets)")
        return [self.refs.acquire("source", s) for s in self.scenes]

    def api_obs_frontend_get_scene_names(self) -> List[str]:
        return [s.name for s in self.scenes]

    def api_obs_frontend_set_current_scene(self, source: Source) -> None:
        self.problems.append("obs_frontend_set_current_scene was called (deadlocks OBS 29 off the UI thread)")

    def api_obs_frontend_streaming_active(self) -> bool:
        return self.streaming

    def api_obs_frontend_recording_active(self) -> bool:
        return self.recording

    def api_obs_frontend_recording_paused(self) -> bool:
        return self.recording_paused

    # sources
    def _require_timer(self, what: str) -> None:
        """OBS 29: a call that takes the sources mutex, made with the GIL held off the graphics thread,
        deadlocks against any Python signal callback fired while OBS ticks the sources. Timers only."""
        if getattr(self._local, "frame", None) is not None and not getattr(self._local, "in_timer", False):
            self.problems.append(f"{what} called from a script callback other than a timer (OBS 29 can deadlock)")

    def api_obs_enum_sources(self) -> List[Source]:
        self._require_timer("obs_enum_sources")
        return [self.refs.acquire("source", s) for s in self.sources if s.kind == OBS_SOURCE_TYPE_INPUT]

    def api_obs_get_source_by_name(self, name: str) -> Optional[Source]:
        self._require_timer("obs_get_source_by_name")
        found = next((s for s in self.sources if s.name == name), None)
        return self.refs.acquire("source", found) if found else None

    def api_obs_source_update(self, source: Source, data: Data) -> None:
        """Merge ``data`` into the source's settings (``source.updates`` records each call)."""
        alive = self._alive(source, "obs_source_update")
        if not hasattr(alive, "updates"):
            alive.updates = []
        alive.updates.append(dict(data.values))

    def api_source_list_release(self, sources: List[Source]) -> None:
        for source in sources:
            self.refs.release("source", source)

    def api_obs_source_release(self, source: Optional[Source]) -> None:
        self.refs.release("source", source)

    def api_obs_source_get_ref(self, source: Source) -> Optional[Source]:
        return None if source is None or source.destroyed else self.refs.acquire("source", source)

    def api_obs_source_get_name(self, source: Source) -> str:
        self._maybe_fail("obs_source_get_name")
        return self._alive(source, "obs_source_get_name").name

    def api_obs_source_get_id(self, source: Source) -> str:
        return self._alive(source, "obs_source_get_id").id

    def api_obs_source_get_unversioned_id(self, source: Source) -> str:
        # As libobs: "text_ft2_source_v2" is registered with the unversioned id "text_ft2_source".
        return _VERSION_SUFFIX.sub("", self._alive(source, "obs_source_get_unversioned_id").id)

    def api_obs_source_get_type(self, source: Source) -> int:
        return self._alive(source, "obs_source_get_type").kind

    def api_obs_source_get_output_flags(self, source: Source) -> int:
        return self._alive(source, "obs_source_get_output_flags").flags

    def api_obs_source_active(self, source: Source) -> bool:
        self._maybe_fail("obs_source_active")
        return self.is_active(self._alive(source, "obs_source_active"))

    def api_obs_source_showing(self, source: Source) -> bool:
        return self.is_active(source)

    def api_obs_source_muted(self, source: Source) -> bool:
        return self._alive(source, "obs_source_muted").muted

    def api_obs_source_get_signal_handler(self, source: Source) -> SignalHandler:
        return self._alive(source, "obs_source_get_signal_handler").signals

    def api_obs_get_signal_handler(self) -> SignalHandler:
        return self.global_signals

    def api_obs_source_get_weak_source(self, source: Source) -> Optional[WeakSource]:
        if source is None:
            return None
        return self.refs.acquire("weak_source", WeakSource(self._alive(source, "obs_source_get_weak_source")))

    def api_obs_weak_source_get_source(self, weak: WeakSource) -> Optional[Source]:
        if weak is None or weak.source.destroyed:
            return None
        return self.refs.acquire("source", weak.source)

    def api_obs_weak_source_release(self, weak: Optional[WeakSource]) -> None:
        self.refs.release("weak_source", weak)

    def api_obs_weak_source_references_source(self, weak: WeakSource, source: Source) -> bool:
        return weak is not None and weak.source is source

    # scenes
    def api_obs_scene_from_source(self, source: Source) -> Optional[Scene]:
        scene = self._alive(source, "obs_scene_from_source").scene
        return scene if scene is not None and not scene.is_group else None

    def api_obs_group_from_source(self, source: Source) -> Optional[Scene]:
        scene = self._alive(source, "obs_group_from_source").scene
        return scene if scene is not None and scene.is_group else None

    def api_obs_group_or_scene_from_source(self, source: Source) -> Optional[Scene]:
        return self._alive(source, "obs_group_or_scene_from_source").scene

    def api_obs_scene_get_source(self, scene: Scene) -> Source:
        return scene.source

    def api_obs_scene_enum_items(self, scene: Scene) -> List[SceneItem]:
        return [self.refs.acquire("sceneitem", item) for item in scene.items]

    def api_sceneitem_list_release(self, items: List[SceneItem]) -> None:
        for item in items:
            self.refs.release("sceneitem", item)

    def api_obs_sceneitem_release(self, item: SceneItem) -> None:
        self.refs.release("sceneitem", item)

    def api_obs_sceneitem_is_group(self, item: SceneItem) -> bool:
        return item.source.scene is not None and item.source.scene.is_group

    def api_obs_sceneitem_get_source(self, item: SceneItem) -> Source:
        return item.source

    def api_obs_sceneitem_get_scene(self, item: SceneItem) -> Scene:
        return item.scene

    def api_obs_sceneitem_visible(self, item: SceneItem) -> bool:
        return item.visible

    def api_obs_sceneitem_group_get_scene(self, item: SceneItem) -> Optional[Scene]:
        return item.source.scene if self.api_obs_sceneitem_is_group(item) else None

    # signals and calldata
    def api_signal_handler_connect(self, handler: SignalHandler, signal: str, callback: Callable) -> None:
        self._require_script("signal_handler_connect")
        if self._accepts(callback, "signal_handler_connect"):
            handler.connections.append((signal, callback))

    def api_signal_handler_disconnect(self, handler: SignalHandler, signal: str, callback: Callable) -> None:
        self._require_script("signal_handler_disconnect")
        if (signal, callback) in handler.connections:
            handler.connections.remove((signal, callback))

    def api_remove_current_callback(self) -> None:
        frame = getattr(self._local, "frame", None)
        if not frame or frame[0] is None:
            return
        callback, remove_from = frame
        if remove_from is not None:
            handler, signal = remove_from
            if (signal, callback) in handler.connections:
                handler.connections.remove((signal, callback))
        if callback in self.frontend_callbacks:
            self.frontend_callbacks.remove(callback)

    def api_calldata_source(self, calldata: Calldata, name: str) -> Optional[Source]:
        return calldata.get(name)

    def api_calldata_sceneitem(self, calldata: Calldata, name: str) -> Optional[SceneItem]:
        return calldata.get(name)

    def api_calldata_bool(self, calldata: Calldata, name: str) -> bool:
        return bool(calldata.get(name, False))

    def api_calldata_int(self, calldata: Calldata, name: str) -> int:
        return int(calldata.get(name, 0))

    def api_calldata_string(self, calldata: Calldata, name: str) -> str:
        return str(calldata.get(name, ""))

    def api_calldata_create(self) -> Calldata:
        return self.refs.acquire("calldata", Calldata())

    def api_calldata_destroy(self, calldata: Calldata) -> None:
        self.refs.release("calldata", calldata)

    def api_calldata_set_string(self, calldata: Calldata, name: str, value: str) -> None:
        calldata[name] = str(value)

    # source settings and proc handlers
    def api_obs_source_get_settings(self, source: Source) -> Data:
        return self.refs.acquire("data", self._alive(source, "obs_source_get_settings").settings)

    def api_obs_source_get_proc_handler(self, source: Source) -> ProcHandler:
        return self._alive(source, "obs_source_get_proc_handler").procs

    def api_proc_handler_call(self, handler: ProcHandler, name: str, calldata: Calldata) -> bool:
        proc = handler.procs.get(name)
        if proc is None:
            return False
        handler.calls += 1
        proc(calldata)
        return True

    # hotkeys
    def api_obs_hotkey_register_frontend(self, name: str, description: str, callback: Callable) -> int:
        if not self._accepts(callback, "obs_hotkey_register_frontend"):
            return OBS_INVALID_HOTKEY_ID
        hotkey = Hotkey(next(self._hotkey_ids), name, description, callback)
        self.hotkeys[hotkey.id] = hotkey
        return hotkey.id

    def api_obs_hotkey_unregister(self, callback: Callable) -> None:
        self._require_script("obs_hotkey_unregister")
        for hotkey in self.hotkeys.values():
            if hotkey.callback is callback and hotkey.registered:
                hotkey.registered = False
                return

    def api_obs_hotkey_set_description(self, hotkey_id: int, description: str) -> None:
        if hotkey_id in self.hotkeys:
            self.hotkeys[hotkey_id].description = description

    def api_obs_hotkey_save(self, hotkey_id: int) -> DataArray:
        bindings = self.hotkeys[hotkey_id].bindings if hotkey_id in self.hotkeys else []
        return self.refs.acquire("data_array", DataArray(bindings))

    def api_obs_hotkey_load(self, hotkey_id: int, array: DataArray) -> None:
        if hotkey_id in self.hotkeys and array is not None:
            self.hotkeys[hotkey_id].bindings = [dict(i) for i in array.items]

    # obs_data
    def new_data(self, values: Optional[Dict[str, Any]] = None) -> Data:
        """A settings object owned by 'OBS' (not counted as the script's reference)."""
        return Data(values)

    def api_obs_data_create(self) -> Data:
        return self.refs.acquire("data", Data())

    def api_obs_data_release(self, data: Data) -> None:
        self.refs.release("data", data)

    def api_obs_data_get_string(self, data: Data, name: str) -> str:
        return str(data.get(name, ""))

    def api_obs_data_get_int(self, data: Data, name: str) -> int:
        return int(data.get(name, 0))

    def api_obs_data_get_bool(self, data: Data, name: str) -> bool:
        return bool(data.get(name, False))

    def api_obs_data_get_double(self, data: Data, name: str) -> float:
        return float(data.get(name, 0.0))

    def api_obs_data_set_string(self, data: Data, name: str, value: str) -> None:
        # Which thread wrote which key: settings may only be written from an OBS callback or timer.
        self.data_writes.append((name, threading.current_thread().name))
        data.values[name] = str(value)

    def api_obs_data_set_int(self, data: Data, name: str, value: int) -> None:
        data.values[name] = int(value)

    def api_obs_data_set_bool(self, data: Data, name: str, value: bool) -> None:
        data.values[name] = bool(value)

    def api_obs_data_set_default_string(self, data: Data, name: str, value: str) -> None:
        data.defaults[name] = str(value)

    def api_obs_data_set_default_int(self, data: Data, name: str, value: int) -> None:
        data.defaults[name] = int(value)

    def api_obs_data_set_default_bool(self, data: Data, name: str, value: bool) -> None:
        data.defaults[name] = bool(value)

    def api_obs_data_has_user_value(self, data: Data, name: str) -> bool:
        return name in data.values

    def api_obs_data_get_array(self, data: Data, name: str) -> Optional[DataArray]:
        value = data.values.get(name)
        return self.refs.acquire("data_array", value) if isinstance(value, DataArray) else None

    def api_obs_data_set_array(self, data: Data, name: str, array: DataArray) -> None:
        data.values[name] = DataArray(array.items)

    def api_obs_data_array_create(self) -> DataArray:
        return self.refs.acquire("data_array", DataArray())

    def api_obs_data_array_release(self, array: Optional[DataArray]) -> None:
        self.refs.release("data_array", array)

    def api_obs_data_array_count(self, array: DataArray) -> int:
        return len(array.items)

    # properties
    def api_obs_properties_create(self) -> Properties:
        return Properties()

    def api_obs_properties_destroy(self, props: Properties) -> None:
        pass

    def api_obs_properties_get(self, props: Properties, name: str) -> Optional[Property]:
        return props.find(name)

    def api_obs_properties_get_parent(self, props: Properties) -> Optional[Properties]:
        return props.parent

    def _add(self, props: Properties, name: str, description: str, kind: str, **extra: Any) -> Property:
        assert props.top().find(name) is None, f"two properties named {name!r}"
        prop = Property(props, name, description, kind, **extra)
        props.props.append(prop)
        return prop

    def api_obs_properties_add_group(
        self, props: Properties, name: str, description: str, group_type: int, content: Properties
    ) -> Property:
        content.parent = props
        return self._add(props, name, description, "group", content=content, group_type=group_type)

    def api_obs_property_group_content(self, prop: Property) -> Properties:
        return prop.extra["content"]

    def api_obs_properties_add_text(self, props: Properties, name: str, description: str, text_type: int) -> Property:
        return self._add(
            props, name, description, "text", text_type=text_type, info_type=OBS_TEXT_INFO_NORMAL, word_wrap=True
        )

    def api_obs_properties_add_bool(self, props: Properties, name: str, description: str) -> Property:
        return self._add(props, name, description, "bool")

    def api_obs_properties_add_int(
        self, props: Properties, name: str, description: str, low: int, high: int, step: int
    ) -> Property:
        return self._add(props, name, description, "int", min=low, max=high, step=step)

    def api_obs_properties_add_list(
        self, props: Properties, name: str, description: str, combo_type: int, combo_format: int
    ) -> Property:
        """A drop-down list; ``extra["items"]`` holds its (name, value) pairs in order."""
        return self._add(props, name, description, "list", combo_type=combo_type, combo_format=combo_format, items=[])

    def api_obs_property_list_add_string(self, prop: Property, name: str, value: str) -> int:
        assert prop.extra["combo_format"] == OBS_COMBO_FORMAT_STRING, "a string item in a list of another format"
        prop.extra["items"].append((name, value))
        return len(prop.extra["items"]) - 1

    def api_obs_property_list_clear(self, prop: Property) -> None:
        prop.extra["items"].clear()

    def api_obs_property_list_item_count(self, prop: Property) -> int:
        return len(prop.extra["items"])

    def api_obs_properties_add_button(
        self, props: Properties, name: str, text: str, callback: Callable
    ) -> Optional[Property]:
        if not self._accepts(callback, "obs_properties_add_button"):
            return None
        return self._add(props, name, text, "button", callback=callback)

    def api_obs_property_set_modified_callback(self, prop: Property, callback: Callable) -> None:
        if self._accepts(callback, "obs_property_set_modified_callback"):
            prop.modified = callback

    def api_obs_property_set_description(self, prop: Property, description: str) -> None:
        prop.description = description

    def api_obs_property_description(self, prop: Property) -> str:
        return prop.description

    def api_obs_property_set_long_description(self, prop: Property, description: str) -> None:
        prop.long_description = description

    def api_obs_property_set_visible(self, prop: Property, visible: bool) -> None:
        prop.visible = visible

    def api_obs_property_set_enabled(self, prop: Property, enabled: bool) -> None:
        prop.enabled = enabled

    def api_obs_property_text_set_info_type(self, prop: Property, info_type: int) -> None:
        prop.extra["info_type"] = info_type

    def api_obs_property_text_set_info_word_wrap(self, prop: Property, word_wrap: bool) -> None:
        prop.extra["word_wrap"] = word_wrap

    def api_obs_property_int_set_suffix(self, prop: Property, suffix: str) -> None:
        prop.extra["suffix"] = suffix

    # timers
    def api_timer_add(self, callback: Callable, milliseconds: int) -> None:
        self._require_script("timer_add")
        if self._accepts(callback, "timer_add"):
            self.timers.append((callback, milliseconds))

    def api_timer_remove(self, callback: Callable) -> None:
        self.timers = [t for t in self.timers if t[0] is not callback]

    def api_os_gettime_ns(self) -> int:
        return self.now_ns


def install() -> FakeObs:
    """Put a fresh fake ``obspython`` into ``sys.modules``; returns its controller."""
    fake = FakeObs()
    sys.modules["obspython"] = fake.module
    return fake


def uninstall(fake: Optional[FakeObs] = None) -> None:
    """Remove the fake from ``sys.modules`` (only ``fake``'s module, when given)."""
    current = sys.modules.get("obspython")
    if current is not None and (fake is None or current is fake.module):
        del sys.modules["obspython"]
