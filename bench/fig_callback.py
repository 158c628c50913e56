"""Figure 1: time spent inside ailicia_obs.py's callbacks per event, with the API answering in 5 s."""

from __future__ import annotations

import time
from typing import Dict, List

from .common import (
    NAIVE_SCRIPT,
    Figure,
    Row,
    engine_settings,
    fmt_duration,
    fmt_ratio,
    fmt_us,
    median,
    percentile,
    sandbox,
)
from .fake_obs import CallbackTimer, booted, event_plan, hotkey_names

EVENTS = 1000
NAIVE_EVENTS = 5
API_DELAY_S = 5.0
#: OBS events do not come back to back; a short gap also lets the worker run between them.
GAP_S = 0.0005
#: How often OBS's 200 ms log-flush timer gets a tick (outside the timed callbacks).
TICK_EVERY = 100
MEDIAN_TARGET_US = 20.0
P99_TARGET_US = 200.0


def measure(script=None, *, events: int, settings: Dict) -> Dict[str, List[int]]:
    """Boot the script, run ``events`` OBS events against the delaying API; ns per callback, by kind."""
    with sandbox() as api:  # answers at once while the script boots (the naive one posts the first scene)
        with booted(engine_settings(api.url, **settings), script) as loaded:
            prefix = "bench_naive_trigger_" if script is not None else "ailicia_trigger_"
            plan = event_plan(loaded, hotkey_names(loaded.fake, prefix), events)
            api.set_faults(delay_s=API_DELAY_S)
            with CallbackTimer(loaded.fake) as timer:
                for i, (kind, act) in enumerate(plan):
                    timer.event(kind, act)
                    if i % TICK_EVERY == TICK_EVERY - 1:
                        loaded.fake.tick_timers()
                    time.sleep(GAP_S)
            api.set_faults(delay_s=0.0)  # release held requests so the unload has nothing to wait for
        return timer.samples


def run() -> Figure:
    ours = measure(events=EVENTS, settings={})
    naive = measure(NAIVE_SCRIPT, events=NAIVE_EVENTS, settings={})
    all_ours = [v / 1000.0 for kind in ours.values() for v in kind]
    all_naive = [v / 1e9 for kind in naive.values() for v in kind]
    med, p99 = median(all_ours), percentile(all_ours, 99)
    naive_med, naive_max = median(all_naive), max(all_naive)
    figure = Figure("1", "Callback cost (stand-in obspython, API answers after 5 s)")
    figure.rows.append(
        Row(
            f"Callback cost per event, median ({len(all_ours):,} events; naive: {len(all_naive)})",
            fmt_us(med),
            fmt_duration(naive_med),
            fmt_ratio(naive_med * 1e6, med),
            f"< {MEDIAN_TARGET_US:g} µs",
            med < MEDIAN_TARGET_US,
        )
    )
    figure.rows.append(
        Row(
            "Callback cost per event, p99 (naive: max of its events)",
            fmt_us(p99),
            fmt_duration(naive_max),
            fmt_ratio(naive_max * 1e6, p99),
            f"< {P99_TARGET_US:g} µs",
            p99 < P99_TARGET_US,
        )
    )
    per_kind = ", ".join(
        f"{kind} {len(v)} × (median {fmt_us(median(v) / 1000)}, p99 {fmt_us(percentile(v, 99) / 1000)}, "
        f"max {fmt_us(max(v) / 1000)})"
        for kind, v in ours.items()
    )
    figure.notes.append(f"1: ours by kind: {per_kind}.")
    figure.notes.append(
        f"1: events cycle switch to BRB, switch to Main, camera hidden, camera shown, trigger hotkey, "
        f"{GAP_S * 1e3:g} ms apart; perf_counter_ns around the callback only. The naive script "
        f"(bench/bench_naive_obs.py) ran {len(all_naive)} of the same events: each waits for the "
        f"{API_DELAY_S:g} s answer, so 1,000 would take {EVENTS * API_DELAY_S / 60:.0f} min."
    )
    return figure
