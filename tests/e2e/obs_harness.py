"""Real OBS Studio (29, 30 or 32: see obs_install.py), headless, for the end-to-end tests and benchmarks.

An :class:`ObsSession` owns everything it starts and stops it again, by process
id only:

* ``Xvfb`` on a free display (``-displayfd``), software OpenGL;
* an ``nginx`` RTMP listener in the foreground on a free loopback port (stream
  start needs something to connect to);
* a throwaway ``HOME``/``XDG_CONFIG_HOME`` with a seeded ``global.ini`` (no
  first-run wizard), a 640x360 / 10 fps / x264 ultrafast profile streaming to
  that listener, and two scene collections;
* ``obs`` itself, loading four scripts from the collection, in this order::

      e2e_probe_exit.py   timing probe (called *after* ours: OBS 29 calls
                          frontend callbacks in reverse registration order)
      ailicia_obs.py      the product, with the settings the test gives
      e2e_probe_enter.py  timing probe (called just *before* ours)
      e2e_driver.py       remote control (see obs_scripts/e2e_driver.py)

Measuring callback cost (tests and bench/ use this)::

    with ObsSession(tmp_path, ailicia_settings={...}) as obs:
        obs.start()
        obs.switch_scene("Gameplay")
        ...
        brackets = obs.callback_brackets()   # [{"event", "held_us", ...}]
        result = obs.quit()                   # QuitResult(exit_code, seconds, killed)

``held_us`` is the time between the two probes for one frontend event: how long
ailicia_obs's frontend callback(s) held the Qt UI thread (plus ~tens of µs of
probe overhead; the calibration test measures it). After quit the same data is
in :attr:`ObsSession.timings_path` (JSON written by the exit probe on unload).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import obs_install

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = Path(__file__).resolve().parent / "obs_scripts"
AILICIA_SCRIPT = REPO_ROOT / "ailicia_obs.py"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
#: The OBS under test (``AILICIA_OBS``): the host's, or one in a chroot.
OBS = obs_install.current()
PROFILE = "ailicia-e2e"
VIDEO_FPS = 10
COLLECTION_A = "ailicia-e2e-a"
COLLECTION_B = "ailicia-e2e-b"

#: Hotkey trigger slot -> the key the harness binds to it in the script settings.
TRIGGER_KEYS = {1: "OBS_KEY_F13", 2: "OBS_KEY_F14", 3: "OBS_KEY_F15"}

SCENE_JUST_CHATTING = "Just Chatting"
SCENE_GAMEPLAY = "Gameplay"
SCENE_OVERLAY = "Overlay"  # nested in both scenes
SOURCE_WEBCAM = "Webcam"  # a color source, top level in Just Chatting
SOURCE_MUSIC = "Music"  # a media source: has audio, so it can be muted
GROUP_ALERTS = "Alerts"
SOURCE_ALERT_BANNER = "Alert Banner"  # inside the group


class HarnessError(RuntimeError):
    """Something the harness itself could not do (start, reach the driver, stop)."""


class DriverError(HarnessError):
    """The driver answered with an error."""


# --- requirements ----------------------------------------------------------


def missing_requirements() -> List[str]:
    """What this machine lacks to run real OBS headless (empty when all is there).

    Xvfb and the RTMP listener always run on the host; OBS where :data:`OBS` says.
    """
    missing = [tool for tool in ("Xvfb", "nginx") if shutil.which(tool) is None]
    if not os.path.exists(RTMP_MODULE):
        missing.append("libnginx-mod-rtmp")
    return missing + OBS.missing()


# --- small helpers ------------------------------------------------------------


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class StopResult:
    """How a process ended: its exit code, seconds from the stop request, whether we had to kill it."""

    exit_code: Optional[int]
    seconds: float
    killed: bool = False
    #: Set when a non-zero exit is a known fault of this OBS build that happens with no script
    #: loaded at all (see :data:`KNOWN_OBS_FAULTS`): what it was, in words.
    obs_fault: str = ""

    @property
    def clean(self) -> bool:
        """Exited by itself with status 0, or with a known fault of OBS's own (never one of ours)."""
        return not self.killed and (self.exit_code == 0 or bool(self.obs_fault))


QuitResult = StopResult

#: OBS builds that crash at quit through no script's doing, reproduced with no script loaded
#: (``tests/e2e/repro_quit_crash.py``; docs/obs-compat.md): OBS label -> (what triggers it, words).
#: Debian 13's OBS 30.2.3 frees the stream output after its encoders and crashes (SIGSEGV, heap
#: corruption in obs_output_release or config_save) when it quits with an output still active:
#: 6 quits in 6 with no script at all; never once the stream was stopped first.
KNOWN_OBS_FAULTS = {
    "30": ("output_active", "OBS 30.2 crashes when it quits while streaming or recording, with or without scripts"),
}


