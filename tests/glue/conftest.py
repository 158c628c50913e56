"""Fixtures for the OBS glue tests: a fake obspython, the script driven as OBS drives it, a mocked API."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional
from urllib.parse import urlsplit

import pytest
import responses

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "tests" / "support"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import fake_obspython  # noqa: E402
from fake_obspython import EVENT  # noqa: E402

BASE = "https://api.getailicia.com"
KEY = "sk-live-0123456789abcdef"
CHANNEL = "mychannel"
#: Settings that make every hook send at once: no debounce, context also while offline.
READY = {"api_key": KEY, "channel": CHANNEL, "scene_debounce_ms": 0, "only_when_live": False}
WORKER_THREAD = "ailicia-delivery"
WAIT_S = 10.0
EVENTSUB_PATH = "/v1/eventsub/stream"


def core_modules() -> dict:
    return {n: m for n, m in sys.modules.items() if n == "ailicia_core" or n.startswith("ailicia_core.")}


def worker_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER_THREAD and t.is_alive()]


@pytest.fixture
def fake():
    """A fresh fake obspython; sys.modules and the 'ailicia' logger are restored afterwards."""
    saved_core = core_modules()
    saved_glue = sys.modules.pop("ailicia_obs", None)
    logger = logging.getLogger("ailicia")
    saved_logger = (list(logger.handlers), list(logger.filters), logger.level, logger.propagate)
    controller = fake_obspython.install()
    yield controller
    fake_obspython.uninstall(controller)
    sys.modules.pop("ailicia_obs", None)
    for name in core_modules():
        del sys.modules[name]
    sys.modules.update(saved_core)
    if saved_glue is not None:
        sys.modules["ailicia_obs"] = saved_glue
    logger.handlers[:], logger.filters[:] = saved_logger[0], saved_logger[1]
    logger.setLevel(saved_logger[2])
    logger.propagate = saved_logger[3]


class Script:
    """ailicia_obs.py, driven the way OBS drives a script."""

    def __init__(self, fake: fake_obspython.FakeObs) -> None:
        self.fake = fake
        self.module = importlib.import_module("ailicia_obs")
        self.data = fake.new_data({"dock_port": 0})  # the dock on a free port, never the default
        self.props: Any = None

    # lifecycle
    def load(self, **values: Any) -> None:
        """script_defaults, script_load, script_update: what OBS does when it loads a script."""
        self.fake.call_script(self.module.script_defaults, self.data)
        self.data.values.update(values)
        self.fake.call_script(self.module.script_load, self.data)
        self.fake.call_script(self.module.script_update, self.data)

    def unload(self) -> None:
        self.fake.call_script(self.module.script_unload)

    def reload(self) -> None:
        """Tools → Scripts → Reload Scripts: unload, re-execute the module, load again."""
        self.unload()
        self.module = importlib.reload(self.module)
        self.load()

    def update(self, **values: Any) -> None:
        self.data.values.update(values)
        self.fake.call_script(self.module.script_update, self.data)

    def save(self) -> None:
        self.fake.call_script(self.module.script_save, self.data)

    # state
    @property
    def glue(self) -> Any:
        return self.module._glue

    @property
    def engine(self) -> Any:
        return self.glue.engine if self.glue is not None else None

    def settle(self) -> None:
        """Wait (bounded) until the engine has sent everything it was handed."""
        assert self.engine is not None, "no engine running"
        assert self.engine.wait_idle(WAIT_S), "the engine did not finish in time"

    # panel
    def properties(self) -> Any:
        self.props = self.fake.call_script(self.module.script_properties)
        return self.props

    def status(self) -> str:
        return self.props.find(self.module.STATUS_PROPERTY).description

    def click(self, name: str) -> bool:
        return self.fake.click(self.props, name)

    def modify(self, name: str, value: Any) -> bool:
        return self.fake.modify(self.props, name, self.data, value, self.module.script_update)


@pytest.fixture
def script(fake, api):
    """The script; afterwards it is unloaded and nothing may be left behind.

    It depends on ``api`` so that the HTTP mock outlives the unload: nothing ever reaches the network.
    """
    harness = Script(fake)
    yield harness
    if harness.module._glue is not None:
        harness.unload()
    assert fake.refs.outstanding() == {}, "references left unreleased"
    assert fake.refs.errors == []
    assert fake.problems == []
    assert not any("Traceback" in line or "SWIG failed" in line for line in fake.log_lines())


@dataclass
class Call:
    method: str
    path: str
    body: Optional[dict]


@pytest.fixture
def api():
    """The ai_licia API, mocked: every endpoint the engine uses answers success."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{BASE}/v1/events", json={"success": True})
        mock.add(responses.POST, f"{BASE}/v1/events/generations", json={"success": True})
        mock.add(
            responses.POST,
            f"{BASE}/v1/streams/{CHANNEL}",
            json={"success": True, "message": "AI successfully joined channel", "joinedAt": 1739982392000},
        )
        mock.add(responses.DELETE, f"{BASE}/v1/streams/{CHANNEL}", status=202, json={"success": True})
        mock.add(
            responses.GET,
            f"{BASE}/v1/characters",
            json=[{"id": "c1", "name": "ai_licia", "description": "", "isActive": True}],
        )
        yield mock


