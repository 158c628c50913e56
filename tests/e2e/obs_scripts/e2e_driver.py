"""Test-only driver: lets the e2e tests act on a running OBS.

Protocol: one JSON object per TCP connection on 127.0.0.1:``port``
(``{"token": ..., "op": ..., **args}`` + newline), one JSON reply
(``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``). Only the
operations in :data:`OPERATIONS` exist; nothing is evaluated. The token (from
the script settings) keeps other local processes out.

Commands run on the driver's own thread, so each one respects how OBS 29 wants
to be called from a non-UI thread:

* ``obs_frontend_set_current_scene`` is called through ctypes: the obspython
  binding keeps the GIL while it waits for the UI thread, which deadlocks as
  soon as any script has a frontend callback. ctypes releases the GIL.
* ``obs_frontend_set_current_scene_collection`` triggers a Qt menu action
  directly, so it must run on the UI thread: it is queued there with
  ``obs_queue_task(OBS_TASK_UI, ...)``. So is ``obs_script_reload`` (what the
  Scripts tool's Reload button calls), once per script, in list order.
  Both unload this driver too, so they are queued without waiting.
* streaming/recording start/stop/pause, ``obs_sceneitem_set_visible`` and
  ``obs_source_set_muted`` are safe from a thread (they queue to the UI thread
  or emit their signal on the calling thread).
* hotkeys are injected with ``obs_hotkey_inject_event`` (libobs, ctypes): the
  same path a key press takes, so the bindings stored in the script settings
  must have been restored by ``script_load``.
* quit: ``QTimer::singleShot(0, main_window, "1close()")`` (QtCore, ctypes: Qt 5 in OBS 29,
  Qt 6 from OBS 30, whichever this OBS loaded)
  queues a close of the main window on the UI thread, as a user click would.
* ``update_source`` merges settings into a source with ``obs_source_update``
  (what editing a text source's properties does); ``hotkeys`` lists every
  registered hotkey's name and description through ``obs_enum_hotkeys``
  (libobs, ctypes: obspython cannot pass a Python enumeration callback).
"""

import ctypes
import json
import socket
import sys
import threading
import time

import obspython as obs

_libobs = ctypes.CDLL("libobs.so.0")
_frontend = ctypes.CDLL("libobs-frontend-api.so.0")


def _loaded(*prefixes: str) -> str:
    """The path of the library this OBS loaded whose file name starts with one of ``prefixes``.

    Sonames differ between OBS builds (``libobs-scripting.so.1`` in 29 and 30, ``.so.0`` in 32;
    Qt 5 in OBS 29, Qt 6 from 30), so the driver binds to whatever this process has mapped.
    """
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split(None, 5)[-1].strip()
            if path.rsplit("/", 1)[-1].startswith(prefixes):
                return path
    raise OSError(f"no library {prefixes} is loaded in this OBS")


_scripting = ctypes.CDLL(_loaded("libobs-scripting.so"))
_qtcore = ctypes.CDLL(_loaded("libQt6Core.so", "libQt5Core.so"))
_libc = ctypes.CDLL(None)

OBS_TASK_UI = 0


class _KeyCombination(ctypes.Structure):
    _fields_ = [("modifiers", ctypes.c_uint32), ("key", ctypes.c_int)]


def _declare(function, restype, *argtypes):
    """Give a ctypes function its C signature (``restype`` None: returns void)."""
    function.restype = restype
    function.argtypes = list(argtypes)


