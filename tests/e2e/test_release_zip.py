"""Issue 11: the release zip, unzipped, runs a whole live session in real OBS with its own requests.

``bash scripts/package`` builds the zip; it is unzipped into a temporary folder and OBS loads
``ailicia_obs.py`` from there. OBS's own ``requests`` (Debian's python3-requests) is made
unimportable: a ``PYTHONPATH`` entry, which comes before dist-packages, holds a ``requests``
package that raises ImportError. So the session can only work with the vendored copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import (
    TRIGGER_PROMPTS,
    Traffic,
    content,
    context_with,
    is_generation,
    is_join,
    is_leave,
    log_problems,
    open_scenario,
)
from obs_harness import SCENE_GAMEPLAY, SCENE_JUST_CHATTING, TRIGGER_KEYS

from ailicia_core import vendoring
from tests.support import release_zip

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

VENDORED = ("requests", "urllib3", "idna", "certifi")
#: Trigger 4 has a prompt but no key bound: obs-websocket fires it by name all the same.
UNBOUND_PROMPT = "E2E prompt four, fired by name"
HOTKEY_CLIENT = Path(__file__).resolve().parent / "obs_websocket_hotkey.py"


def trigger_over_obs_websocket(vendor: Path, port: int, password: str, hotkey: str) -> dict:
    """TriggerHotkeyByName through obs-websocket, with the zip's own websocket-client (see install.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(vendor)
    result = subprocess.run(
        [sys.executable, "-B", str(HOTKEY_CLIENT), str(port), password, hotkey],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def blocked_requests(folder: Path) -> Path:
    """A folder whose ``requests`` package raises ImportError: OBS's installed copy, made unimportable."""
    (folder / "requests").mkdir(parents=True)
    (folder / "requests" / "__init__.py").write_text(
        'raise ImportError("the installed requests is blocked by the release-zip test")\n'
    )
    return folder


def test_the_unzipped_release_runs_a_live_session_with_its_vendored_requests(real_obs: None, tmp_path: Path) -> None:
    unpacked = release_zip.unpack(release_zip.build(tmp_path / "dist"), tmp_path / "unzipped")
    assert not (unpacked / "tests").exists()
    blocker = blocked_requests(tmp_path / "blocker")
    vendor = unpacked / vendoring.VENDOR_FOLDER

    with open_scenario(
        tmp_path / "obs",
        ailicia_script=unpacked / "ailicia_obs.py",
        extra_env={"PYTHONPATH": str(blocker)},
        obs_websocket=True,
        settings={"trigger_4_prompt": UNBOUND_PROMPT},
    ) as live:
        obs, traffic = live.obs, Traffic(live.sandbox)

        modules = obs.driver.call("python_modules", names=list(VENDORED))
        path = modules["path"]
        assert str(blocker) in path, "OBS's Python did not take the blocking PYTHONPATH entry"
        assert path[0] == str(vendor), path[:3]
        for name, file in modules["files"].items():
            assert vendoring.is_inside(file, str(vendor)), f"{name} was imported from {file}"

        panel = obs.driver.call("script_status")
        assert panel is not None, "ailicia_obs.py did not load from the unzipped folder"
        assert "Needs attention" not in panel["status"] and "needs the Python package" not in panel["status"]
        assert panel["status"].startswith("Connection not tested yet.") or "Not live." in panel["status"]
        assert "from the ailicia_vendor folder" in panel["python"], panel

        obs.start_streaming()
        traffic.wait(is_join, what="a join (POST /v1/streams/mychannel)")
        traffic.wait(context_with("Stream started", SCENE_JUST_CHATTING), what="context naming the scene on air")
        obs.switch_scene(SCENE_GAMEPLAY)
        traffic.wait(context_with("switched", SCENE_GAMEPLAY), what="context naming the new scene")
        obs.press_hotkey(TRIGGER_KEYS[1])
        (reaction,) = traffic.wait(is_generation, what="a reaction for hotkey 1")
        assert content(reaction) == TRIGGER_PROMPTS[1] and reaction.status == 200
        # Stream Deck / Streamer.bot route (install.md): obs-websocket's TriggerHotkeyByName, by name,
        # for trigger 4, which has no key bound.
        status = trigger_over_obs_websocket(vendor, obs.websocket_port, obs.websocket_password, "ailicia_trigger_4")
        assert status.get("result") is True, status
        generations = traffic.wait(is_generation, count=2, timeout=15, what="a reaction for ailicia_trigger_4")
        assert content(generations[1]) == UNBOUND_PROMPT and generations[1].status == 200

        obs.stop_streaming()
        traffic.wait(is_leave, what="a leave (DELETE /v1/streams/mychannel)")

        assert all(r.status in (200, 202) and r.auth == "auth ok" for r in traffic.all()), traffic.describe()
        result = obs.quit("close")
        assert result.clean, result
        log = obs.log_text()
        assert not log_problems(log, live.secrets), log_problems(log, live.secrets)
        assert "RequestsDependencyWarning" not in log and "character detection" not in log