class ManagedProcess:
    """A child process in its own session, stopped by its pid (and group) only."""

    def __init__(self, name: str, argv: List[str], *, log_path: Path, env=None, cwd=None, pass_fds=()):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            pass_fds=pass_fds,
            start_new_session=True,  # its own group, so a last-resort kill reaches its helpers
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> StopResult:
        """Send ``sig``, wait up to ``timeout``; SIGKILL the group only after that (``killed``)."""
        started = time.monotonic()
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
        try:
            code = self.popen.wait(timeout=timeout)
            result = StopResult(code, time.monotonic() - started)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # the group we created for it
            except ProcessLookupError:
                pass
            code = self.popen.wait(timeout=10)
            result = StopResult(code, time.monotonic() - started, killed=True)
        self._log.close()
        return result


# --- services ---------------------------------------------------------------


class Xvfb:
    """A virtual X display on whatever display number is free."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.display = ""
        self.process: Optional[ManagedProcess] = None

    def start(self, timeout: float = 15.0) -> str:
        read_fd, write_fd = os.pipe()
        try:
            self.process = ManagedProcess(
                "Xvfb",
                ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp", "-noreset"],
                log_path=self.workdir / "xvfb.log",
                pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            number = self._read_display(read_fd, timeout)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.display = f":{number}"
        return self.display

    def _read_display(self, fd: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.process.alive():
                raise HarnessError(f"Xvfb did not report a display: {_tail(self.workdir / 'xvfb.log')}")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:
                    raise HarnessError(f"Xvfb closed its display pipe: {_tail(self.workdir / 'xvfb.log')}")
                data += chunk
        return data.decode().strip()

    def stop(self) -> Optional[StopResult]:
        return self.process.stop(signal.SIGTERM, timeout=5.0) if self.process else None


class RtmpListener:
    """nginx with the RTMP module, unprivileged and in the foreground, on a free loopback port."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "nginx"
        self.port = 0
        self.process: Optional[ManagedProcess] = None

    @property
    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live"

    @property
    def error_log(self) -> Path:
        return self.dir / "error.log"

    def start(self, timeout: float = 10.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # another process may grab the free port first
            self.port = free_port()
            conf = self.dir / "nginx.conf"
            conf.write_text(self._config())
            self.process = ManagedProcess(
                "nginx",
                ["nginx", "-p", str(self.dir), "-c", str(conf), "-e", str(self.error_log)],
                log_path=self.dir / "stdout.log",
            )
            try:
                wait_until(lambda: _port_open(self.port) or not self.process.alive(), timeout, "nginx to listen")
            except TimeoutError:
                self.stop()
                raise HarnessError(f"nginx did not listen: {_tail(self.error_log)}") from None
            if self.process.alive():
                return self.url
            self.process.stop()
        raise HarnessError(f"nginx would not start: {_tail(self.error_log)}")

    def _config(self) -> str:
        return f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.port};
        application live {{ live on; record off; }}
    }}
}}
"""

    def stop(self) -> Optional[StopResult]:
        if not self.process:
            return None
        process, self.process = self.process, None
        return process.stop(signal.SIGTERM, timeout=5.0)


# --- OBS configuration ------------------------------------------------------


def write_global_ini(
    config_dir: Path, *, profile: str, collection: str, websocket_port: int = 0, websocket_password: str = ""
) -> None:
    """The settings that keep OBS 29 from opening dialogs that would block a headless run.

    ``websocket_port`` > 0 turns on obs-websocket (5.x, bundled with OBS 29) there. It has no
    bind-address setting and listens on every interface, so it always asks for a password
    (a fresh random one per session); the tests connect over loopback only.
    """
    websocket = (
        f"ServerEnabled=true\nServerPort={websocket_port}\nAuthRequired=true\n"
        f"ServerPassword={websocket_password}\nAlertsEnabled=false\n"
        if websocket_port
        else "ServerEnabled=false\n"
    )
    # OBS 31+ keeps the user's settings (ConfirmOnExit, the warnings) in user.ini and the app's in
    # global.ini; older OBS reads global.ini only. Both get the whole text: each ignores what it does not use.
    text = (
        f"""[General]
FirstRun=true
LastVersion={OBS.version_number}
ConfirmOnExit=false
EnableAutoUpdates=false