_pointer, _text = ctypes.c_void_p, ctypes.c_char_p
# Source work goes through ctypes, which releases the GIL: obspython keeps it through the call, and
# OBS 29 then deadlocks when the graphics thread, holding the sources mutex while it ticks sources,
# fires a Python signal callback (this driver's own "source_update" below) that waits for the GIL.
_declare(_libobs.obs_get_source_by_name, _pointer, _text)
_declare(_libobs.obs_source_release, None, _pointer)
_declare(_libobs.obs_scene_from_source, _pointer, _pointer)
_declare(_libobs.obs_scene_find_source_recursive, _pointer, _pointer, _text)
_declare(_libobs.obs_sceneitem_set_visible, ctypes.c_bool, _pointer, ctypes.c_bool)
_declare(_libobs.obs_source_set_muted, None, _pointer, ctypes.c_bool)
_declare(_libobs.obs_data_create_from_json, _pointer, _text)
_declare(_libobs.obs_source_update, None, _pointer, _pointer)
_declare(_libobs.obs_data_release, None, _pointer)
_libobs.obs_key_from_name.restype = ctypes.c_int
_libobs.obs_key_from_name.argtypes = [ctypes.c_char_p]
_libobs.obs_hotkey_inject_event.argtypes = [_KeyCombination, ctypes.c_bool]
_libobs.obs_queue_task.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_bool]
_frontend.obs_frontend_set_current_scene.argtypes = [ctypes.c_void_p]
_frontend.obs_frontend_get_main_window.restype = ctypes.c_void_p
_qt_single_shot = _qtcore._ZN6QTimer10singleShotEiPK7QObjectPKc
_qt_single_shot.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p]
_HOTKEY_ENUM = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_libobs.obs_enum_hotkeys.argtypes = [_HOTKEY_ENUM, ctypes.c_void_p]
_libobs.obs_hotkey_get_name.restype = ctypes.c_char_p
_libobs.obs_hotkey_get_name.argtypes = [ctypes.c_void_p]
_libobs.obs_hotkey_get_description.restype = ctypes.c_char_p
_libobs.obs_hotkey_get_description.argtypes = [ctypes.c_void_p]
_libc.strdup.restype = ctypes.c_void_p
_libc.strdup.argtypes = [ctypes.c_char_p]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

# obs_task_t is void (*)(void *). Both functions take one pointer argument; the
# bool that obs_script_reload returns is ignored, which the x86-64 ABI allows.
_TASK_RELOAD_SCRIPT = ctypes.cast(_scripting.obs_script_reload, ctypes.c_void_p).value
_TASK_SET_COLLECTION = ctypes.cast(_frontend.obs_frontend_set_current_scene_collection, ctypes.c_void_p).value

# Pressing a script's panel button as the Scripts window does: its properties, then the click.
_declare(_scripting.obs_script_get_properties, _pointer, _pointer)
_declare(_libobs.obs_properties_get, _pointer, _pointer, _text)
_declare(_libobs.obs_property_button_clicked, ctypes.c_bool, _pointer, _pointer)
_declare(_libobs.obs_properties_destroy, None, _pointer)
_UI_TASK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_ui_tasks = []  # ctypes callbacks must outlive their run

# "SHIFT", "CONTROL", "ALT", "COMMAND" -> INTERACT_* bits (obs-interaction.h).
_MODIFIERS = {"shift": 1 << 1, "control": 1 << 2, "alt": 1 << 3, "command": 1 << 4}


class _Server:
    """Accepts one command per connection until :meth:`stop`."""

    def __init__(self, port, token):
        self._token = token
        self._stopping = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, name="e2e-driver", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stopping.set()
        self._thread.join(timeout=3.0)
        self._sock.close()

    def _serve(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10.0)
                try:
                    reply = self._handle(_read_line(conn))
                except Exception as exc:  # the driver must never raise into OBS
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass

    def _handle(self, line):
        request = json.loads(line)
        if request.pop("token", None) != self._token:
            return {"ok": False, "error": "bad token"}
        operation = OPERATIONS.get(request.pop("op", None))
        if operation is None:
            return {"ok": False, "error": "unknown op"}
        return {"ok": True, "result": operation(**request)}


