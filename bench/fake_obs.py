"""A script booted against the stand-in ``obspython`` with its callbacks timed.

:func:`booted` installs ``tests/support/fake_obspython.py``, imports a script
fresh, loads it the way OBS 29 does at start-up (``script_load`` before any
scene, then the initial SCENE_CHANGED and FINISHED_LOADING), and unloads it on
exit. :class:`CallbackTimer` swaps each callback the script registered for one
that times it with ``perf_counter_ns`` and no more, and swaps the originals back
before the unload, so the script disconnects exactly what it connected.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import fake_obspython

GLUE_MODULE = "ailicia_obs"


@dataclass
class Studio:
    """The scene collection the bench drives: two scenes and a camera shown in Main."""

    main: Any
    brb: Any
    camera: Any


@dataclass
class Booted:
    fake: fake_obspython.FakeObs
    module: ModuleType
    studio: Studio


def import_fresh(path: Optional[Path]) -> ModuleType:
    """ailicia_obs (``path`` None) or the script at ``path``, executed anew."""
    if path is None:
        sys.modules.pop(GLUE_MODULE, None)
        return importlib.import_module(GLUE_MODULE)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def booted(settings: Dict[str, Any], script: Optional[Path] = None) -> Iterator[Booted]:
    """The script loaded into a fresh fake OBS with ``settings``; unloaded and uninstalled on exit."""
    fake = fake_obspython.install()
    try:
        module = import_fresh(script)
        data = fake.new_data()
        if hasattr(module, "script_defaults"):
            fake.call_script(module.script_defaults, data)
        data.values.update(settings)
        fake.call_script(module.script_load, data)
        if hasattr(module, "script_update"):
            fake.call_script(module.script_update, data)
        main, brb = fake.add_scene("Main"), fake.add_scene("BRB")
        camera = fake.add_item(main, fake.add_input("Camera", "v4l2_input"), visible=True)
        fake.switch_scene(main)
        fake.fire(fake_obspython.EVENT.FINISHED_LOADING)
        fake.tick_timers()  # ailicia_obs.py connects its signals on its source timer, as in OBS
        try:
            yield Booted(fake, module, Studio(main, brb, camera))
        finally:
            fake.call_script(module.script_unload)
    finally:
        fake_obspython.uninstall(fake)
        if script is None:
            sys.modules.pop(GLUE_MODULE, None)


class CallbackTimer:
    """Times every frontend, ``item_visible`` and hotkey callback of a booted script.

    ``samples[kind]`` holds one duration in ns per call made while :attr:`recording`.
    """

    def __init__(self, fake: fake_obspython.FakeObs) -> None:
        self.fake = fake
        self.recording = False
        self.samples: Dict[str, List[int]] = {"scene switch": [], "item_visible": [], "hotkey": []}
        self._restore: List[Callable[[], None]] = []
        self._current_kind = ""

    def __enter__(self) -> CallbackTimer:
        fake = self.fake
        originals = list(fake.frontend_callbacks)
        fake.frontend_callbacks[:] = [self._timed(cb, "frontend") for cb in originals]
        self._restore.append(lambda: fake.frontend_callbacks.__setitem__(slice(None), originals))
        for source in fake.sources:
            connections = source.signals.connections
            saved = list(connections)
            connections[:] = [(name, self._timed(cb, "signal") if name == "item_visible" else cb) for name, cb in saved]
            self._restore.append(lambda c=connections, s=saved: c.__setitem__(slice(None), s))
        for hotkey in fake.registered_hotkeys():
            saved_callback = hotkey.callback
            hotkey.callback = self._timed(saved_callback, "hotkey")
            self._restore.append(lambda h=hotkey, cb=saved_callback: setattr(h, "callback", cb))
        return self

    def __exit__(self, *exc: Any) -> None:
        while self._restore:
            self._restore.pop()()

    def event(self, kind: str, act: Callable[[], None]) -> None:
        """Do ``act`` (one OBS event) and file the time of the callback(s) it triggers under ``kind``."""
        self._current_kind = kind
        self.recording = True
        try:
            act()
        finally:
            self.recording = False

    def _timed(self, callback: Callable, _slot: str) -> Callable:
        timer = self
        clock = time.perf_counter_ns

        def timed(*args: Any) -> Any:
            started = clock()
            try:
                return callback(*args)
            finally:
                elapsed = clock() - started
                if timer.recording:
                    timer.samples[timer._current_kind].append(elapsed)

        return timed


def hotkey_names(fake: fake_obspython.FakeObs, prefix: str) -> List[str]:
    return sorted(h.name for h in fake.registered_hotkeys() if h.name.startswith(prefix))


def event_plan(booted_script: Booted, hotkeys: List[str], count: int) -> List[Tuple[str, Callable[[], None]]]:
    """``count`` OBS events cycling: to BRB, to Main, camera hidden, camera shown, a trigger hotkey."""
    fake, studio = booted_script.fake, booted_script.studio
    cycle = [
        ("scene switch", lambda: fake.switch_scene(studio.brb)),
        ("scene switch", lambda: fake.switch_scene(studio.main)),
        ("item_visible", lambda: fake.set_visible(studio.camera, False)),
        ("item_visible", lambda: fake.set_visible(studio.camera, True)),
    ]
    plan: List[Tuple[str, Callable[[], None]]] = []
    presses = 0
    while len(plan) < count:
        for step in cycle:
            plan.append(step)
        name = hotkeys[presses % len(hotkeys)]
        plan.append(("hotkey", lambda n=name: fake.press_hotkey(n, True)))
        presses += 1
    return plan[:count]
