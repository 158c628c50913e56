"""ai_licia co-host for OBS Studio: the OBS script (load it in Tools → Scripts).

Thin glue. Every OBS callback copies plain values out of OBS objects, builds one
domain event and hands it to :class:`ailicia_core.engine.Engine`, which decides
what ai_licia hears and sends it from its own thread. Nothing here does network
I/O, sleeps, or waits on anything the engine's worker holds.

OBS facts this file relies on (checked in obs-studio 29 sources,
``deps/obs-scripting/obs-scripting-python*.c`` and ``docs/sphinx/reference-*.rst``):

- obspython accepts only plain Python functions as callbacks (``PyFunction_Check``);
  a bound method is silently ignored. Every callback handed to OBS is therefore a
  closure made by :func:`obs_callback` (or :class:`SignalConnection`).
- ``obs.script_log`` names the script OBS is calling *right now* (a global); from a
  thread OBS did not start it prints "[Unknown Script]" or another script's name,
  and it races the Script Log window at shutdown. Log records from our own threads
  therefore wait in a bounded queue that a timer (an OBS callback, run with this
  script current) writes to the Script Log: see :class:`ObsLogHandler`.
- OBS removes a script's callbacks before it calls ``script_unload``; the explicit
  disconnects below matter for SCENE_COLLECTION_CLEANUP and keep every start
  paired with its stop in this file.
- ``obs_frontend_get_current_scene``, ``obs_frontend_get_scenes``,
  ``obs_enum_sources``, ``obs_scene_enum_items``, ``obs_weak_source_get_source``,
  ``obs_source_get_weak_source``, ``obs_data_get_array`` and ``obs_hotkey_save``
  return references this script must release; the helpers below do it.
- ``obs_source_active`` is true only for sources shown on the program output
  (nested scenes and groups included): that is what viewers can see.
- obspython keeps the GIL through every C call, and OBS 29's graphics thread holds
  the sources mutex while it ticks every source, which fires signals ("source_update",
  "update", show/hide...) that any script may listen to from Python: such a callback
  waits for the GIL while holding that mutex. So a call that takes the sources mutex
  (``obs_enum_sources``, ``obs_get_source_by_name``) made from the UI thread deadlocks
  OBS for good whenever it meets one (seen in real OBS: a FINISHED_LOADING handler
  walking the sources froze OBS at start-up about once in three runs). Every such call
  here runs on this script's one OBS timer (:class:`Tick`) instead: timers run on the graphics
  thread between those ticks, never inside one. UI-thread handlers only ask for the walk
  (:meth:`Glue.request_source_walk`, :meth:`Captions.request_check`).
- The other way round, ``obs_frontend_get_scenes`` reads the UI's scene list widget, which
  only the UI thread may read: called from a timer it races the UI thread clearing that list
  at quit. So the UI-thread handlers that ask for a walk take the scene list themselves, as
  weak references, and the timer walks those.
- From SCRIPTING_SHUTDOWN on (OBS is quitting and about to free every source) the timer's
  jobs touch no source at all: nothing of this script holds or takes a reference while OBS
  releases the scenes.
"""

from __future__ import annotations

import collections
import contextlib
import html
import importlib
import logging
import os
import secrets
import sys
import threading
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import obspython as obs

SCRIPT_FILE = "ailicia_obs.py"
CORE_PACKAGE = "ailicia_core"
LOGGER_NAME = "ailicia"
STATUS_PROPERTY = "ailicia_status"
HOTKEY_NAME = "ailicia_trigger_{}"
HOTKEY_SETTING = "ailicia_trigger_{}_hotkey"
PROMPT_PREVIEW_CHARS = 40
#: What unloading may spend sending the leave and what is waiting. Quitting must stay under 2 s in
#: all, and OBS's own shutdown takes about 0.5 s more.
#: A leave is one DELETE answered at once, which fits even on a cold TLS connection.
SHUTDOWN_TIMEOUT_S = 1.4
#: Log lines from the worker waiting for the next timer tick; beyond this the oldest go.
PENDING_LOG_LINES = 500
#: How often those lines are written to the Script Log.
LOG_FLUSH_INTERVAL_MS = 200
#: How often watched sources are read (at most 1 s apart). A source walk asked for by a
#: UI-thread handler (signals to connect after loading, a new scene...) waits at most this long too.
WATCH_INTERVAL_MS = 500
#: Text sources by unversioned id: (the "read from file" flag, the file path) setting names.
TEXT_SOURCE_FILE_KEYS = {"text_gdiplus": ("read_from_file", "file"), "text_ft2_source": ("from_file", "text_file")}
VLC_SOURCE = "vlc_source"
#: How often the Connect with ai_licia timer looks for the app's answer.
CONNECT_POLL_MS = 250
#: What unloading waits for the dock's threads. Its port is closed at once and a stop takes a few ms (event
#: streams notice within 0.1 s); the cap keeps SHUTDOWN_TIMEOUT_S for the engine inside OBS's 2 s quit.
DOCK_STOP_TIMEOUT_S = 0.3
#: Random bytes in a new dock token (secrets.token_urlsafe: 32 URL-safe characters).
DOCK_TOKEN_BYTES = 24
#: Panel text boxes holding the dock's addresses (not settings: rewritten at every load).
DOCK_URL_PROPERTY = "ailicia_dock_url"
OVERLAY_URL_PROPERTY = "ailicia_overlay_url"

log = logging.getLogger(LOGGER_NAME)


# --- the release zip's own requests comes first (before anything imports requests) --------------


def use_vendored_packages() -> Any:
    """Put the zip's ``ailicia_vendor`` folder first on ``sys.path`` (see ailicia_core/vendoring.py).

    Returns its :class:`VendorSetup`, or None when the core folder cannot be read (the panel
    then explains that). Runs at every (re)load of this file; the path entry never stacks up.
    """
    sys.modules.pop(CORE_PACKAGE + ".vendoring", None)  # a fresh copy, as purge_core_modules would
    try:
        vendoring = importlib.import_module(CORE_PACKAGE + ".vendoring")
        return vendoring.use_vendored(os.path.dirname(os.path.abspath(__file__)))
    except Exception:
        return None


VENDOR_SETUP = use_vendored_packages()


def stop_using_vendored_packages() -> None:
    """The stop of :func:`use_vendored_packages` (script_unload): our folder leaves ``sys.path``."""
    if VENDOR_SETUP is not None and VENDOR_SETUP.active:
        with contextlib.suppress(Exception):
            importlib.import_module(CORE_PACKAGE + ".vendoring").stop_using(VENDOR_SETUP)


# --- releasing what OBS hands out --------------------------------------------------------


@contextlib.contextmanager
def source_ref(source: Any) -> Iterator[Any]:
    """``source`` (a new reference or None), released on exit."""
    try:
        yield source
    finally:
        if source is not None:
            obs.obs_source_release(source)


@contextlib.contextmanager
def source_list(sources: Optional[List[Any]]) -> Iterator[List[Any]]:
    """A list of new source references, all released on exit."""
    try:
        yield sources or []
    finally:
        if sources:
            obs.source_list_release(sources)


@contextlib.contextmanager
def sceneitem_list(items: Optional[List[Any]]) -> Iterator[List[Any]]:
    """A list of new scene item references, all released on exit."""
    try:
        yield items or []
    finally:
        if items:
            obs.sceneitem_list_release(items)


@contextlib.contextmanager
def strong_ref(weak: Any) -> Iterator[Any]:
    """The source behind weak reference ``weak``, or None once it is destroyed."""
    with source_ref(obs.obs_weak_source_get_source(weak) if weak is not None else None) as source:
        yield source


@contextlib.contextmanager
def data_array(array: Any) -> Iterator[Any]:
    """An ``obs_data_array_t`` reference (or None), released on exit."""
    try:
        yield array
    finally:
        if array is not None:
            obs.obs_data_array_release(array)