def _read_line(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


class _SourceRef:
    """``obs_get_source_by_name`` / ``obs_source_release`` through ctypes (a raw pointer; GIL released)."""

    def __init__(self, name):
        self.source = _libobs.obs_get_source_by_name(name.encode())
        if not self.source:
            raise KeyError(f"no source named {name!r}")

    def __enter__(self):
        return self.source

    def __exit__(self, *exc):
        _libobs.obs_source_release(self.source)


# --- operations -----------------------------------------------------------

_loaded_at = 0.0


def op_ping():
    return {"loaded_at": _loaded_at}


def op_state():
    scene = obs.obs_frontend_get_current_scene()
    try:
        scene_name = obs.obs_source_get_name(scene) if scene is not None else None
    finally:
        if scene is not None:
            obs.obs_source_release(scene)
    return {
        "loaded_at": _loaded_at,
        "streaming": obs.obs_frontend_streaming_active(),
        "recording": obs.obs_frontend_recording_active(),
        "recording_paused": obs.obs_frontend_recording_paused(),
        "scene": scene_name,
        "collection": obs.obs_frontend_get_current_scene_collection(),
        "scripts": sorted(n for n, m in list(sys.modules.items()) if hasattr(m, "__script_data__")),
    }


def op_stream_start():
    obs.obs_frontend_streaming_start()


def op_stream_stop():
    obs.obs_frontend_streaming_stop()


def op_record_start():
    obs.obs_frontend_recording_start()


def op_record_stop():
    obs.obs_frontend_recording_stop()


def op_record_pause(paused=True):
    obs.obs_frontend_recording_pause(bool(paused))


def op_video_frame_time():
    """libobs' current video frame timestamp (ns): lets the harness wait for frames to pass."""
    return obs.obs_get_video_frame_time()


def op_set_scene(name):
    source = _libobs.obs_get_source_by_name(name.encode())
    if not source:
        raise KeyError(f"no scene named {name!r}")
    try:
        _frontend.obs_frontend_set_current_scene(source)  # ctypes: GIL released while it waits
    finally:
        _libobs.obs_source_release(source)


def op_set_visible(scene, item, visible):
    """Show or hide ``item`` (searched in groups too); returns how long the call took."""
    with _SourceRef(scene) as source:
        found = _libobs.obs_scene_find_source_recursive(_libobs.obs_scene_from_source(source), item.encode())
        if not found:
            raise KeyError(f"no item {item!r} in scene {scene!r}")
        started = time.perf_counter()
        _libobs.obs_sceneitem_set_visible(found, bool(visible))  # item_visible handlers run inside
        return {"call_ms": (time.perf_counter() - started) * 1000.0}


def op_set_muted(source, muted):
    """Mute or unmute ``source``; returns how long the call took (mute handlers run inside)."""
    with _SourceRef(source) as src:
        started = time.perf_counter()
        _libobs.obs_source_set_muted(src, bool(muted))
        return {"call_ms": (time.perf_counter() - started) * 1000.0}


def op_hotkey(key, modifiers=(), presses=1):
    """Press ``key`` ``presses`` times; each press returns once OBS has released it again.

    Under Xvfb the libobs hotkey thread polls the keyboard every 25 ms and
    releases any binding whose key is not physically down, whatever
    ``obs_hotkey_inject_event(..., False)`` said. A second press injected
    before that poll is swallowed (the binding is still down). So each press
    waits for the witness hotkey bound to the same key to see its release:
    the poll has happened, and the press callbacks queued before it (ours
    first, it registered first) have been delivered.
    """
    code = _libobs.obs_key_from_name(key.encode())
    if code == 0:  # OBS_KEY_NONE
        raise KeyError(f"unknown key {key!r}")
    if key not in _witness_counts:
        raise KeyError(f"no witness hotkey for {key!r} (driver setting witness_keys)")
    counts = _witness_counts[key]
    combo = _KeyCombination(sum(_MODIFIERS[m.lower()] for m in modifiers), code)
    latencies = []
    for _ in range(int(presses)):
        released_before = counts[1]
        started = time.perf_counter()
        _libobs.obs_hotkey_inject_event(combo, True)
        _libobs.obs_hotkey_inject_event(combo, False)
        deadline = started + 5.0
        while counts[1] == released_before:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"OBS did not release {key} within 5 s")
            time.sleep(0.002)
        latencies.append((time.perf_counter() - started) * 1000.0)
    return {"press_to_release_ms": latencies, "witness": list(counts)}