[Basic]
Profile={profile}
ProfileDir={profile}
SceneCollection={collection}
SceneCollectionFile={collection}

[BasicWindow]
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false
SysTrayEnabled=false

[OBSWebSocket]
FirstLoad=false
"""
        + websocket
    )
    for name in ("global.ini", "user.ini"):
        (config_dir / name).write_text(text)


def write_profile(config_dir: Path, name: str, *, rtmp_url: str, record_dir: Path) -> None:
    """640x360, 10 fps, x264 ultrafast, streaming to ``rtmp_url``, no reconnect."""
    profile_dir = config_dir / "basic" / "profiles" / name
    profile_dir.mkdir(parents=True, exist_ok=True)
    (profile_dir / "basic.ini").write_text(
        f"""[General]
Name={name}

[Video]
BaseCX=640
BaseCY=360
OutputCX=640
OutputCY=360
FPSType=1
FPSInt={VIDEO_FPS}

[Audio]
SampleRate=48000
ChannelSetup=Stereo

[Output]
Mode=Simple
Reconnect=false

[SimpleOutput]
StreamEncoder=x264
RecEncoder=x264_lowcpu
Preset=ultrafast
VBitrate=300
ABitrate=64
RecQuality=Small
RecFormat=mkv
FilePath={record_dir}
"""
    )
    service = {"type": "rtmp_custom", "settings": {"server": rtmp_url, "key": "e2e", "use_auth": False}}
    (profile_dir / "service.json").write_text(json.dumps(service))


def _item(name: str, item_id: int, *, visible: bool = True) -> Dict[str, Any]:
    return {
        "name": name,
        "id": item_id,
        "visible": visible,
        "locked": False,
        "pos": {"x": 0.0, "y": 0.0},
        "scale": {"x": 1.0, "y": 1.0},
        "rot": 0.0,
        "align": 5,
        "bounds_type": 0,
        "bounds": {"x": 0.0, "y": 0.0},
    }


def _source(name: str, kind: str, settings: Dict[str, Any], versioned: Optional[str] = None) -> Dict[str, Any]:
    return {"name": name, "id": kind, "versioned_id": versioned or kind, "settings": settings, "enabled": True}


def _scene(name: str, items: List[str]) -> Dict[str, Any]:
    return _source(
        name,
        "scene",
        {"items": [_item(n, i + 1) for i, n in enumerate(items)], "id_counter": len(items), "custom_size": False},
    )


def build_collection(
    name: str, scripts: List[Dict[str, Any]], *, current_scene: str = SCENE_JUST_CHATTING
) -> Dict[str, Any]:
    """A scene collection: two scenes sharing a nested scene, a group, a color, a text and an audio source."""
    color = "color_source"
    sources = [
        _source("Background", color, {"color": 4281545523, "width": 640, "height": 360}, "color_source_v3"),
        _source(SOURCE_WEBCAM, color, {"color": 4294901760, "width": 160, "height": 120}, "color_source_v3"),
        _source("Game Capture", color, {"color": 4278255360, "width": 640, "height": 300}, "color_source_v3"),
        _source(SOURCE_ALERT_BANNER, color, {"color": 4294967040, "width": 320, "height": 40}, "color_source_v3"),
        _source(
            "Title",
            "text_ft2_source",
            {"text": "ailicia e2e", "font": {"face": "DejaVu Sans", "size": 24, "style": "Book", "flags": 0}},
            "text_ft2_source_v2",
        ),
        _source(SOURCE_MUSIC, "ffmpeg_source", {"is_local_file": True, "local_file": "", "looping": False}),
        _scene(SCENE_OVERLAY, ["Title"]),
        _scene(SCENE_JUST_CHATTING, ["Background", SOURCE_WEBCAM, SCENE_OVERLAY, GROUP_ALERTS, SOURCE_MUSIC]),
        _scene(SCENE_GAMEPLAY, ["Game Capture", SCENE_OVERLAY]),
    ]
    group = _source(
        GROUP_ALERTS,
        "group",
        {"items": [_item(SOURCE_ALERT_BANNER, 1)], "id_counter": 1, "custom_size": True, "cx": 320, "cy": 40},
    )
    return {
        "name": name,
        "current_scene": current_scene,
        "current_program_scene": current_scene,
        "scene_order": [{"name": SCENE_JUST_CHATTING}, {"name": SCENE_GAMEPLAY}, {"name": SCENE_OVERLAY}],
        "sources": sources,
        "groups": [group],
        "current_transition": "Fade",
        "transition_duration": 300,
        "transitions": [],
        "quick_transitions": [],
        "modules": {"scripts-tool": scripts},
    }


def trigger_hotkey_settings(slots: Iterable[int] = TRIGGER_KEYS) -> Dict[str, Any]:
    """Script settings binding each trigger slot's hotkey to its key in :data:`TRIGGER_KEYS`."""
    return {f"ailicia_trigger_{n}_hotkey": [{"key": TRIGGER_KEYS[n]}] for n in slots}


