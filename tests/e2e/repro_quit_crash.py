"""Minimal reproduction: OBS quits while streaming, with no test driver and no script of ours.

Usage (as root, the chroots built), from tests/e2e:
``AILICIA_OBS=30 ../../.venv/bin/python repro_quit_crash.py [none|empty] [rounds]``

Each round starts a fresh OBS with ``--startstreaming`` against a local RTMP listener, waits 6 s,
sends SIGINT (OBS closes its main window, as a click on the close button does) and prints the
exit status. ``none`` loads no script at all; ``empty`` one Python script that does nothing.
On Debian 13's OBS 30.2.3 both crash (SIGSEGV, -11) nearly every time; stopping the stream
before quitting never crashes. See docs/obs-compat.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import obs_harness as harness

EMPTY_SCRIPT = 'def script_description():\n    return "does nothing"\n'


def one_round(workdir: Path, with_script: bool) -> object:
    session = harness.ObsSession(workdir)
    session.config_dir.mkdir(parents=True, exist_ok=True)
    display = session.xvfb.start()
    try:
        rtmp_url = session.rtmp.start()
        harness.write_global_ini(session.config_dir, profile=harness.PROFILE, collection=harness.COLLECTION_A)
        harness.write_profile(session.config_dir, harness.PROFILE, rtmp_url=rtmp_url, record_dir=workdir)
        scripts = []
        if with_script:
            (workdir / "does_nothing.py").write_text(EMPTY_SCRIPT)
            scripts = [{"path": str(workdir / "does_nothing.py"), "settings": {}}]
        scenes = session.config_dir / "basic" / "scenes"
        scenes.mkdir(parents=True, exist_ok=True)
        collection = harness.build_collection(harness.COLLECTION_A, scripts)
        (scenes / f"{harness.COLLECTION_A}.json").write_text(json.dumps(collection))
        harness.OBS.prepare()
        argv = ["obs", "--multi", "--disable-updater", "--disable-missing-files-check", "--startstreaming"]
        argv += ["--collection", harness.COLLECTION_A, "--profile", harness.PROFILE]
        obs = harness.ManagedProcess(
            "obs",
            harness.OBS.command(argv, cwd=workdir),
            log_path=workdir / "obs-stdout.txt",
            env=session._environment(display),
            cwd=workdir,
        )
        time.sleep(6)  # streaming by then (about 1 s after start here)
        os.kill(obs.pid, signal.SIGINT)
        try:
            return obs.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            obs.stop(signal.SIGKILL)
            return "hung"
    finally:
        session.rtmp.stop()
        session.xvfb.stop()


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "none"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    base = Path(tempfile.mkdtemp(prefix="obs-quit-crash-"))
    codes = [one_round(base / str(n), mode == "empty") for n in range(rounds)]
    print(f"{harness.OBS.name}, scripts: {mode}: exit statuses {codes} (logs in {base})")


if __name__ == "__main__":
    main()