def op_update_source(name, settings):
    """Merge ``settings`` (a JSON object) into source ``name``'s settings, as its properties dialog does."""
    with _SourceRef(name) as source:
        data = _libobs.obs_data_create_from_json(json.dumps(settings).encode())
        try:
            _libobs.obs_source_update(source, data)
        finally:
            _libobs.obs_data_release(data)


def op_hotkeys():
    """Every registered hotkey as {"name", "description"} (Settings → Hotkeys shows the descriptions)."""
    found = []

    def each(_data, _hotkey_id, hotkey):
        name = _libobs.obs_hotkey_get_name(hotkey) or b""
        description = _libobs.obs_hotkey_get_description(hotkey) or b""
        found.append({"name": name.decode("utf-8", "replace"), "description": description.decode("utf-8", "replace")})
        return True

    _libobs.obs_enum_hotkeys(_HOTKEY_ENUM(each), None)
    return found


def op_switch_collection(name):
    """Queue a scene-collection switch on the UI thread (unloads and reloads every script)."""
    _libobs.obs_queue_task(OBS_TASK_UI, _TASK_SET_COLLECTION, _libc.strdup(name.encode()), False)


def op_reload_scripts(names):
    """Queue ``obs_script_reload`` for each named script module on the UI thread, in order."""
    pointers = []
    for name in names:
        module = sys.modules.get(name)
        if module is None or not hasattr(module, "__script_data__"):
            raise KeyError(f"no loaded script {name!r}")
        pointers.append(_capsule_pointer(module.__script_data__, None))
    for pointer in pointers:
        _libobs.obs_queue_task(OBS_TASK_UI, _TASK_RELOAD_SCRIPT, pointer, False)


def op_click_button(script, name, timeout=10.0):
    """Press button ``name`` of script module ``script`` on the UI thread, as the Scripts window does.

    The properties come from ``obs_script_get_properties`` (the script's own
    ``script_properties``, run by obs-scripting), the click is
    ``obs_property_button_clicked``: the button's Python callback runs on the UI
    thread with the script current, exactly as for a mouse click.
    """
    module = sys.modules.get(script)
    if module is None or not hasattr(module, "__script_data__"):
        raise KeyError(f"no loaded script {script!r}")
    pointer = _capsule_pointer(module.__script_data__, None)
    done = threading.Event()
    result = {}

    def press(_unused):
        try:
            props = _scripting.obs_script_get_properties(pointer)
            prop = _libobs.obs_properties_get(props, name.encode()) if props else None
            result["found"] = bool(prop)
            if prop:
                result["refresh"] = bool(_libobs.obs_property_button_clicked(prop, pointer))
            if props:
                _libobs.obs_properties_destroy(props)
        except Exception as exc:  # never raise into OBS's UI thread
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()

    task = _UI_TASK(press)
    _ui_tasks.append(task)
    _libobs.obs_queue_task(OBS_TASK_UI, ctypes.cast(task, ctypes.c_void_p).value, None, False)
    if not done.wait(timeout):
        raise TimeoutError(f"the UI thread did not press {name!r} within {timeout:g} s")
    if not result.get("found"):
        raise KeyError(f"{script} has no button {name!r}")
    return result


def op_timings():
    import e2e_probe

    return e2e_probe.snapshot()


def op_python_modules(names=()):
    """Where each named module was imported from, and sys.path: one interpreter serves every script."""
    return {"files": {n: getattr(sys.modules.get(n), "__file__", None) for n in names}, "path": list(sys.path)}


def op_script_status(module="ailicia_obs"):
    """What ailicia_obs.py's panel shows: its status text and its note on Python and requests."""
    glue = getattr(sys.modules.get(module), "_glue", None)
    if glue is None:
        return None
    core = getattr(glue, "core", None)
    return {"status": glue.status_text(), "python": getattr(core, "python_line", "")}


