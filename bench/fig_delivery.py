"""Figure 3: from ``engine.handle`` to the request's arrival at the sandbox, on loopback, no debounce."""

from __future__ import annotations

import time
from typing import List

from ailicia_core.events import SceneSwitched

from . import naive
from .common import Figure, Row, engine, fmt_duration, fmt_ratio, median, percentile, sandbox

EVENTS = 1000
WARMUP = 10
P50_TARGET_S = 0.005


def measure_ours() -> List[float]:
    """Seconds from submit to arrival, one event at a time (each waits for the previous to finish)."""
    latencies = []
    with sandbox() as api, engine(api.url, scene_debounce_ms=0) as running:
        for i in range(WARMUP + EVENTS):
            expected = i + 1
            submitted = time.time()  # the sandbox stamps arrival with time.time() too
            running.handle(SceneSwitched(scene=f"Scene {i}"))
            if not api.wait_for(lambda reqs, n=expected: len(reqs) >= n, timeout=5.0):
                raise RuntimeError(f"event {i} did not reach the sandbox within 5 s")
            running.wait_idle(5.0)
            if i >= WARMUP:
                latencies.append(api.requests[i].t - submitted)
    return latencies


def measure_naive() -> tuple:
    """(round trips, submit-to-arrival) in seconds of a synchronous ``requests.post`` per event."""
    round_trips, arrivals = [], []
    with sandbox() as api:
        for i in range(WARMUP + EVENTS):
            submitted, started = time.time(), time.perf_counter()
            naive.post_context(api.url, f"Streamer switched to the 'Scene {i}' scene")
            if i >= WARMUP:
                round_trips.append(time.perf_counter() - started)
                arrivals.append(api.requests[i].t - submitted)
    return round_trips, arrivals


def run() -> Figure:
    ours = measure_ours()
    naive_rtt, naive_arrival = measure_naive()
    figure = Figure("3", "Delivery latency (loopback sandbox, no debounce)")
    p50, p99 = median(ours), percentile(ours, 99)
    n50, n99 = median(naive_rtt), percentile(naive_rtt, 99)
    figure.rows.append(
        Row(
            f"Delivery latency, submit → arrival, p50 ({len(ours):,} events; naive: its round trip)",
            fmt_duration(p50),
            fmt_duration(n50),
            fmt_ratio(n50, p50),
            f"< {P50_TARGET_S * 1e3:g} ms",
            p50 < P50_TARGET_S,
        )
    )
    figure.rows.append(
        Row(
            "Delivery latency, submit → arrival, p99 (naive: its round trip)",
            fmt_duration(p99),
            fmt_duration(n99),
            fmt_ratio(n99, p99),
        )
    )
    figure.notes.append(
        f"3: one event at a time after {WARMUP} unmeasured warm-up events; arrival is the sandbox's time.time() "
        f"when it has read the request. The naive post's own submit → arrival: p50 "
        f"{fmt_duration(median(naive_arrival))}, p99 {fmt_duration(percentile(naive_arrival, 99))} (a new "
        f"connection per post; the engine keeps one open)."
    )
    return figure