@contextlib.contextmanager
def data_ref(data: Any) -> Iterator[Any]:
    """An ``obs_data_t`` reference (or None), released on exit."""
    try:
        yield data
    finally:
        if data is not None:
            obs.obs_data_release(data)


@contextlib.contextmanager
def new_calldata() -> Iterator[Any]:
    """A fresh ``calldata_t``, destroyed on exit."""
    calldata = obs.calldata_create()
    try:
        yield calldata
    finally:
        obs.calldata_destroy(calldata)


def current_scene_name() -> str:
    """The program scene's name ("" when there is none)."""
    if not obs.obs_frontend_get_scene_names():
        return ""  # asking for the current scene now would log a SWIG conversion warning
    with source_ref(obs.obs_frontend_get_current_scene()) as scene:
        return obs.obs_source_get_name(scene) if scene is not None else ""


def source_kind(source: Any) -> str:
    """OBS's id for a source type (``pulse_input_capture``...), without a version suffix."""
    getter = getattr(obs, "obs_source_get_unversioned_id", obs.obs_source_get_id)
    return getter(source) or ""


# --- logging into OBS ----------------------------------------------------------------------


def on_obs_thread() -> bool:
    """True on threads OBS started: its UI thread, or a native thread calling into Python."""
    thread = threading.current_thread()
    return thread is threading.main_thread() or isinstance(thread, threading._DummyThread)


def obs_level(levelno: int) -> int:
    if levelno >= logging.ERROR:
        return obs.LOG_ERROR
    if levelno >= logging.WARNING:
        return obs.LOG_WARNING
    if levelno >= logging.INFO:
        return obs.LOG_INFO
    return obs.LOG_DEBUG


class ObsLogHandler(logging.Handler):
    """The ``ailicia`` logger into the Script Log, with matching levels, never a traceback.

    On an OBS thread a record goes out at once. From our own threads (the worker)
    it waits in :attr:`pending`, which :meth:`flush_pending` empties from an OBS
    callback: appending never blocks the worker, and the line lands in the Script
    Log window, where streamers look, under this script's name.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.pending: collections.deque = collections.deque(maxlen=PENDING_LOG_LINES)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__})"
            if on_obs_thread():
                self.flush_pending()  # keep the Script Log in the order things happened
                obs.script_log(obs_level(record.levelno), text)
            else:
                self.pending.append((obs_level(record.levelno), text))
        except Exception:  # logging must never raise into OBS, nor print a traceback there
            pass

    def flush_pending(self) -> None:
        """Write waiting lines to the Script Log; call only from an OBS callback of this script."""
        while self.pending:
            try:
                level, text = self.pending.popleft()
                obs.script_log(level, text)
            except Exception:
                return


class LogRoute:
    """Attaches one :class:`ObsLogHandler` to the ``ailicia`` logger; :meth:`detach` undoes it.

    :meth:`flush` is the script timer's job (:data:`LOG_FLUSH_INTERVAL_MS`).
    """

    def __init__(self, redacting_filter: Optional[logging.Filter]) -> None:
        self._saved = (log.level, log.propagate)
        for handler in [h for h in log.handlers if getattr(h, "ailicia_obs", False)]:
            log.removeHandler(handler)  # left by a load that failed half-way
        self.handler = ObsLogHandler(logging.DEBUG)
        self.handler.ailicia_obs = True
        if redacting_filter is not None:
            self.handler.addFilter(redacting_filter)
        log.addHandler(self.handler)
        log.setLevel(logging.DEBUG)
        # Another script's logging.basicConfig() must not receive (and print) our records.
        log.propagate = False

    def flush(self) -> None:
        if self.handler.pending:  # most ticks: nothing to write
            self.handler.flush_pending()

    def detach(self) -> None:
        self.handler.flush_pending()  # what the worker said while stopping
        log.removeHandler(self.handler)
        log.setLevel(self._saved[0])
        log.propagate = self._saved[1]
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            # A worker that outlives OBS's patience must not fall back to stderr (= script_log).
            log.addHandler(logging.NullHandler())


# --- callbacks OBS accepts ---------------------------------------------------------------------


def plain_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def obs_callback(owner: Any, method: Callable, what: str) -> Callable:
    """A plain function for OBS: runs ``method`` while ``owner`` is active, logs failures in words."""

    def callback(*args: Any) -> Any:
        if not owner.active:
            obs.remove_current_callback()  # a callback of an unloaded script must stay silent
            return None
        try:
            return method(*args)
        except Exception as exc:
            log.warning("ai_licia-obs could not %s (%s); carrying on.", what, plain_reason(exc))
            return None

    return callback


class SignalConnection:
    """One signal of one source, held through a weak reference so a deleted source is never touched."""

    def __init__(self, owner: Any, source: Any, signal: str, method: Callable, what: str) -> None:
        self.signal = signal
        self.live = True
        connection = self
        inner = obs_callback(owner, method, what)

        def on_signal(calldata: Any) -> None:
            if not connection.live:
                obs.remove_current_callback()  # disconnected: never deliver a late signal
                return
            inner(calldata)

        self.callback = on_signal
        self.weak = obs.obs_source_get_weak_source(source)
        try:
            obs.signal_handler_connect(obs.obs_source_get_signal_handler(source), signal, on_signal)
        except Exception:
            obs.obs_weak_source_release(self.weak)
            self.weak = None
            raise

    def watches(self, source: Any, signal: str) -> bool:
        return (
            self.signal == signal and self.weak is not None and obs.obs_weak_source_references_source(self.weak, source)
        )

    def source_exists(self) -> bool:
        with strong_ref(self.weak) as source:
            return source is not None

    def disconnect(self) -> None:
        self.live = False
        with strong_ref(self.weak) as source:
            if source is not None:
                obs.signal_handler_disconnect(obs.obs_source_get_signal_handler(source), self.signal, self.callback)
        obs.obs_weak_source_release(self.weak)
        self.weak = None


class SignalConnections:
    """Every signal this script listens to; each (source, signal) at most once."""

    def __init__(self) -> None:
        self._all: List[SignalConnection] = []

    def ensure(self, owner: Any, source: Any, signal: str, method: Callable, what: str) -> None:
        if not any(c.watches(source, signal) for c in self._all):
            self._all.append(SignalConnection(owner, source, signal, method, what))

    def forget_destroyed(self) -> None:
        """Drop connections whose source is gone (before ``ensure``: a new source may reuse an address)."""
        for connection in [c for c in self._all if not c.source_exists()]:
            connection.disconnect()
            self._all.remove(connection)

    def disconnect_all(self) -> None:
        while self._all:
            self._all.pop().disconnect()

    def count(self, signal: Optional[str] = None) -> int:
        return sum(1 for c in self._all if signal is None or c.signal == signal)


# --- the script's one timer -----------------------------------------------------------------------

#: The script's timer period: the fastest cadence a job needs (captions).
TICK_MS = 50


class Tick:
    """The script's one OBS timer (graphics thread): each job runs at its own interval.

    A job runs at the first tick at least its interval after its previous run (the first tick
    runs every job), measured on OBS's clock. A failing job logs one line; the others still run.
    Add it with ``obs.timer_add(tick.callback, TICK_MS)`` inside a script callback (OBS ties timers
    to the script it is calling).
    """

    def __init__(self, owner: Any) -> None:
        self.jobs: List[list] = []
        self.callback = obs_callback(owner, self.run, "run its timer")

    def every(self, interval_ms: int, job: Callable[[], None], what: str) -> None:
        self.jobs.append([0, interval_ms * 1_000_000, job, what])

    def run(self) -> None:
        now = obs.os_gettime_ns()
        for entry in self.jobs:
            due, interval, job, what = entry
            if now < due:
                continue
            entry[0] = now + interval
            try:
                job()
            except Exception as exc:
                log.warning("ai_licia-obs could not %s (%s); carrying on.", what, plain_reason(exc))


# --- ailicia_core, freshly imported at each load ---------------------------------------------


def purge_core_modules() -> None:
    """Forget imported ailicia_core modules, so Reload Scripts picks up edited files."""
    for name in [n for n in sys.modules if n == CORE_PACKAGE or n.startswith(CORE_PACKAGE + ".")]:
        del sys.modules[name]


class Core:
    """The ailicia_core modules one load uses. ``engine_class`` is None when the engine cannot run."""

    def __init__(self) -> None:
        importlib.invalidate_caches()
        self.settings = importlib.import_module(CORE_PACKAGE + ".settings")
        self.commands = importlib.import_module(CORE_PACKAGE + ".commands")
        self.events = importlib.import_module(CORE_PACKAGE + ".events")
        self.logsafe = importlib.import_module(CORE_PACKAGE + ".logsafe")
        self.status = importlib.import_module(CORE_PACKAGE + ".status")
        self.python_env = importlib.import_module(CORE_PACKAGE + ".python_env")
        self.engine_class: Any = None
        self.dock: Any = None
        self.problem = ""
        self.problem_is_requests = False
        self.python_line = ""
        vendored = VENDOR_SETUP is not None and VENDOR_SETUP.active
        facts = self.python_env.observe(vendored=vendored)
        try:
            with warnings.catch_warnings():
                # The zip leaves charset_normalizer out on purpose (requests then decodes as UTF-8):
                # requests' warning about it would only alarm the streamer in the Script Log.
                warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
                import requests  # (checked before the engine, the only part that needs it)
        except Exception as exc:
            self.problem = "\n".join(self.python_env.missing_requests_lines(facts, plain_reason(exc)))
            self.problem_is_requests = True
            return
        self.python_line = self.python_env.python_line(
            facts,
            getattr(requests, "__version__", "?"),
            getattr(requests, "__file__", "") or "",
            VENDOR_SETUP.folder if vendored else "",
            VENDOR_SETUP.forgotten if vendored else (),
        )
        try:
            self.engine_class = importlib.import_module(CORE_PACKAGE + ".engine").Engine
            self.dock = importlib.import_module(CORE_PACKAGE + ".dock")
        except Exception as exc:
            self.problem = (
                f"ai_licia-obs could not start ({plain_reason(exc)}). Check that the "
                f"'{CORE_PACKAGE}' folder sits next to {SCRIPT_FILE} and is complete."
            )


def read_settings(data: Any, defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Plain values for every persisted key, read with the getter of its default's type."""
    values: Dict[str, Any] = {}
    for key, default in defaults.items():
        if isinstance(default, bool):
            values[key] = obs.obs_data_get_bool(data, key)
        elif isinstance(default, int):
            values[key] = obs.obs_data_get_int(data, key)
        else:
            values[key] = obs.obs_data_get_string(data, key)
    return values


