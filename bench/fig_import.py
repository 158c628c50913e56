"""Figure 6: what OBS pays when it loads the script, each run in a fresh Python process."""

from __future__ import annotations

import subprocess
import sys
from typing import Dict, List

from .common import NAIVE_SCRIPT, REPO, SUPPORT_DIR, Figure, Row, fmt_duration, fmt_ratio, median

RUNS = 7

# Each child has the stand-in obspython installed before the clock starts (OBS has
# its own obspython loaded by then too), measures one thing, prints nanoseconds.
_PRELUDE = f"""
import sys, time
sys.path[:0] = [{str(REPO)!r}, {str(SUPPORT_DIR)!r}, {str(NAIVE_SCRIPT.parent)!r}]
import fake_obspython
fake = fake_obspython.install()
clock = time.perf_counter_ns
"""
_IMPORT = "started = clock()\nimport {module}\nprint(clock() - started)\n"
_LOAD = """
started = clock()
import {module} as script
data = fake.new_data()
if hasattr(script, "script_defaults"):
    fake.call_script(script.script_defaults, data)
data.values.update(api_key="sandbox-key", channel="mychannel", api_base_url="http://127.0.0.1:9")
fake.call_script(script.script_load, data)
if hasattr(script, "script_update"):
    fake.call_script(script.script_update, data)
print(clock() - started)
fake.call_script(script.script_unload)
"""

CASES = {
    "import ailicia_obs": _IMPORT.format(module="ailicia_obs"),
    "import requests": _IMPORT.format(module="requests"),
    "load ailicia_obs": _LOAD.format(module="ailicia_obs"),
    "load naive": _LOAD.format(module=NAIVE_SCRIPT.stem),
}


def time_child(code: str) -> float:
    """Seconds the child measured; ``-I`` keeps the environment and the current directory out."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", _PRELUDE + code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    if done.returncode != 0:
        raise RuntimeError(f"import child failed: {done.stderr.strip()[-500:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1e9


def measure() -> Dict[str, List[float]]:
    results: Dict[str, List[float]] = {name: [] for name in CASES}
    for code in CASES.values():
        time_child(code)  # warm-up: writes the bytecode caches, fills the page cache
    for _ in range(RUNS):  # interleaved, so a slow moment of the machine hits every case alike
        for name, code in CASES.items():
            results[name].append(time_child(code))
    return results


def run() -> Figure:
    times = {name: median(values) for name, values in measure().items()}
    figure = Figure("6", "Import cost (fresh process, stand-in obspython)")
    ours, base = times["import ailicia_obs"], times["import requests"]
    figure.rows.append(
        Row(
            f"Import ailicia_obs, median of {RUNS} fresh processes (naive: import requests alone)",
            fmt_duration(ours),
            fmt_duration(base),
            fmt_ratio(base, ours),
        )
    )
    ours, base = times["load ailicia_obs"], times["load naive"]
    figure.rows.append(
        Row(
            "Import + script_load: engine, requests, worker started (naive: its script, which imports requests)",
            fmt_duration(ours),
            fmt_duration(base),
            fmt_ratio(base, ours),
        )
    )
    figure.notes.append(
        "6: ailicia_obs.py imports ailicia_core and requests only in script_load, so the first row is the module "
        "alone and the second is everything OBS waits for when it loads the script. Each figure is the median "
        f"of {RUNS} fresh `python -I` processes after one warm-up (bytecode already compiled)."
    )
    return figure