def calls(mock: responses.RequestsMock) -> List[Call]:
    """The requests the engine made, in order, as (method, path, JSON body)."""
    made = []
    for call in mock.calls:
        if urlsplit(call.request.url).path == EVENTSUB_PATH:
            continue  # the live-events listener's own connection attempts
        body = call.request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        made.append(Call(call.request.method, urlsplit(call.request.url).path, json.loads(body) if body else None))
    return made


def contents(mock: responses.RequestsMock, path: str = "/v1/events") -> List[str]:
    return [c.body["data"]["content"] for c in calls(mock) if c.method == "POST" and c.path == path]


@dataclass
class Studio:
    """A small scene collection: what a streamer's OBS might hold."""

    main: Any
    brb: Any
    webcam_scene: Any
    camera: Any
    overlay: Any
    webcam_in_main: Any
    cam_frame: Any
    hud: Any
    health_bar: Any
    brb_text: Any
    mic: Any
    desktop: Any


def build_studio(fake: fake_obspython.FakeObs) -> Studio:
    main = fake.add_scene("Main")
    brb = fake.add_scene("BRB")
    webcam_scene = fake.add_scene("Webcam Scene")
    camera = fake.add_item(main, fake.add_input("Camera", "v4l2_input"), visible=True)
    overlay = fake.add_item(main, fake.add_input("Overlay", "image_source"), visible=False)
    webcam_in_main = fake.add_item(main, webcam_scene, visible=True)
    cam_frame = fake.add_item(webcam_scene, fake.add_input("Cam Frame", "image_source"), visible=False)
    hud, _ = fake.add_group("HUD Group", into=main)
    health_bar = fake.add_item(hud, fake.add_input("Health Bar", "browser_source"), visible=False)
    brb_text = fake.add_item(brb, fake.add_input("BRB Text", "text_ft2_source_v2"), visible=False)
    mic = fake.add_input("Mic", "pulse_input_capture", audio=True, video=False)
    desktop = fake.add_input("Desktop Audio", "pulse_output_capture", audio=True, video=False)
    return Studio(
        main, brb, webcam_scene, camera, overlay, webcam_in_main, cam_frame, hud, health_bar, brb_text, mic, desktop
    )


def boot(fake: fake_obspython.FakeObs, script: Script, **values: Any) -> Studio:
    """OBS start-up as observed in OBS 29: script_load before any scene, then the initial
    SCENE_CHANGED, then FINISHED_LOADING; then the timers run once (the glue walks the
    sources on its timer, never in a UI-thread callback)."""
    script.load(**values)
    studio = build_studio(fake)
    fake.switch_scene(studio.main)
    fake.fire(EVENT.PREVIEW_SCENE_CHANGED)
    fake.fire(EVENT.FINISHED_LOADING)
    fake.tick_timers()
    return studio


class HandleSpy:
    """Records every event the glue hands to the engine (and still passes it on)."""

    def __init__(self, engine: Any) -> None:
        self.events: List[Any] = []
        original = engine.handle

        def handle(event: Any) -> None:
            self.events.append(event)
            original(event)

        engine.handle = handle


@pytest.fixture
def spy(script):
    def attach() -> HandleSpy:
        return HandleSpy(script.engine)

    return attach
