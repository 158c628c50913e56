"""Runs every figure, prints one table and writes it to bench/RESULTS.md.

Each figure is measured beside the naive baseline (a synchronous
``requests.post`` inside the OBS callback) in the same run. A figure that
crashes shows as "failed" in its row and the exit status is 1; a missed target
is a finding, not a failure (exit 0).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from typing import Callable, List

from . import (
    fig_burst,
    fig_callback,
    fig_delivery,
    fig_dock,
    fig_eventsub,
    fig_hostile,
    fig_import,
    fig_pacing,
    fig_real_obs,
    fig_watch,
)
from .common import BENCH_DIR, Figure, Row, quiet_core_logger

RESULTS = BENCH_DIR / "RESULTS.md"

# Import cost first (nothing else has run in the machine's caches yet), real OBS last (it loads both cores).
PLAN: List[tuple] = [
    ("6", "import cost", fig_import.run),
    ("3", "delivery latency", fig_delivery.run),
    ("4", "burst", fig_burst.run),
    ("5", "pacing", fig_pacing.run),
    ("1", "callback cost", fig_callback.run),
    ("7", "hostile servers", fig_hostile.run),
    ("10", "dock push", fig_dock.run),
    ("9", "watched sources", fig_watch.run),
    ("2", "real OBS", fig_real_obs.run),
    ("8", "hearing ai_licia back", fig_eventsub.run),
]


def machine() -> str:
    """Python, OS, CPU count and (when installed) OBS with the Python it embeds."""
    parts = [
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"{platform.system()} {platform.machine()}",
        f"{os.cpu_count()} CPUs",
    ]
    try:
        version = subprocess.run(["obs", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        embedded = subprocess.run(
            [fig_real_obs.OBS_PYTHON, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        version = version.replace("OBS Studio - ", "OBS Studio ").replace(" (linux)", "")
        parts.append(f"{version} (embeds {embedded})" if version else "OBS not installed")
    except (OSError, subprocess.SubprocessError):
        parts.append("OBS not installed")
    return ", ".join(parts)


def run_figure(number: str, name: str, measure: Callable[[], Figure]) -> Figure:
    print(f"bench: figure {number} ({name})…", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        figure = measure()
    except Exception as exc:  # one broken figure must not hide the others
        figure = Figure(number, name, rows=[Row(name, f"failed: {type(exc).__name__}: {exc}", "—", "—")], crashed=True)
    print(f"bench: figure {number} took {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return figure


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def render(figures: List[Figure], header: str, took_s: float, loads: tuple) -> str:
    lines = [
        "# ailicia-obs benchmark",
        "",
        f"`bash scripts/bench`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"took {took_s:.0f} s. Machine: {header}; 1-minute load average {loads[0]} before the run, "
        f"{loads[1]} after (other work on the machine shows up as spikes in the maxima).",
        "",
        "Naive = the same events sent with a synchronous `requests.post` inside the OBS callback "
        "(bench/naive.py, bench/bench_naive_obs.py), measured in the same run. "
        "Ratio = naive ÷ ours (for times: how many times longer the naive way takes).",
        "",
        "| # | figure | ailicia-obs | naive (sync `requests.post`) | naive ÷ ours | target | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for figure in figures:
        for row in figure.rows:
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            lines.append(
                f"| {figure.number} | {_cell(row.figure)} | {_cell(row.ours)} | {_cell(row.naive)} | "
                f"{_cell(row.ratio)} | {_cell(row.target)} | {met} |"
            )
    lines += ["", "How each figure was taken:", ""]
    lines += [f"- {note}" for figure in figures for note in figure.notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    quiet_core_logger()
    started, load_before = time.monotonic(), load_average()
    figures = [run_figure(number, name, measure) for number, name, measure in PLAN]
    figures.sort(key=lambda f: f.number)
    text = render(figures, machine(), time.monotonic() - started, (load_before, load_average()))
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    print(f"bench: written to {RESULTS.relative_to(BENCH_DIR.parent)}", file=sys.stderr)
    return 1 if any(f.crashed for f in figures) else 0
