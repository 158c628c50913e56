"""The release zip, unzipped, in real OBS: a whole live session with its own requests, and an update.

``bash scripts/package`` builds the zip; it is unzipped into a temporary folder and OBS loads
``ailicia_obs.py`` from there. OBS's own ``requests`` (Debian's python3-requests) is made
unimportable: a ``PYTHONPATH`` entry, which comes before dist-packages, holds a ``requests``
package that raises ImportError. So the session can only work with the vendored copy.

The update: OBS saves the script's path and settings in the scene collection when it quits; the
new zip is unzipped over the folder; OBS starts again from that saved collection, untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import obs_harness
import pytest
from e2e_support import (
    TRIGGER_PROMPTS,
    Traffic,
    ailicia_settings,
    content,
    context_with,
    distinctive_key,
    is_generation,
    is_join,
    is_leave,
    log_problems,
    open_scenario,
)
from obs_harness import COLLECTION_A, SCENE_GAMEPLAY, SCENE_JUST_CHATTING, TRIGGER_KEYS, ObsSession

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


def saved_script_entry(session: ObsSession, script: Path) -> Dict[str, Any]:
    """The scene collection's entry for ``script``, as OBS saved it when it quit."""
    saved = json.loads((session.config_dir / "basic" / "scenes" / f"{COLLECTION_A}.json").read_text())
    entries = [e for e in saved["modules"]["scripts-tool"] if Path(e["path"]) == script]
    assert len(entries) == 1, saved["modules"]["scripts-tool"]
    return entries[0]


def test_unzipping_the_next_version_over_the_folder_keeps_the_key_channel_and_hotkeys(
    real_obs: None, tmp_path: Path, monkeypatch: Any
) -> None:
    from ailicia_core.sandbox import Sandbox, SandboxConfig

    built = release_zip.build(tmp_path / "dist")
    home = tmp_path / "streamer"
    folder = release_zip.unpack(built, home)
    script = folder / "ailicia_obs.py"
    key = distinctive_key()
    api = Sandbox(SandboxConfig(port=0, api_keys=(key,), quiet=True, generation_window_s=3.0)).start()
    try:
        # The streamer's first session: OBS saves the script's path and settings when it quits.
        settings = {**ailicia_settings(api.url, key), **obs_harness.trigger_hotkey_settings()}
        with ObsSession(tmp_path / "obs", ailicia_settings=settings, ailicia_script=script) as first:
            first.start()
            assert first.quit("close").exit_code == 0
        entry = saved_script_entry(first, script)
        assert entry["settings"]["api_key"] == key and entry["settings"]["channel"] == settings["channel"]

        # The update: the next version unzipped over the same folder, OBS closed.
        assert release_zip.unpack(built, home) == folder and script.is_file()
        saved = json.loads((first.config_dir / "basic" / "scenes" / f"{COLLECTION_A}.json").read_text())
        second = ObsSession(tmp_path / "obs", ailicia_script=script)
        real_build = obs_harness.build_collection

        def collection_as_saved(name: str, scripts: Any, **more: Any) -> Dict[str, Any]:
            """OBS's own saved collection; only the test driver's port and token are this run's."""
            if name != COLLECTION_A:
                return real_build(name, scripts, **more)
            fresh = {Path(s["path"]).name: s for s in scripts}
            kept = [
                fresh["e2e_driver.py"] if Path(e["path"]).name == "e2e_driver.py" else e
                for e in saved["modules"]["scripts-tool"]
            ]
            return {**saved, "modules": {**saved["modules"], "scripts-tool": kept}}

        monkeypatch.setattr(obs_harness, "build_collection", collection_as_saved)
        traffic = Traffic(api)
        with second:
            second.start()
            panel = second.driver.call("script_status")
            assert panel is not None, "OBS did not load ailicia_obs.py from the saved path"
            assert "Needs attention" not in panel["status"], panel
            second.start_streaming()
            traffic.wait(is_join, what="a join with the saved key and channel")
            second.press_hotkey(TRIGGER_KEYS[1])
            (reaction,) = traffic.wait(is_generation, what="a reaction from the saved hotkey binding")
            assert content(reaction) == TRIGGER_PROMPTS[1]
            second.stop_streaming()
            traffic.wait(is_leave, what="a leave")
            assert second.quit("close").exit_code == 0
        assert all(r.auth == "auth ok" for r in traffic.all()), traffic.describe()
        assert saved_script_entry(second, script)["settings"]["api_key"] == key
        assert not second.problems and not first.problems
    finally:
        api.stop()