def write_defaults(data: Any, defaults: Mapping[str, Any]) -> None:
    for key, default in defaults.items():
        if isinstance(default, bool):
            obs.obs_data_set_default_bool(data, key, default)
        elif isinstance(default, int):
            obs.obs_data_set_default_int(data, key, default)
        else:
            obs.obs_data_set_default_string(data, key, str(default))


# --- hotkeys -------------------------------------------------------------------------------------


def hotkey_description(slot: int, prompt: str, name: str = "") -> str:
    """How trigger ``slot`` reads in Settings → Hotkeys: its name when it has one ("ai_licia: Roast me")."""
    if name.strip():
        return f"ai_licia: {' '.join(name.split())}"
    words = " ".join(prompt.split())
    if len(words) > PROMPT_PREVIEW_CHARS:
        words = words[: PROMPT_PREVIEW_CHARS - 1].rstrip() + "…"
    return f"ai_licia: trigger {slot} — {words or '(no prompt yet)'}"


class Hotkeys:
    """The trigger hotkeys: registered and loaded at load, saved in script_save, unregistered at unload."""

    def __init__(self) -> None:
        self.ids: Dict[int, int] = {}
        self.callbacks: Dict[int, Callable] = {}
        self.descriptions: Dict[int, str] = {}

    def register(
        self, owner: Any, slots: int, describe: Callable[[int], str], data: Any, press: Callable[[int], None]
    ) -> None:
        """``describe(slot)`` is the text Settings → Hotkeys shows (see :func:`hotkey_description`)."""
        for slot in range(1, slots + 1):
            callback = obs_callback(owner, _on_press_only(press, slot), f"handle hotkey trigger {slot}")
            description = describe(slot)
            hotkey_id = obs.obs_hotkey_register_frontend(HOTKEY_NAME.format(slot), description, callback)
            if hotkey_id == obs.OBS_INVALID_HOTKEY_ID:
                log.warning("OBS refused hotkey trigger %d; it will not be available.", slot)
                continue
            self.ids[slot], self.callbacks[slot], self.descriptions[slot] = hotkey_id, callback, description
            with data_array(obs.obs_data_get_array(data, HOTKEY_SETTING.format(slot))) as bindings:
                if bindings is not None:
                    obs.obs_hotkey_load(hotkey_id, bindings)

    def describe(self, describe: Callable[[int], str]) -> None:
        """Keep Settings → Hotkeys in step with the names and prompts (where OBS allows renaming)."""
        set_description = getattr(obs, "obs_hotkey_set_description", None)
        if set_description is None:
            return
        for slot, hotkey_id in self.ids.items():
            description = describe(slot)
            if description != self.descriptions.get(slot):
                set_description(hotkey_id, description)
                self.descriptions[slot] = description

    def save(self, data: Any) -> None:
        for slot, hotkey_id in self.ids.items():
            with data_array(obs.obs_hotkey_save(hotkey_id)) as bindings:
                obs.obs_data_set_array(data, HOTKEY_SETTING.format(slot), bindings)

    def unregister(self) -> None:
        for callback in self.callbacks.values():
            obs.obs_hotkey_unregister(callback)  # obspython finds the hotkey by its callback
        self.ids.clear()
        self.callbacks.clear()


def _on_press_only(press: Callable[[int], None], slot: int) -> Callable[[bool], None]:
    def on_hotkey(pressed: bool) -> None:
        if pressed:
            press(slot)

    return on_hotkey


# --- watched sources -------------------------------------------------------------------------------


def read_watched(name: str) -> tuple:
    """What source ``name`` shows, as plain values: ("text", text), ("file", path), ("media", title, artist),
    ("missing",) or ("unreadable", kind). Reads OBS state only: no file, no network."""
    with source_ref(obs.obs_get_source_by_name(name)) as source:
        if source is None:
            return ("missing",)
        kind = source_kind(source)
        file_keys = TEXT_SOURCE_FILE_KEYS.get(kind)
        if file_keys is not None:
            with data_ref(obs.obs_source_get_settings(source)) as settings:
                if obs.obs_data_get_bool(settings, file_keys[0]):
                    return ("file", obs.obs_data_get_string(settings, file_keys[1]))
                return ("text", obs.obs_data_get_string(settings, "text"))
        if kind == VLC_SOURCE:
            return ("media", media_tag(source, "title"), media_tag(source, "artist"))
        return ("unreadable", kind)


def media_tag(source: Any, tag: str) -> str:
    """One metadata tag of a VLC source, through its ``get_metadata`` proc handler ("" when none)."""
    with new_calldata() as calldata:
        obs.calldata_set_string(calldata, "tag_id", tag)
        obs.proc_handler_call(obs.obs_source_get_proc_handler(source), "get_metadata", calldata)
        return obs.calldata_string(calldata, "tag_data") or ""