def summarize_brackets(brackets: Iterable[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """``{event: {"count", "median_ms", "max_ms"}}`` for probe brackets (live or from timings.json)."""
    by_event: Dict[str, List[float]] = {}
    for bracket in brackets:
        by_event.setdefault(bracket["event"], []).append(bracket["held_us"] / 1000.0)
    return {
        event: {"count": len(held), "median_ms": statistics.median(held), "max_ms": max(held)}
        for event, held in sorted(by_event.items())
    }


# --- the session --------------------------------------------------------------


class DriverClient:
    """Talks to obs_scripts/e2e_driver.py: one JSON request per connection."""

    def __init__(self, port: int, token: str, alive: Callable[[], bool]):
        self.port = port
        self.token = token
        self._alive = alive

    def call(self, op: str, *, timeout: float = 10.0, **args: Any) -> Any:
        """Run ``op`` in OBS; retries only while the driver does not accept (e.g. mid-reload)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                break
            except OSError as err:
                if not self._alive():
                    raise HarnessError("OBS is not running") from err
                if time.monotonic() >= deadline:
                    raise HarnessError(f"driver not reachable on port {self.port}: {err}") from err
                time.sleep(0.05)
        with conn:
            conn.settimeout(max(0.5, deadline - time.monotonic()))
            conn.sendall(json.dumps({"token": self.token, "op": op, **args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        if not data:
            raise HarnessError(f"driver closed the connection during {op!r}")
        reply = json.loads(data)
        if not reply.get("ok"):
            raise DriverError(f"{op}: {reply.get('error')}")
        return reply.get("result")


@dataclass
class ObsSession:
    """One headless OBS with ailicia_obs.py between two timing probes, and a driver.

    ``ailicia_settings`` is what ailicia_obs's ``script_load`` receives.
    ``with_rtmp=False`` points streaming at a closed port (a start then fails).
    ``ailicia_script`` may be replaced (the calibration test loads a stand-in, the release-zip
    test the unzipped copy); ``extra_env`` is added to OBS's environment.
    """

    workdir: Path
    ailicia_settings: Dict[str, Any] = field(default_factory=dict)
    ailicia_script: Path = AILICIA_SCRIPT
    with_rtmp: bool = True
    #: Set in OBS's environment after the filtering (the release-zip test passes a PYTHONPATH).
    extra_env: Dict[str, str] = field(default_factory=dict)
    #: Turn on obs-websocket on a free port (then :attr:`websocket_port`, :attr:`websocket_password`).
    obs_websocket: bool = False
    #: Folders put in front of OBS's PYTHONPATH (websocket-client, as the release zip vendors it).
    python_path: Sequence[str] = ()

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.home = self.workdir / "home"
        self.config_dir = self.home / ".config" / "obs-studio"
        self.timings_path = self.workdir / "timings.json"
        self.xvfb = Xvfb(self.workdir)
        self.rtmp = RtmpListener(self.workdir)
        self.obs: Optional[ManagedProcess] = None
        self.driver: Optional[DriverClient] = None
        self.quit_result: Optional[QuitResult] = None
        self.problems: List[str] = []
        #: Scene-collection switches so far: OBS 29.0.2 leaks one allocation per switch.
        self.collection_switches = 0
        self._stopped = False

    # -- lifecycle

    @property
    def script_modules(self) -> List[str]:
        """The module names of the loaded scripts, in collection (load) order."""
        return [Path(s["path"]).stem for s in self._scripts()]

    def _scripts(self) -> List[Dict[str, Any]]:
        return [
            {"path": str(SCRIPTS_DIR / "e2e_probe_exit.py"), "settings": {"timings_path": str(self.timings_path)}},
            {"path": str(self.ailicia_script), "settings": dict(self.ailicia_settings)},
            {"path": str(SCRIPTS_DIR / "e2e_probe_enter.py"), "settings": {}},
            {
                "path": str(SCRIPTS_DIR / "e2e_driver.py"),
                "settings": {
                    "port": self._driver_port,
                    "token": self._token,
                    "witness_keys": ",".join(TRIGGER_KEYS.values()),
                },
            },
        ]

    def start(self, timeout: float = 40.0) -> ObsSession:
        """Start Xvfb, the RTMP listener and OBS; return once the scripts are loaded."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "recordings").mkdir(exist_ok=True)
        display = self.xvfb.start()
        rtmp_url = self.rtmp.start() if self.with_rtmp else f"rtmp://127.0.0.1:{free_port()}/live"
        self._driver_port = free_port()
        self._token = secrets.token_hex(8)
        self.websocket_port = free_port() if self.obs_websocket else 0
        self.websocket_password = secrets.token_hex(16) if self.obs_websocket else ""
        write_global_ini(
            self.config_dir,
            profile=PROFILE,
            collection=COLLECTION_A,
            websocket_port=self.websocket_port,
            websocket_password=self.websocket_password,
        )
        write_profile(self.config_dir, PROFILE, rtmp_url=rtmp_url, record_dir=self.workdir / "recordings")
        for name in (COLLECTION_A, COLLECTION_B):
            collection = build_collection(name, self._scripts())
            (self.config_dir / "basic" / "scenes").mkdir(parents=True, exist_ok=True)
            (self.config_dir / "basic" / "scenes" / f"{name}.json").write_text(json.dumps(collection, indent=1))
        OBS.prepare()
        # AILICIA_OBS_GDB=1 (investigations only): OBS runs under gdb, which prints every thread's
        # stack into obs-stdout.txt if OBS crashes (exit codes then are gdb's, not OBS's).
        under_gdb = ["gdb", "-q", "-batch", "-nx", "-ex", "run", "-ex", "thread apply all bt 40", "--args"]
        self.obs = ManagedProcess(
            "obs",
            OBS.command(
                (under_gdb if os.environ.get("AILICIA_OBS_GDB") == "1" else [])
                + [
                    "obs",
                    "--multi",
                    "--disable-updater",
                    "--disable-missing-files-check",
                    "--collection",
                    COLLECTION_A,
                    "--profile",
                    PROFILE,
                ],
                cwd=self.workdir,
            ),
            log_path=self.workdir / "obs-stdout.txt",
            env=self._environment(display),
            cwd=self.workdir,
        )
        self.driver = DriverClient(self._driver_port, self._token, self.obs.alive)
        try:
            self.driver.call("ping", timeout=timeout)
            self.wait_event("FINISHED_LOADING", since=0, timeout=timeout)
            self.wait_script_ready(timeout)
        except (HarnessError, TimeoutError) as err:
            dump = self.dump_threads("start")
            raise HarnessError(f"OBS did not come up: {err}; threads: {dump}\n{self.diagnostics()}") from err
        return self

    def _environment(self, display: str) -> Dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            # OBS embeds /usr/bin/python3: keep the test venv's (or pyenv's) Python settings away from it.
            if not k.startswith(("PYTHON", "PYENV", "VIRTUAL_ENV", "XDG_", "QT_", "DISPLAY", "WAYLAND"))
        }
        runtime_dir = self.workdir / "runtime"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_RUNTIME_DIR=str(runtime_dir),
            DISPLAY=display,
            LIBGL_ALWAYS_SOFTWARE="1",
            QT_QPA_PLATFORM="xcb",
            PYTHONDONTWRITEBYTECODE="1",  # keep the checkout free of OBS-compiled caches
            LANG="C.UTF-8",
        )
        env.update(self.extra_env)
        if self.python_path:
            paths = [str(p) for p in self.python_path] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
            env["PYTHONPATH"] = os.pathsep.join(paths)
        return env

    def quit(self, method: str = "close", timeout: float = 10.0) -> QuitResult:
        """Ask OBS to quit; returns its exit code and the seconds from the request to the exit.

        ``"close"`` (default) has the driver queue a close of the main window on
        the UI thread (QTimer::singleShot), as a click on the close button would.
        ``"sigint"`` sends SIGINT. OBS 29's SIGINT handler closes the main window
        *inside the signal handler*: when the signal lands while the UI thread
        holds the graphics lock (creating a display, shortly after start-up) OBS
        deadlocks (seen in about 1 of 15 quits right after start). So SIGINT is
        only the fallback for when the driver cannot be reached.

        Only if OBS still runs after ``timeout`` is it killed (``killed=True``,
        also listed in :attr:`problems`).
        """
        if self.quit_result is not None:
            return self.quit_result
        output_active = self._output_active()
        started = time.monotonic()
        if method == "close":
            try:
                self.driver.call("quit", timeout=3.0)
            except (HarnessError, OSError) as err:  # OSError: connected, but no answer in time
                dump = self.dump_threads("driver-unreachable")
                self.problems.append(f"the driver could not close OBS ({err}); sent SIGINT instead; threads: {dump}")
                method = "sigint"
        if method == "sigint" and self.obs.alive():
            os.kill(self.obs.pid, signal.SIGINT)
        try:
            code = self.obs.popen.wait(timeout=max(0.0, timeout - (time.monotonic() - started)))
            self.quit_result = QuitResult(code, time.monotonic() - started)
        except subprocess.TimeoutExpired:
            dump = self.dump_threads("quit-hang")  # what held it, before the kill erases it
            result = self.obs.stop(signal.SIGKILL, timeout=5.0)
            self.quit_result = QuitResult(result.exit_code, time.monotonic() - started, killed=True)
            self.problems.append(
                f"{OBS.name} did not exit within {timeout:g} s of quit ({method}) and was killed; threads: {dump}"
            )
        self.obs.stop(timeout=1.0)  # it has exited: this only closes its log file
        if self.quit_result.exit_code != 0 and not self.quit_result.killed:
            fault = self._known_fault(output_active)
            if fault:
                self.quit_result.obs_fault = fault
                print(f"{OBS.name} exited {self.quit_result.exit_code}: {fault} (after every script unloaded)")
            else:
                # A crash at exit makes OBS offer safe mode next time: never acceptable, whatever the test.
                self.problems.append(f"{OBS.name} exited with status {self.quit_result.exit_code} ({method})")
        return self.quit_result

    def _output_active(self) -> bool:
        try:
            state = self.driver.call("state", timeout=2.0)
        except (HarnessError, OSError):
            return False
        return bool(state.get("streaming") or state.get("recording"))

    def _known_fault(self, output_active: bool) -> str:
        """The words for a crash this OBS build has with no script loaded, when this one is that crash."""
        trigger, words = KNOWN_OBS_FAULTS.get(OBS.label, ("", ""))
        if trigger != "output_active" or not output_active or self.quit_result.exit_code != -signal.SIGSEGV:
            return ""
        log = self.log_text()
        # Ours is not to blame only if every script had unloaded and OBS had cleared its scenes.
        unloaded = all(f"Unloaded python script: {m}.py" in log for m in self.script_modules)
        return words if unloaded and "All scene data cleared" in log else ""

    def dump_threads(self, why: str) -> str:
        """Write every OBS thread's C stack (gdb) and Python stack (py-spy, when installed) to the work dir.

        A hung OBS explains itself this way: which thread holds the GIL and which lock it waits on.
        Returns the dump's path, or why there is none.
        """
        if self.obs is None or not self.obs.alive():
            return "OBS is not running"
        path = self.workdir / f"threads-{why}.txt"
        commands = []
        if obs_install.have_tool(OBS, "gdb"):  # gdb where OBS's libraries are, to name their frames
            commands.append(
                OBS.command(["gdb", "-p", str(self.obs.pid), "-batch", "-nx", "-ex", "thread apply all bt 30"])
            )
        if shutil.which("py-spy"):
            commands.append(["py-spy", "dump", "--pid", str(self.obs.pid)])
        if not commands:
            return "no gdb on this machine"
        with path.open("w") as out:
            for argv in commands:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                try:
                    subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
                except (OSError, subprocess.TimeoutExpired) as err:
                    out.write(f"({argv[0]} failed: {err})\n")
        return str(path)

    def close(self) -> None:
        """Stop whatever still runs (OBS first). Idempotent; problems go to :attr:`problems`."""
        if self._stopped:
            return
        self._stopped = True
        if self.obs is not None and self.quit_result is None:
            self.quit(timeout=10.0)
        for service in (self.rtmp, self.xvfb):
            result = service.stop()
            if result is not None and result.killed:
                self.problems.append(f"{type(service).__name__} had to be killed")

    def __enter__(self) -> ObsSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- observing

    @property
    def log_path(self) -> Optional[Path]:
        """This run's OBS log (``$XDG_CONFIG_HOME/obs-studio/logs/*.txt``; one file per run)."""
        logs = sorted((self.config_dir / "logs").glob("*.txt"))
        return logs[-1] if logs else None

    @property
    def expected_leaks(self) -> Optional[int]:
        """OBS's own ``Number of memory leaks`` for this run: 1 with any Python script, +1 per collection switch.

        None when OBS died of one of its own known faults at quit (:data:`KNOWN_OBS_FAULTS`): it never
        got to count, and the log has no such line.
        """
        if self.quit_result is not None and self.quit_result.obs_fault:
            return None
        return 1 + self.collection_switches

    def log_text(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace") if path else ""

    def timings(self, since_events: int = 0) -> Dict[str, Any]:
        """``{"brackets": [...], "events": [...]}`` from the probes (live, or from the file after quit)."""
        if self.obs is not None and self.obs.alive() and self.quit_result is None:
            data = self.driver.call("timings")
        else:
            data = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}
        return {"brackets": data.get("brackets", []), "events": data.get("events", [])[since_events:]}

    def callback_brackets(self) -> List[Dict[str, Any]]:
        """One entry per frontend event: ``event``, ``held_us`` (our callback's hold on the UI thread)."""
        return self.timings()["brackets"]

    def callback_summary(self) -> Dict[str, Dict[str, float]]:
        """Per frontend event: ``count``, ``median_ms`` and ``max_ms`` of :meth:`callback_brackets`."""
        return summarize_brackets(self.callback_brackets())

    def event_mark(self) -> int:
        """A position in the frontend event history; pass it to :meth:`wait_event` as ``since``."""
        return len(self.driver.call("timings")["events"])

    def events_since(self, mark: int) -> List[str]:
        return [e["event"] for e in self.timings(mark)["events"]]

    def wait_event(self, name: str, *, since: int, timeout: float = 15.0) -> None:
        """Wait until frontend event ``name`` was dispatched after position ``since``."""
        wait_until(lambda: name in self.events_since(since), timeout, f"frontend event {name}")

    def state(self) -> Dict[str, Any]:
        return self.driver.call("state")

    # -- acting (each returns once OBS reports the change)

    def start_streaming(self, timeout: float = 15.0) -> None:
        mark = self.event_mark()
        self.driver.call("stream_start")
        self.wait_event("STREAMING_STARTED", since=mark, timeout=timeout)

    def stop_streaming(self, timeout: float = 15.0) -> None:
        mark = self.event_mark()
        self.driver.call("stream_stop")
        self.wait_event("STREAMING_STOPPED", since=mark, timeout=timeout)

    def start_recording(self, timeout: float = 15.0) -> None:
        mark = self.event_mark()
        self.driver.call("record_start")
        self.wait_event("RECORDING_STARTED", since=mark, timeout=timeout)

    def stop_recording(self, timeout: float = 15.0) -> None:
        mark = self.event_mark()
        self.driver.call("record_stop")
        self.wait_event("RECORDING_STOPPED", since=mark, timeout=timeout)

    def pause_recording(self, paused: bool = True, timeout: float = 15.0) -> None:
        """Pause (or resume) recording; returns once a few frames passed in the new state.

        OBS 29 never stops a recording that was resumed within the same frame it
        was paused in (reproduced every time at 10 fps), and then hangs at quit;
        waiting for frames keeps the tests clear of that OBS bug.
        """
        mark = self.event_mark()
        self.driver.call("record_pause", paused=paused)
        self.wait_event("RECORDING_PAUSED" if paused else "RECORDING_UNPAUSED", since=mark, timeout=timeout)
        self.wait_frames(3, timeout=timeout)

    def wait_frames(self, frames: int, timeout: float = 10.0) -> None:
        """Wait until libobs rendered ``frames`` more video frames."""
        start = self.driver.call("video_frame_time")
        interval_ns = 1e9 / VIDEO_FPS
        wait_until(
            lambda: self.driver.call("video_frame_time") - start >= frames * interval_ns,
            timeout,
            f"{frames} video frames",
        )

    def switch_scene(self, name: str, timeout: float = 15.0) -> None:
        """Make ``name`` the program scene; returns after SCENE_CHANGED (transition ended)."""
        mark = self.event_mark()
        self.driver.call("set_scene", name=name)
        self.wait_event("SCENE_CHANGED", since=mark, timeout=timeout)
        wait_until(lambda: self.state()["scene"] == name, timeout, f"scene {name!r} on program")

    def set_visible(self, scene: str, item: str, visible: bool) -> float:
        """Show/hide an item; returns the ms the call took (item_visible handlers run inside it)."""
        return self.driver.call("set_visible", scene=scene, item=item, visible=visible)["call_ms"]

    def set_muted(self, source: str, muted: bool) -> float:
        """Mute/unmute a source; returns the ms the call took (mute handlers run inside it)."""
        return self.driver.call("set_muted", source=source, muted=muted)["call_ms"]

    def press_hotkey(self, key: str, presses: int = 1, modifiers: Iterable[str] = ()) -> None:
        """Press (and release) ``key``; returns once OBS has handled each press (see the driver)."""
        self.driver.call("hotkey", key=key, presses=presses, modifiers=list(modifiers))

    def update_source(self, name: str, **settings: Any) -> None:
        """Change source ``name``'s settings (``obs_source_update``), e.g. a text source's ``text``."""
        self.driver.call("update_source", name=name, settings=settings)

    def hotkeys(self) -> List[Dict[str, str]]:
        """Every registered hotkey: ``{"name", "description"}`` (the description is what Settings → Hotkeys shows)."""
        return self.driver.call("hotkeys")

    def switch_collection(self, name: str, timeout: float = 20.0) -> None:
        """Switch scene collection (every script is unloaded and loaded again); waits for the driver."""
        before = self.driver.call("ping")["loaded_at"]
        self.driver.call("switch_collection", name=name)
        self.collection_switches += 1
        self._wait_driver_reloaded(before, timeout)
        wait_until(lambda: self.state()["collection"] == name, timeout, f"collection {name!r}")
        self.wait_script_ready(timeout)

    def click_button(self, script: str, name: str, timeout: float = 10.0) -> Dict[str, Any]:
        """Press button ``name`` of loaded script module ``script`` on the UI thread, as the Scripts window does."""
        return self.driver.call("click_button", timeout=timeout, script=script, name=name)

    def reload_scripts(self, timeout: float = 20.0) -> None:
        """Reload every script in collection order, as the Scripts tool's Reload button does per script."""
        before = self.driver.call("ping")["loaded_at"]
        self.driver.call("reload_scripts", names=self.script_modules)
        self._wait_driver_reloaded(before, timeout)
        self.wait_script_ready(timeout)

    def watch_text(self, source: str) -> None:
        """Record every text the Text source ``source`` is given (again after a reload)."""
        self.driver.call("watch_text", name=source)

    def text_updates(self, source: str, since: int = 0) -> List[Tuple[float, str]]:
        """``(time.time(), text)`` of each update of ``source`` since index ``since``."""
        return [(float(t), str(text)) for t, text in self.driver.call("text_updates", name=source, since=since)]

    def wait_text(
        self, source: str, predicate: Callable[[str], bool], *, since: int = 0, timeout: float = 10.0, what: str = ""
    ) -> Tuple[float, str]:
        """The first update of ``source`` (from ``since``) whose text satisfies ``predicate``."""

        def found() -> Any:
            return next(((t, x) for t, x in self.text_updates(source, since) if predicate(x)), None)

        return wait_until(found, timeout, what or f"a text update of {source!r}")

    def wait_script_ready(self, timeout: float = 10.0) -> None:
        """Wait until ailicia_obs.py has connected its signals: its source timer walks the sources
        (within 0.5 s of loading), so a show/hide right after start-up would otherwise go unseen."""
        wait_until(lambda: self.driver.call("script_ready"), timeout, "ailicia_obs.py's first source walk")

    def _wait_driver_reloaded(self, before: float, timeout: float) -> None:
        def reloaded() -> bool:
            try:
                return self.driver.call("ping", timeout=1.0)["loaded_at"] > before
            except (HarnessError, OSError):  # the old driver unloaded mid-answer: connection reset
                return False

        wait_until(reloaded, timeout, "the driver script to be loaded again")

    # -- diagnosing

    def diagnostics(self, lines: int = 80) -> str:
        """Paths and tails of the OBS, nginx and Xvfb logs, for a failed test's report."""
        parts = [f"{OBS.name}; e2e work dir: {self.workdir}"]
        for title, path in (
            ("OBS log", self.log_path),
            ("nginx error log", self.rtmp.error_log),
            ("Xvfb log", self.workdir / "xvfb.log"),
        ):
            if path is not None and path.exists():
                parts.append(f"--- {title}: {path} (last {lines} lines)\n{_tail(path, lines)}")
        stdout = self.workdir / "obs-stdout.txt"
        if stdout.exists():
            # OBS repeats its log on stdout as "info: ..."; the rest (Qt, ffmpeg, crashes) is not in the log.
            prefixes = ("info: ", "debug: ", "warning: ", "error: ", "\t")
            extra = [line for line in _tail(stdout, 100_000).splitlines() if not line.startswith(prefixes)]
            parts.append(f"--- OBS stdout/stderr not in its log: {stdout}\n" + "\n".join(extra[-lines:]))
        return "\n".join(parts)
