"""What every figure uses: paths, statistics, formatting, the sandbox and the engine.

A figure is a function returning :class:`Figure`: table rows (ours beside the
naive baseline) and notes that say how each number was taken.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
SUPPORT_DIR = REPO / "tests" / "support"
E2E_DIR = REPO / "tests" / "e2e"
NAIVE_SCRIPT = BENCH_DIR / "bench_naive_obs.py"

for _path in (REPO, SUPPORT_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from ailicia_core.engine import Engine  # noqa: E402
from ailicia_core.sandbox import DEFAULT_API_KEY, DEFAULT_CHANNEL, Sandbox, SandboxConfig  # noqa: E402

API_KEY = DEFAULT_API_KEY
CHANNEL = DEFAULT_CHANNEL
CONTEXT_PATH = "/v1/events"
GENERATION_PATH = "/v1/events/generations"


# --- results ------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table. ``met`` is None where the figure has no target."""

    figure: str
    ours: str
    naive: str
    ratio: str
    target: str = ""
    met: Optional[bool] = None


@dataclass
class Figure:
    number: str
    title: str
    rows: List[Row] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    crashed: bool = False


# --- statistics -----------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --- formatting -----------------------------------------------------------------


def fmt_us(us: float) -> str:
    return f"{us:,.1f} µs" if us < 100 else f"{us:,.0f} µs"


def fmt_duration(seconds: float) -> str:
    """A duration with the unit that keeps it readable (µs, ms or s)."""
    if seconds < 1e-3:
        return fmt_us(seconds * 1e6)
    if seconds < 1.0:
        return f"{seconds * 1e3:,.2f} ms" if seconds < 0.1 else f"{seconds * 1e3:,.0f} ms"
    return f"{seconds:,.2f} s"


def fmt_bytes(n: float) -> str:
    if n < 1024 * 1024:
        return f"{n / 1024:,.0f} KiB"
    return f"{n / (1024 * 1024):,.2f} MiB"


def fmt_ratio(naive: float, ours: float, *, unit: str = "×") -> str:
    """``naive ÷ ours``, e.g. "290,000×"; "—" when either side is zero."""
    if ours <= 0 or naive <= 0:
        return "—"
    ratio = naive / ours
    if ratio >= 1000:  # three significant figures: the rest is noise
        digits = len(str(int(ratio))) - 3
        return f"{round(ratio, -digits):,.0f}{unit}"
    if ratio >= 100:
        return f"{ratio:,.0f}{unit}"
    if ratio >= 10:
        return f"{ratio:,.1f}{unit}"
    return f"{ratio:,.2f}{unit}"


# --- the pieces under test --------------------------------------------------------


def quiet_core_logger() -> None:
    """The bench prints one table: the engine's log lines must not reach stderr."""
    log = logging.getLogger("ailicia")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    log.propagate = False


@contextlib.contextmanager
def sandbox(**config: Any) -> Iterator[Sandbox]:
    """A loopback sandbox, stopped on exit (it cuts requests it still holds)."""
    api = Sandbox(SandboxConfig(quiet=True, **config)).start()
    try:
        yield api
    finally:
        api.stop()


def engine_settings(url: str, **overrides: Any) -> Dict[str, Any]:
    """Settings for an engine talking to the sandbox at ``url``; context is sent without going live.

    Live events are off: these figures measure the delivery, and the listener's own requests
    (the stream, the character list) would be counted as deliveries. Figure 8 measures the listener.
    """
    settings: Dict[str, Any] = {
        "api_key": API_KEY,
        "channel": CHANNEL,
        "api_base_url": url,
        "only_when_live": False,
        "eventsub_enabled": False,
    }
    settings.update(overrides)
    return settings


@contextlib.contextmanager
def engine(url: str, *, shutdown_s: float = 2.0, **overrides: Any) -> Iterator[Engine]:
    """An engine with a running worker, shut down (bounded) on exit."""
    running = Engine(engine_settings(url, **overrides))
    try:
        yield running
    finally:
        running.shutdown(timeout=shutdown_s)


def wait_until(predicate: Any, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