class WatchedSources:
    """The source job of the script's timer (graphics thread): walks the sources when asked, reads the watched ones.

    A walk (:meth:`Glue.watch_sources`: connect the signals of new scenes and audio inputs)
    runs at the first :meth:`tick` after a UI-thread handler asked for it; then the watched sources are
    read, and a domain event is handed only when a reading changed. Neither
    runs while a scene collection is being swapped. :meth:`forget` (at unload) drops what it holds.
    The file behind a from-file text source is not read here: its path goes to the core.
    """

    def __init__(self, glue: Glue) -> None:
        self.glue = glue
        self.readings: Dict[str, tuple] = {}
        self.walk_pending = False
        #: Weak references to the scenes, taken on the UI thread by the handler that asked for the walk.
        self.scenes: List[Any] = []

    def set_scenes(self, scenes: List[Any]) -> None:
        """Keep ``scenes`` (weak references, now ours) for the next walk; release the previous ones."""
        old, self.scenes = self.scenes, scenes
        for weak in old:
            obs.obs_weak_source_release(weak)

    def forget(self) -> None:
        self.readings.clear()
        self.set_scenes([])

    def tick(self) -> None:
        glue = self.glue
        if glue.loading or glue.quitting:  # a collection is being swapped, or OBS frees every source
            return
        if self.walk_pending:
            self.walk_pending = False
            glue.watch_sources()
        if glue.settings is None:
            return
        watched = glue.settings.watched_sources
        if len(self.readings) > len(watched):
            names = {entry.name for entry in watched}
            for gone in [name for name in self.readings if name not in names]:
                del self.readings[gone]
        for entry in watched:
            reading = read_watched(entry.name)
            if reading != self.readings.get(entry.name):
                self.readings[entry.name] = reading
                glue.hand(self.event_for(entry.name, reading))

    def event_for(self, name: str, reading: tuple) -> Any:
        events = self.glue.core.events
        what = reading[0]
        if what == "text":
            return events.WatchedTextRead(source=name, text=reading[1])
        if what == "file":
            return events.WatchedFileNamed(source=name, path=reading[1])
        if what == "media":
            return events.WatchedMediaRead(source=name, title=reading[1], artist=reading[2])
        if what == "missing":
            return events.WatchedSourceUnavailable(source=name, reason=events.SOURCE_MISSING)
        return events.WatchedSourceUnavailable(source=name, reason=events.SOURCE_UNREADABLE_KIND, kind=reading[1])


# --- the panel -------------------------------------------------------------------------------------

LABELS = {
    "api_key": "API key",
    "channel": "Twitch channel",
    "enabled": "Enabled (master switch)",
    "only_when_live": "Send context only while streaming",
    "auto_join": "ai_licia joins chat when the stream starts",
    "auto_leave": "…and leaves chat when the stream stops",
    "send_scene_changes": "Scene switches",
    "send_stream_state": "Stream start and end",
    "send_recording_state": "Recording start, stop, pause and resume",
    "send_source_visibility": "Sources shown or hidden on stream",
    "send_mute_changes": "Microphone and audio mutes",
    "ignored_scenes": "Scenes to ignore (one per line)",
    "ignored_sources": "Sources to ignore (one per line)",
    "scene_descriptions": "Scene descriptions (one per line: Scene name = what it shows)",
    "api_base_url": "API address",
    "scene_debounce_ms": "Report a scene once it stayed on air for (ms)",
    "context_ttl_s": "Context expires after (s, 0 = never)",
    "event_type": "Event type label",
    "generation_cooldown_s": "Minimum time between reactions (s)",
    "dry_run": "Dry run: log what would be sent, send nothing",
    "eventsub_enabled": "Listen to ai_licia (confirm presence, show her words)",
    "caption_source": "Caption source (a Text source; empty = off)",
    "caption_clear_s": "Clear the caption after (s, 0 = keep)",
    "watched_sources": "Watched sources (one per line: Source name, or Source name = label)",
    "watch_debounce_ms": "Report a watched source once its text stayed unchanged for (ms)",
    "scene_characters": "Characters per scene (one per line: Scene name = Character name)",
    "dashboard_ws_port": "ai_licia app port (for Connect with ai_licia)",
    "dock_enabled": "Dock enabled (a page for View → Docks → Custom Browser Docks)",
    "dock_port": "Dock port (this computer only)",
}
WATCHED = ("watched_sources", "watch_debounce_ms", "scene_characters")
WHAT_TO_SEND = (
    "enabled",
    "only_when_live",
    "auto_join",
    "auto_leave",
    "send_scene_changes",
    "send_stream_state",
    "send_recording_state",
    "send_source_visibility",
    "send_mute_changes",
    "ignored_scenes",
    "ignored_sources",
    "scene_descriptions",
)
LIVE_EVENTS = ("eventsub_enabled", "caption_source", "caption_clear_s")
ADVANCED = (
    "api_base_url",
    "scene_debounce_ms",
    "context_ttl_s",
    "event_type",
    "generation_cooldown_s",
    "dry_run",
    "dashboard_ws_port",
    "dock_enabled",
    "dock_port",
)
INT_STEPS = {"scene_debounce_ms": 100, "context_ttl_s": 10, "watch_debounce_ms": 100}
#: Editing these rebuilds nothing: refreshing the panel mid-typing would move the cursor of a multi-line box.
NO_LIVE_STATUS = ("ignored_scenes", "ignored_sources", "scene_descriptions", "watched_sources", "scene_characters")
#: The panel's source lists: Text sources (captions, watching) and VLC sources (watching), by unversioned id.
TEXT_PICK, MEDIA_PICK = "text", "media"
PICKABLE_KINDS = {"text_gdiplus": TEXT_PICK, "text_ft2_source": TEXT_PICK, VLC_SOURCE: MEDIA_PICK}
#: The list under the watched sources box: not a setting (the box keeps the value); a pick adds a line.
ADD_WATCHED_PROPERTY = "ailicia_add_watched"
ADD_WATCHED_PROMPT = "Add a watched source…"
#: Which list offers which sources.
SOURCE_LISTS = {"caption_source": (TEXT_PICK,), ADD_WATCHED_PROPERTY: (TEXT_PICK, MEDIA_PICK)}


def sorted_names(names: List[str]) -> tuple:
    """Source names for a panel list: no blanks, no repeats, in alphabetical order whatever the case."""
    return tuple(sorted({name for name in names if name.strip()}, key=lambda name: (name.casefold(), name)))


def with_watched_line(text: str, name: str) -> str:
    """``watched_sources`` with ``name`` as a new last line; unchanged when a line already names it."""
    listed = {line.split("=", 1)[0].strip() for line in text.splitlines()}
    if name.strip() in listed:
        return text
    kept = text.rstrip("\n")
    return f"{kept}\n{name}" if kept.strip() else name


def status_markup(text: str) -> str:
    """The status as Qt rich text: escaped, so nothing in it can be read as markup."""
    lines = [html.escape(line, quote=False) for line in text.splitlines() if line.strip()]
    return "<html>" + "<br>".join(lines or ["…"]) + "</html>"


def show_status(props: Any, text: str) -> bool:
    """Put ``text`` in the panel's status line; True when it changed (OBS then redraws the panel)."""
    while obs.obs_properties_get_parent(props) is not None:
        props = obs.obs_properties_get_parent(props)
    prop = obs.obs_properties_get(props, STATUS_PROPERTY)
    markup = status_markup(text)
    if prop is None or obs.obs_property_description(prop) == markup:
        return False
    obs.obs_property_set_description(prop, markup)
    return True