def op_script_ready(module="ailicia_obs"):
    """True once ailicia_obs.py's source timer has connected its signals (it walks the sources on its
    timer after loading, not in the UI thread's callbacks); True for a stand-in without that timer."""
    glue = getattr(sys.modules.get(module), "_glue", None)
    watched = getattr(glue, "watched", None)
    return watched is None or not (watched.walk_pending or glue.loading)


def op_quit():
    """Close the main window from the UI thread, like a click on its close button."""
    _qt_single_shot(0, _frontend.obs_frontend_get_main_window(), b"1close()")


OPERATIONS = {name[3:]: fn for name, fn in list(globals().items()) if name.startswith("op_")}

# --- script --------------------------------------------------------------

_server = None
_witness_counts = {}  # key name -> [presses, releases] seen by the witness hotkey
_witness_callbacks = []


def _witness_callback(counts):
    def on_hotkey(pressed):
        counts[0 if pressed else 1] += 1

    return on_hotkey


def _register_witnesses(keys):
    """One frontend hotkey per key, bound to it, that only counts presses and releases."""
    for key in keys:
        counts = _witness_counts.setdefault(key, [0, 0])
        callback = _witness_callback(counts)
        hotkey_id = obs.obs_hotkey_register_frontend(f"e2e_witness_{key}", f"e2e witness {key}", callback)
        bindings = obs.obs_data_array_create()
        binding = obs.obs_data_create()
        try:
            obs.obs_data_set_string(binding, "key", key)
            obs.obs_data_array_push_back(bindings, binding)
            obs.obs_hotkey_load(hotkey_id, bindings)
        finally:
            obs.obs_data_release(binding)
            obs.obs_data_array_release(bindings)
        _witness_callbacks.append(callback)


# What a Text source shows, recorded by libobs' global "source_update" signal, on the thread
# that updated it (reading a source's settings from this driver's thread would race obs_source_update).
# The signal is connected in script_load: obspython connects callbacks only while a script is current.
_text_watches = {}  # source name -> [(time.time(), text), ...]


def _on_source_update(calldata):
    source = obs.calldata_source(calldata, "source")
    if source is None:
        return
    updates = _text_watches.get(obs.obs_source_get_name(source))
    if updates is not None:
        data = obs.obs_source_get_settings(source)
        try:
            updates.append((time.time(), obs.obs_data_get_string(data, "text")))
        finally:
            obs.obs_data_release(data)


def op_watch_text(name):
    """Start recording every update of source ``name``: (time.time(), its "text")."""
    _text_watches.setdefault(name, [])
    return {"updates": len(_text_watches[name])}


def op_text_updates(name, since=0):
    """The recorded updates of ``name`` from index ``since`` on: [[t, text], ...]."""
    return [list(u) for u in list(_text_watches.get(name, []))[since:]]


OPERATIONS.update({"watch_text": op_watch_text, "text_updates": op_text_updates})


def script_description():
    return "e2e test driver (test-only): remote control for the end-to-end tests."


def script_load(settings):
    global _server, _loaded_at
    _loaded_at = time.time()
    port = obs.obs_data_get_int(settings, "port")
    token = obs.obs_data_get_string(settings, "token")
    keys = obs.obs_data_get_string(settings, "witness_keys")
    _register_witnesses([k for k in keys.split(",") if k])
    obs.signal_handler_connect(obs.obs_get_signal_handler(), "source_update", _on_source_update)
    _server = _Server(port, token)
    _server.start()
    print(f"e2e driver listening on 127.0.0.1:{port}")


def script_unload():
    global _server
    obs.signal_handler_disconnect(obs.obs_get_signal_handler(), "source_update", _on_source_update)
    _text_watches.clear()
    if _server is not None:
        _server.stop()
        _server = None
    while _witness_callbacks:
        obs.obs_hotkey_unregister(_witness_callbacks.pop())
