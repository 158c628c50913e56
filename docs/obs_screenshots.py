"""Retakes the real-OBS screenshots in docs/: the script's panel in Tools → Scripts, and its two source lists.

A manual tool, not a test: ``.venv/bin/python docs/obs_screenshots.py`` on a machine where the e2e
suite runs (OBS 29 headless under Xvfb, through tests/e2e/obs_harness.py), with ``xdotool``,
``xwd`` (x11-apps) and netpbm installed. It drives OBS with the mouse and keyboard like a
streamer: the Tools menu, the Scripts window, the lists. The coordinates and scroll counts are
those of OBS 29.0.2's layout on the harness's 1280×720 display; another OBS may need others.
The crops leave out the harness's own scripts, listed on the left of the Scripts window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e"), str(REPO / "tests" / "support")]

from e2e_support import ailicia_settings, distinctive_key  # noqa: E402
from obs_harness import ObsSession, trigger_hotkey_settings  # noqa: E402

from ailicia_core.sandbox import Sandbox, SandboxConfig  # noqa: E402

DOCS = REPO / "docs"
PANEL = (536, 0, 744, 720)  # left, top, width, height: the script's side of the Scripts window
TOOLS_MENU = (378, 12)
#: Qt paints between input events; give it this long before a capture.
SETTLE_S = 1.0


def pause(seconds: float = SETTLE_S) -> None:
    threading.Event().wait(seconds)


def xdotool(display: str, *args: str) -> str:
    env = {**os.environ, "DISPLAY": display}
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, check=False).stdout


def capture(display: str, out: Path, box: tuple) -> None:
    """The screen, cut to ``box``, as a PNG."""
    left, top, width, height = box
    env = {**os.environ, "DISPLAY": display}
    pipeline = (
        f"xwd -root -silent | xwdtopnm 2>/dev/null | pnmcut -left {left} -top {top} "
        f"-width {width} -height {height} | pnmtopng > '{out}'"
    )
    subprocess.run(["bash", "-c", pipeline], env=env, check=True)


def open_scripts_window(display: str) -> str:
    """Tools → Scripts (the menu pops up unpainted under Xvfb: its items are reached with the arrow keys)."""
    for downs in range(1, 8):
        xdotool(display, "mousemove", *map(str, TOOLS_MENU), "click", "1")
        pause(0.7)
        for _ in range(downs):
            xdotool(display, "key", "Down")
        xdotool(display, "key", "Return")
        pause(1.5)
        found = xdotool(display, "search", "--onlyvisible", "--name", "^Scripts$").split()
        if found:
            return found[0]
        xdotool(display, "key", "Escape")
    raise SystemExit("obs_screenshots: the Scripts window did not open")


def scroll(display: str, clicks: int, at: tuple = (700, 300)) -> None:
    xdotool(display, "mousemove", *map(str, at))
    for _ in range(abs(clicks)):
        xdotool(display, "click", "5" if clicks > 0 else "4")
    pause()


def main() -> int:
    key = distinctive_key()
    api = Sandbox(SandboxConfig(port=0, api_keys=(key,), quiet=True)).start()
    settings = {
        **ailicia_settings(api.url, key),
        **trigger_hotkey_settings(),
        "caption_source": "Title",
        "watched_sources": "Title = On-screen title",
    }
    session = ObsSession(REPO / "tmp" / "obs-screenshots", ailicia_settings=settings)
    try:
        session.start()
        display = session.xvfb.display
        window = open_scripts_window(display)
        xdotool(display, "windowmove", window, "0", "0", "windowsize", window, "1280", "720")
        pause()
        xdotool(display, "mousemove", "80", "66", "click", "1")  # ailicia_obs.py, first in the list
        pause()
        capture(display, DOCS / "obs-scripts-panel.png", PANEL)
        scroll(display, 25)  # down to "Watched sources and characters"
        xdotool(display, "mousemove", "1110", "383", "click", "1")  # the "Add a watched source…" list
        pause()
        capture(display, DOCS / "obs-watched-sources-list.png", (536, 150, 744, 300))
        xdotool(display, "key", "Escape")
        scroll(display, 60)  # to the bottom, then up to "Live events and captions"
        scroll(display, -4)
        xdotool(display, "mousemove", "1000", "278", "click", "1")
        xdotool(display, "key", "alt+Down")  # opens the caption source's list
        pause()
        capture(display, DOCS / "obs-caption-source-list.png", (536, 150, 744, 210))
        xdotool(display, "key", "Escape")
        print(f"obs_screenshots: OBS quit with {session.quit('close').exit_code}; look at the PNGs before committing")
    finally:
        session.close()
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