class Panel:
    """Builds the script's properties; every widget callback goes back to the glue."""

    def __init__(self, glue: Glue) -> None:
        self.glue = glue

    def build(self) -> Any:
        glue = self.glue
        glue.request_source_walk()  # fresher names for the source lists next time (never walked from here)
        props = obs.obs_properties_create()
        # OBS shows an OBS_TEXT_INFO property with no value and no long description as one
        # full-width label made of its description: that label is the status.
        status = obs.obs_properties_add_text(
            props, STATUS_PROPERTY, status_markup(glue.status_text()), obs.OBS_TEXT_INFO
        )
        _call_if_present("obs_property_text_set_info_word_wrap", status, True)
        if glue.core is not None and glue.core.problem_is_requests:
            _call_if_present("obs_property_text_set_info_type", status, obs.OBS_TEXT_INFO_ERROR)
        self._button(props, "ailicia_refresh_status", "Refresh status", glue.refresh_clicked, "refresh the status")
        if glue.core is None:
            return props
        self._connection(props)
        self._group(props, "ailicia_what_to_send", "What to send", WHAT_TO_SEND)
        self._group(props, "ailicia_watched", "Watched sources and characters", WATCHED)
        self._triggers(props)
        self._dock(props)
        self._group(props, "ailicia_live_events", "Live events and captions", LIVE_EVENTS)
        self._group(props, "ailicia_advanced", "Advanced", ADVANCED)
        if glue.core.python_line:  # which Python OBS runs and where requests came from
            obs.obs_properties_add_text(
                props, "ailicia_python", status_markup(glue.core.python_line), obs.OBS_TEXT_INFO
            )
        return props

    def _connection(self, props: Any) -> None:
        glue = self.glue
        group = obs.obs_properties_create()
        self._button(
            group,
            "ailicia_connect_app",
            "Connect with ai_licia",
            glue.connect_flow.clicked,
            "connect with the ai_licia app",
        )
        self._watch(obs.obs_properties_add_text(group, "api_key", LABELS["api_key"], obs.OBS_TEXT_PASSWORD), "api_key")
        self._watch(obs.obs_properties_add_text(group, "channel", LABELS["channel"], obs.OBS_TEXT_DEFAULT), "channel")
        commands = glue.core.commands
        for name, text, command, what in (
            ("ailicia_test_connection", "Test connection", commands.TestConnection(), "test the connection"),
            ("ailicia_join_now", "Join chat now", commands.JoinNow(), "ask ai_licia to join"),
            ("ailicia_leave_now", "Leave chat now", commands.LeaveNow(), "ask ai_licia to leave"),
        ):
            self._button(group, name, text, glue.command_button(command), what)
        obs.obs_properties_add_group(props, "ailicia_connection", "Connection", obs.OBS_GROUP_NORMAL, group)

    def _triggers(self, props: Any) -> None:
        group = obs.obs_properties_create()
        for slot in range(1, self.glue.core.settings.TRIGGER_SLOTS + 1):
            key = f"trigger_{slot}_name"
            self._watch(obs.obs_properties_add_text(group, key, f"Trigger {slot} name", obs.OBS_TEXT_DEFAULT), key)
            key = f"trigger_{slot}_prompt"
            self._watch(obs.obs_properties_add_text(group, key, f"Trigger {slot} prompt", obs.OBS_TEXT_DEFAULT), key)
            key = f"trigger_{slot}_tts"
            self._watch(obs.obs_properties_add_bool(group, key, f"Trigger {slot}: speak the reaction aloud (TTS)"), key)
        obs.obs_properties_add_text(
            group,
            "ailicia_triggers_help",
            "Bind keys in OBS Settings → Hotkeys: each trigger is listed as "
            "'ai_licia: <its name>' (or 'ai_licia: trigger N' without a name).",
            obs.OBS_TEXT_INFO,
        )
        obs.obs_properties_add_group(props, "ailicia_triggers", "Hotkey triggers", obs.OBS_GROUP_NORMAL, group)

    def _dock(self, props: Any) -> None:
        group = obs.obs_properties_create()
        obs.obs_properties_add_text(group, DOCK_URL_PROPERTY, "Dock address", obs.OBS_TEXT_DEFAULT)
        obs.obs_properties_add_text(group, OVERLAY_URL_PROPERTY, "Captions overlay", obs.OBS_TEXT_DEFAULT)
        obs.obs_properties_add_text(
            group,
            "ailicia_dock_help",
            "Paste the dock address in View → Docks → Custom Browser Docks, and the overlay "
            "address in a Browser Source. Anyone with the address can steer ai_licia: "
            "keep it private.",
            obs.OBS_TEXT_INFO,
        )
        self._button(
            group,
            "ailicia_new_dock_token",
            "New dock address",
            self.glue.new_dock_token_clicked,
            "make a new dock address",
        )
        obs.obs_properties_add_group(props, "ailicia_dock", "Live dock", obs.OBS_GROUP_NORMAL, group)

    def _group(self, props: Any, name: str, title: str, keys: tuple) -> None:
        group = obs.obs_properties_create()
        for key in keys:
            self._watch(self._setting(group, key), key)
            if key == "watched_sources":
                self._add_watched_list(group)
        obs.obs_properties_add_group(props, name, title, obs.OBS_GROUP_NORMAL, group)

    def _add_watched_list(self, group: Any) -> None:
        prop = obs.obs_properties_add_list(
            group, ADD_WATCHED_PROPERTY, "", obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING
        )
        self.fill_source_list(prop, ADD_WATCHED_PROPERTY)
        obs.obs_property_set_modified_callback(
            prop, obs_callback(self.glue, self.glue.watched_source_picked, "add a watched source")
        )

    def fill_source_list(self, prop: Any, name: str) -> None:
        """(Re)fill the source list ``name`` from the names the source job last saw."""
        obs.obs_property_list_clear(prop)
        if name == ADD_WATCHED_PROPERTY:
            obs.obs_property_list_add_string(prop, ADD_WATCHED_PROMPT, "")
        for pick in SOURCE_LISTS[name]:
            for source_name in self.glue.source_names[pick]:
                obs.obs_property_list_add_string(prop, source_name, source_name)

    def refill_source_lists(self, props: Any) -> None:
        while obs.obs_properties_get_parent(props) is not None:
            props = obs.obs_properties_get_parent(props)
        for name in SOURCE_LISTS:
            prop = obs.obs_properties_get(props, name)
            if prop is not None:
                self.fill_source_list(prop, name)

    def _setting(self, group: Any, key: str) -> Any:
        if key in SOURCE_LISTS:  # a list of the sources OBS has, and typing a name still works
            prop = obs.obs_properties_add_list(
                group, key, LABELS[key], obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING
            )
            self.fill_source_list(prop, key)
            return prop
        default = self.glue.core.settings.DEFAULTS[key]
        if isinstance(default, bool):
            return obs.obs_properties_add_bool(group, key, LABELS[key])
        if isinstance(default, int):
            low, high = self.glue.core.settings.NUMBER_BOUNDS[key]
            return obs.obs_properties_add_int(group, key, LABELS[key], low, high, INT_STEPS.get(key, 1))
        kind = obs.OBS_TEXT_MULTILINE if key in NO_LIVE_STATUS else obs.OBS_TEXT_DEFAULT
        return obs.obs_properties_add_text(group, key, LABELS[key], kind)

    def _button(self, props: Any, name: str, text: str, method: Callable, what: str) -> None:
        obs.obs_properties_add_button(props, name, text, obs_callback(self.glue, method, what))

    def _watch(self, prop: Any, key: str) -> None:
        if prop is not None and key not in NO_LIVE_STATUS:
            obs.obs_property_set_modified_callback(
                prop, obs_callback(self.glue, self.glue.setting_modified, "refresh the status")
            )


def _call_if_present(name: str, *args: Any) -> None:
    function = getattr(obs, name, None)  # newer than some OBS versions
    if function is not None:
        function(*args)


# --- captions: ai_licia's words in a Text source ------------------------------------------------

#: How often the caption job looks for new words (ms): well under the 150 ms the latency goal allows.
CAPTION_TIMER_MS = 50
#: Text sources that take a "text" setting (unversioned ids).
TEXT_SOURCE_KINDS = ("text_gdiplus", "text_ft2_source")


class Captions:
    """The caption job of the script's timer: ai_licia's latest words into the ``caption_source`` Text source.

    The listener never calls OBS: it posts into the engine's mailbox, and :meth:`tick`
    (on OBS's graphics thread, every :data:`CAPTION_TIMER_MS`) reads it and calls ``obs_source_update``.
    """

    def __init__(self, glue: Glue, plan: Any) -> None:
        self.glue = glue
        self.plan = plan
        self.target = ""
        self.check_pending = False

    def request_check(self) -> None:
        """Any OBS thread: look at ``caption_source`` at the next tick (the lookup must not run on the UI thread)."""
        self.check_pending = True

    def tick(self) -> None:
        glue = self.glue
        if glue.engine is None or glue.settings is None or glue.loading or glue.quitting:
            return
        if self.check_pending:
            self.check_pending = False
            self.check()
        text = self.plan.tick(glue.engine.latest_caption(), glue.clock(), float(glue.settings.caption_clear_s))
        name = glue.settings.caption_source
        if text is not None and name:
            self.show(name, text)

    def check(self) -> None:
        """Timer: look at ``caption_source`` (after load, a settings change) so a wrong name shows before she speaks."""
        settings = self.glue.settings
        if self.glue.engine is not None and settings is not None:
            self.show(settings.caption_source, None)

    def show(self, name: str, text: Optional[str]) -> None:
        """Set ``text`` (None: only look) on the source called ``name``; tell the engine what is there."""
        outcome = ""
        if name:
            with source_ref(obs.obs_get_source_by_name(name)) as source:
                if source is None:
                    outcome = "missing"
                elif source_kind(source) not in TEXT_SOURCE_KINDS:
                    outcome = "not_text"
                else:
                    outcome = "ok"
                    if text is not None:
                        data = obs.obs_data_create()
                        try:
                            obs.obs_data_set_string(data, "text", text)
                            obs.obs_source_update(source, data)
                        finally:
                            obs.obs_data_release(data)
        if outcome != self.target:
            self.target = outcome
            self.glue.engine.report_caption_target(outcome)


# --- Connect with ai_licia ----------------------------------------------------------------------


class ConnectFlow:
    """ "Connect with ai_licia", OBS side: the button starts it; the script's timer saves what the app granted.

    The engine's runner talks to the ai_licia app on its own thread and leaves the grant in a
    mailbox. :meth:`poll`, a job of the script's timer (every :data:`CONNECT_POLL_MS`), takes it,
    writes ``api_key`` and ``channel`` into the settings object OBS handed
    ``script_load``/``script_update``, applies them as ``script_update`` would and starts a
    connection test. So every OBS call happens on an OBS thread, never on ours.
    """

    def __init__(self, glue: Glue) -> None:
        self.glue = glue
        self.said = ""

    def clicked(self, props: Any, prop: Any) -> bool:
        """UI thread: the button. A second press while a request waits opens nothing new."""
        engine = self.glue.engine
        if engine is not None and not engine.connect_with_app():
            log.info("Connect with ai_licia: already asking the ai_licia app; answer it there.")
        self.poll()
        show_status(props, self.glue.status_text())
        return True

    def poll(self) -> None:
        """OBS timer (or the button): save a grant, and log each new step in words."""
        engine = self.glue.engine
        if engine is None:
            return
        grant = engine.take_connect_grant()
        if grant is not None:
            self.save(grant)
        words = engine.connect_text()
        if words and words != self.said:
            failed = engine.connect_state().phase == "failed"
            log.log(logging.WARNING if failed else logging.INFO, "%s", words)
        self.said = words

    def save(self, grant: Any) -> None:
        data = self.glue.data
        if data is None:
            return
        obs.obs_data_set_string(data, "api_key", grant.api_key.reveal())
        obs.obs_data_set_string(data, "channel", grant.channel)
        self.glue.reconfigure(data)
        if self.glue.engine is not None:
            self.glue.engine.test_connection()


# --- the dock server ------------------------------------------------------------------------------


def ensure_dock_token(data: Any) -> None:
    """Give the settings a dock token the first time (an OBS callback: script_load or a button)."""
    if not obs.obs_data_get_string(data, "dock_token").strip():
        obs.obs_data_set_string(data, "dock_token", secrets.token_urlsafe(DOCK_TOKEN_BYTES))


class DockHost:
    """The live dock's server for one load (``ailicia_core.dock``): :meth:`start` in ``Glue.start``,
    :meth:`stop` in ``Glue.stop``. It serves from its own daemon threads and never calls OBS."""

    def __init__(self) -> None:
        self.server: Any = None
        self.outcome = "disabled"
        self.port = 0
        self._wanted: tuple = ()

    def start(self, core: Core, engine: Any, settings: Any) -> None:
        self._wanted = (settings.dock_enabled, settings.dock_port)
        self.port = settings.dock_port
        if not settings.dock_enabled:
            self.outcome = "disabled"
            return
        if not settings.dock_token:
            self.outcome = "no_token"
            return
        try:
            server = core.dock.DockServer(engine, port=settings.dock_port, token=settings.dock_token)
            started = server.start()
        except Exception as exc:  # the dock is an extra: the rest of the script runs without it
            self.outcome = "failed"
            log.warning("%s (%s)", core.status.render_dock_line(self.outcome, self.port), plain_reason(exc))
            return
        self.outcome, self.port = started.outcome, started.port
        if started.outcome in ("running", "starting"):  # starting: the server tries the port again, then logs
            self.server = server
        if started.running:
            log.info("The ai_licia dock is ready on port %d (its address is in the script's panel).", self.port)
        elif started.outcome != "starting":
            log.warning("%s", core.status.render_dock_line(self.outcome, self.port))

    def apply(self, core: Core, engine: Any, settings: Any) -> None:
        """script_update: a new token applies at once; a new port or switch restarts the server."""
        unchanged = (settings.dock_enabled, settings.dock_port) == self._wanted
        if unchanged and self.server is not None:
            self.server.set_token(settings.dock_token)
        elif not unchanged or (self.outcome == "no_token" and settings.dock_token):
            # A port in use is tried again only when the port changes: not at every keystroke in the panel.
            self.stop()
            self.start(core, engine, settings)

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None and not server.stop(DOCK_STOP_TIMEOUT_S):
            log.warning("ai_licia-obs: the dock took too long to stop; its threads end on their own.")

    def urls(self) -> tuple:
        """(dock address, overlay address), or two empty strings while no server runs."""
        if self.server is None:
            return "", ""
        return self.server.url("/dock"), self.server.url("/overlay")

    def status_line(self, core: Core) -> str:
        outcome = getattr(self.server, "outcome", "") or self.outcome  # a retried bind ends after start
        return core.status.render_dock_line(outcome, self.port)


# --- the glue --------------------------------------------------------------------------------------


def undo_step(step: Callable, *args: Any) -> None:
    """One step of unloading: a failure is logged in words and the other steps still run."""
    try:
        step(*args)
    except Exception as exc:
        log.warning("ai_licia-obs: a step of unloading failed (%s); carrying on.", plain_reason(exc))


class Glue:
    """Everything one load of the script holds: :meth:`start` puts each hook beside its undo on
    :attr:`undo`, so :meth:`stop` is one ``close()``."""

    def __init__(self, core: Optional[Core], problem: str = "") -> None:
        self.core = core
        self.problem = problem or (core.problem if core is not None else "")
        self.active = False
        self.undo = contextlib.ExitStack()
        self.tick = Tick(self)
        self.engine: Any = None
        self.settings: Any = None
        self.connections = SignalConnections()
        self.hotkeys = Hotkeys()
        self.dock = DockHost()
        self.watched = WatchedSources(self)
        self.frontend_handlers: Dict[int, Callable[[], None]] = {}
        self.loading = False
        self.last_scene = ""
        # The glue's own view, on the UI thread (the core's stream state lives on its worker).
        self.stream_live = False
        self.recording_live = False
        self.quitting = False
        self.captions: Optional[Captions] = None
        self.clock: Callable[[], float] = time.monotonic
        #: The settings object OBS handed script_load/script_update (Connect with ai_licia writes into it).
        self.data: Any = None
        self.connect_flow = ConnectFlow(self)
        #: Names of the Text and VLC sources at the source job's last walk: what the panel's lists offer.
        self.source_names: Dict[str, tuple] = {TEXT_PICK: (), MEDIA_PICK: ()}

    # --- lifecycle (UI thread) ------------------------------------------------------------

    def start(self, data: Any) -> None:
        """Start the engine and every hook, or explain in the panel why not. Call inside script_load:
        OBS ties the timer to the script it is calling."""
        self.active = True
        self._on_stop(setattr, self, "data", None)  # OBS's settings object is not ours to keep past unload
        log_route = LogRoute(self.core.logsafe.RedactingFilter() if self.core is not None else None)
        self._on_stop(log_route.detach)
        self.tick.every(LOG_FLUSH_INTERVAL_MS, log_route.flush, "write to the Script Log")
        obs.timer_add(self.tick.callback, TICK_MS)
        self._on_stop(obs.timer_remove, self.tick.callback)
        if self.core is None or self.core.engine_class is None:
            if self.problem:
                log.warning("%s", self.problem)  # the Script Log lets the streamer copy the command
            return
        if self.core.python_line:
            log.info("%s", self.core.python_line)
        self.data = data
        ensure_dock_token(data)
        values = read_settings(data, self.core.settings.DEFAULTS)
        self.settings = self.core.settings.parse_settings(values)
        self.engine = self.core.engine_class(values)
        self._on_stop(self._stop_engine)
        self.captions = Captions(self, importlib.import_module(CORE_PACKAGE + ".hearing").CaptionPlan())
        self.tick.every(CAPTION_TIMER_MS, self.captions.tick, "show ai_licia's words")
        self.tick.every(CONNECT_POLL_MS, self.connect_flow.poll, "finish Connect with ai_licia")
        self.tick.every(WATCH_INTERVAL_MS, self.watched.tick, "read the watched sources")
        self._on_stop(self.dock.stop)
        self.dock.start(self.core, self.engine, self.settings)
        self._show_dock_urls(data)
        self._on_stop(self.hotkeys.unregister)
        self._on_stop(self.connections.disconnect_all)
        self.frontend_handlers = self._frontend_handlers()
        frontend_callback = obs_callback(self, self.on_frontend_event, "handle an OBS event")
        obs.obs_frontend_add_event_callback(frontend_callback)
        self._on_stop(obs.obs_frontend_remove_event_callback, frontend_callback)
        self.hotkeys.register(self, self.core.settings.TRIGGER_SLOTS, self.describe_trigger, data, self.trigger_pressed)
        self.last_scene = current_scene_name()
        # At OBS start-up scripts load before any scene exists: the first scene is not a switch,
        # and the timer's jobs wait for FINISHED_LOADING before they look at sources.
        self.loading = not self.last_scene
        self.request_source_walk()
        self.captions.request_check()
        self.recording_live = bool(obs.obs_frontend_recording_active())
        if obs.obs_frontend_streaming_active():
            self.stream_live = True
            self.hand(self.core.events.StreamAlreadyLive(scene=self.last_scene))

    def _on_stop(self, step: Callable, *args: Any) -> None:
        """Have :meth:`stop` call ``step(*args)`` (newest first)."""
        self.undo.callback(undo_step, step, *args)

    def stop(self) -> None:
        """Undo every hook, newest first, the engine last but the log (bounded); safe after a partial start
        and twice."""
        self.active = False
        self.undo.close()
        undo_step(self.watched.forget)  # the panel asks for walks even when nothing runs (a failed start)

    def _stop_engine(self) -> None:
        if self.engine is None:
            return
        # Only quitting OBS ends the streamer's session: Reload Scripts and a scene-collection
        # switch also unload, and must not make ai_licia leave a live stream.
        auto_leave = self.settings is not None and self.settings.auto_leave
        leave = self.quitting and auto_leave and (self.stream_live or bool(obs.obs_frontend_streaming_active()))
        engine, self.engine = self.engine, None
        engine.shutdown(timeout=SHUTDOWN_TIMEOUT_S, leave_if_live=leave)

    def reconfigure(self, data: Any) -> None:
        """script_update: apply the settings to the running engine, in place."""
        if self.core is None:
            return
        self.data = data
        values = read_settings(data, self.core.settings.DEFAULTS)
        self.settings = (
            self.engine.reconfigure(values) if self.engine is not None else self.core.settings.parse_settings(values)
        )
        self.hotkeys.describe(self.describe_trigger)
        if self.captions is not None:
            self.captions.request_check()
        if self.engine is not None and self.active:
            self.dock.apply(self.core, self.engine, self.settings)
            self._show_dock_urls(data)

    def _show_dock_urls(self, data: Any) -> None:
        dock_url, overlay_url = self.dock.urls()
        obs.obs_data_set_string(data, DOCK_URL_PROPERTY, dock_url)
        obs.obs_data_set_string(data, OVERLAY_URL_PROPERTY, overlay_url)

    def save(self, data: Any) -> None:
        self.hotkeys.save(data)

    # --- handing events over ------------------------------------------------------------------

    def hand(self, event: Any) -> None:
        engine = self.engine
        if engine is not None and self.active:
            engine.handle(event)

    def on_frontend_event(self, event: int) -> None:
        handler = self.frontend_handlers.get(event)
        if handler is not None:
            handler()

    def _frontend_handlers(self) -> Dict[int, Callable[[], None]]:
        names = {
            "SCENE_CHANGED": self._scene_changed,
            "STREAMING_STARTED": self._streaming_started,
            "STREAMING_STOPPED": self._streaming_stopped,
            "RECORDING_STARTED": self._recording_started,
            "RECORDING_STOPPED": self._recording_stopped,
            "RECORDING_PAUSED": lambda: self.hand(self.core.events.RecordingPaused()),
            "RECORDING_UNPAUSED": lambda: self.hand(self.core.events.RecordingResumed()),
            "FINISHED_LOADING": self._loading_finished,
            "SCENE_COLLECTION_CHANGED": self._loading_finished,
            "SCENE_COLLECTION_CHANGING": self._loading_started,
            "SCENE_LIST_CHANGED": self.request_source_walk,
            "SCENE_COLLECTION_CLEANUP": self._collection_cleanup,
            "SCRIPTING_SHUTDOWN": self._quitting,
            "EXIT": self._quitting,
        }
        return {
            getattr(obs, "OBS_FRONTEND_EVENT_" + name): handler
            for name, handler in names.items()
            if hasattr(obs, "OBS_FRONTEND_EVENT_" + name)
        }

    def _scene_changed(self) -> None:
        scene = current_scene_name()
        if self.loading or not scene or scene == self.last_scene:
            self.last_scene = scene or self.last_scene
            return
        self.last_scene = scene
        self.hand(self.core.events.SceneSwitched(scene=scene))

    def _streaming_started(self) -> None:
        self.stream_live = True
        self.request_source_walk()  # audio inputs added since load get their mute signal
        self.hand(self.core.events.StreamStarted(scene=current_scene_name()))

    def _streaming_stopped(self) -> None:
        if not self.stream_live:  # STARTING then STOPPED: the start failed, nothing to end
            return
        self.stream_live = False
        self.hand(self.core.events.StreamStopped())

    def _recording_started(self) -> None:
        self.recording_live = True
        self.hand(self.core.events.RecordingStarted())

    def _recording_stopped(self) -> None:
        if not self.recording_live:
            return
        self.recording_live = False
        self.hand(self.core.events.RecordingStopped())

    def _loading_started(self) -> None:
        self.loading = True

    def _loading_finished(self) -> None:
        self.loading = False
        self.last_scene = current_scene_name()
        self.request_source_walk()
        if self.captions is not None:
            self.captions.request_check()  # the caption source exists now, or the hint shows

    def _collection_cleanup(self) -> None:
        self.loading = True
        self.connections.disconnect_all()

    def _quitting(self) -> None:
        self.quitting = True

    # --- scene and source signals -----------------------------------------------------------------

    def request_source_walk(self) -> None:
        """UI thread: take the scene list (weakly) and have the source job run :meth:`watch_sources`
        at its next tick. Only the UI thread may read the scene list: module docstring."""
        with source_list(obs.obs_frontend_get_scenes()) as scenes:
            self.watched.set_scenes([obs.obs_source_get_weak_source(scene) for scene in scenes])
        self.watched.walk_pending = True

    def watch_sources(self) -> None:
        """The source job only: listen to ``item_visible`` of every scene and group and ``mute`` of every
        audio source, once, and note the names the panel's source lists offer. (On the UI thread,
        ``obs_enum_sources`` can deadlock OBS: module docstring.)"""
        self.connections.forget_destroyed()
        for weak in self.watched.scenes:
            with strong_ref(weak) as scene_source:
                if scene_source is not None:  # removed since the UI thread listed it
                    self._watch_scene(scene_source)
        names: Dict[str, List[str]] = {TEXT_PICK: [], MEDIA_PICK: []}
        with source_list(obs.obs_enum_sources()) as sources:
            for source in sources:
                if obs.obs_source_get_output_flags(source) & obs.OBS_SOURCE_AUDIO:
                    self.connections.ensure(self, source, "mute", self.on_mute, "report a mute")
                pick = PICKABLE_KINDS.get(source_kind(source))
                if pick is not None:
                    names[pick].append(obs.obs_source_get_name(source) or "")
        self.source_names = {pick: sorted_names(found) for pick, found in names.items()}

    def _watch_scene(self, scene_source: Any) -> None:
        self.connections.ensure(self, scene_source, "item_visible", self.on_item_visible, "report a source")
        scene = obs.obs_scene_from_source(scene_source)
        if scene is None:
            return
        with sceneitem_list(obs.obs_scene_enum_items(scene)) as items:
            for item in items:
                if obs.obs_sceneitem_is_group(item):
                    self.connections.ensure(
                        self,
                        obs.obs_sceneitem_get_source(item),
                        "item_visible",
                        self.on_item_visible,
                        "report a source",
                    )

    def on_item_visible(self, calldata: Any) -> None:
        """Any thread: an item of a scene or group was shown or hidden."""
        item = obs.calldata_sceneitem(calldata, "item")
        if item is None:
            return
        holder = obs.obs_scene_get_source(obs.obs_sceneitem_get_scene(item))
        if not obs.obs_source_active(holder):  # not on the program output: viewers cannot see it
            return
        self.hand(
            self.core.events.SourceVisibilityChanged(
                scene=obs.obs_source_get_name(holder),
                source=obs.obs_source_get_name(obs.obs_sceneitem_get_source(item)),
                visible=obs.calldata_bool(calldata, "visible"),
            )
        )

    def on_mute(self, calldata: Any) -> None:
        """Any thread: an audio source was muted or unmuted."""
        source = obs.calldata_source(calldata, "source")
        if source is None:
            return
        self.hand(
            self.core.events.AudioMuteChanged(
                source=obs.obs_source_get_name(source),
                muted=obs.calldata_bool(calldata, "muted"),
                source_kind=source_kind(source),
            )
        )

    def describe_trigger(self, slot: int) -> str:
        """Trigger ``slot`` as Settings → Hotkeys shows it (its name, else a preview of its prompt)."""
        return hotkey_description(slot, self.settings.trigger_prompt(slot), self.settings.trigger_name(slot))

    def trigger_pressed(self, slot: int) -> None:
        """Hotkey thread: trigger ``slot`` was pressed."""
        self.hand(self.core.events.TriggerPressed(slot=slot))

    # --- the panel (UI thread) ----------------------------------------------------------------------

    def status_text(self) -> str:
        if self.engine is not None:
            return self.engine.status_text() + "\n" + self.dock.status_line(self.core)
        return self.problem or "ai_licia-obs is not running."

    # Buttons return True so OBS redraws the panel. Their work happens on the worker, so the
    # result shows a moment later: "Refresh status" fetches it.

    def watched_source_picked(self, props: Any, prop: Any, data: Any) -> bool:
        """The "add a watched source" list: the chosen name becomes a new line of ``watched_sources``."""
        picked = obs.obs_data_get_string(data, ADD_WATCHED_PROPERTY)
        if not picked:
            return False
        obs.obs_data_set_string(data, ADD_WATCHED_PROPERTY, "")
        current = obs.obs_data_get_string(data, "watched_sources")
        obs.obs_data_set_string(data, "watched_sources", with_watched_line(current, picked))
        self.reconfigure(data)  # script_update may come before this (stand-in) or 0.5 s after it (OBS's timer)
        show_status(props, self.status_text())
        return True  # OBS redraws the panel: the box shows the new line, the list its prompt again

    def refresh_clicked(self, props: Any, prop: Any) -> bool:
        self.request_source_walk()
        if self.core is not None:
            Panel(self).refill_source_lists(props)  # with the names of the last walk
        show_status(props, self.status_text())
        return True

    def command_button(self, command: Any) -> Callable[[Any, Any], bool]:
        """A button that submits the typed ``command`` (ailicia_core.commands) to the engine."""

        def clicked(props: Any, prop: Any) -> bool:
            if self.engine is not None:
                self.engine.submit(command)
            show_status(props, self.status_text())
            return True

        return clicked

    def new_dock_token_clicked(self, props: Any, prop: Any) -> bool:
        """A new dock token: old dock addresses stop working at once."""
        if self.data is not None:
            obs.obs_data_set_string(self.data, "dock_token", secrets.token_urlsafe(DOCK_TOKEN_BYTES))
            self.reconfigure(self.data)
        show_status(props, self.status_text())
        return True

    def setting_modified(self, props: Any, prop: Any, data: Any) -> bool:
        # OBS calls script_update before this, so the status already reflects the change.
        return show_status(props, self.status_text())


_glue: Optional[Glue] = None


def _load_glue() -> Glue:
    purge_core_modules()
    try:
        core: Optional[Core] = Core()
    except Exception as exc:
        return Glue(
            None,
            problem=(
                f"ai_licia-obs could not load its '{CORE_PACKAGE}' folder "
                f"({plain_reason(exc)}). It must sit next to {SCRIPT_FILE}."
            ),
        )
    return Glue(core)


# --- OBS entry points --------------------------------------------------------------------------------


def script_description() -> str:
    return (
        "<b>ai_licia co-host</b><br>Keeps ai_licia aware of your stream: scene switches, stream and "
        "recording state, sources shown or hidden, mic mutes, the text and now-playing sources you list; "
        "ai_licia joins chat when you go live and can change character with the scene. "
        "Hotkeys ask her to react now."
    )


def script_defaults(settings: Any) -> None:
    try:
        if _glue is not None and _glue.core is not None:
            defaults = _glue.core.settings.DEFAULTS
        else:
            purge_core_modules()
            defaults = importlib.import_module(CORE_PACKAGE + ".settings").DEFAULTS
        write_defaults(settings, defaults)
    except Exception as exc:
        log.warning("ai_licia-obs could not set its defaults (%s).", plain_reason(exc))


def script_load(settings: Any) -> None:
    global _glue
    if _glue is not None:  # never two engines, whatever OBS did before
        _glue.stop()
    _glue = _load_glue()
    try:
        _glue.start(settings)
    except Exception as exc:
        _glue.problem = f"ai_licia-obs could not start ({plain_reason(exc)})."
        log.warning("%s", _glue.problem)
        _glue.stop()


def script_update(settings: Any) -> None:
    if _glue is None:
        return
    try:
        _glue.reconfigure(settings)
    except Exception as exc:
        log.warning("ai_licia-obs could not apply the settings (%s).", plain_reason(exc))


def script_save(settings: Any) -> None:
    if _glue is None:
        return
    try:
        _glue.save(settings)
    except Exception as exc:
        log.warning("ai_licia-obs could not save the hotkeys (%s).", plain_reason(exc))


def script_properties() -> Any:
    glue = _glue or Glue(None, problem="ai_licia-obs is not loaded.")
    try:
        return Panel(glue).build()
    except Exception as exc:
        props = obs.obs_properties_create()
        obs.obs_properties_add_text(
            props,
            STATUS_PROPERTY,
            status_markup(f"The panel could not be built ({plain_reason(exc)})."),
            obs.OBS_TEXT_INFO,
        )
        return props


def script_unload() -> None:
    global _glue
    glue, _glue = _glue, None
    if glue is not None:
        glue.stop()
    stop_using_vendored_packages()
