"""Figure 7: how soon the dock shows a change: its Server-Sent Events beside a page polling once a second.

Ours: a reader on ``/api/events`` (what the dock page's ``EventSource`` does) sees a
new feed entry, and a status change, after it happens. Naive: a page that polls
``/api/state`` every second, the usual way without push. Both against one dock
server and one engine (no network: the feed and the status are changed directly).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from typing import Dict, List

from ailicia_core.dock import DockServer
from ailicia_core.engine import Engine

from .common import Figure, Row, fmt_duration, fmt_ratio, median, percentile

SAMPLES = 40
POLL_SAMPLES = 10
POLL_S = 1.0
TARGET_S = 0.25
TOKEN = "bench-dock-token"


class _Stream:
    """An open event stream, read one event at a time."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", f"/api/events?token={TOKEN}")
        self.answer = self.conn.getresponse()

    def next_event(self) -> str:
        name = ""
        while True:
            line = self.answer.fp.readline().decode()
            if line == "":
                raise ConnectionError("the event stream ended")
            if line == "\n" and name:
                return name
            if line.startswith("event: "):
                name = line[len("event: ") :].strip()

    def wait_for(self, name: str) -> None:
        while self.next_event() != name:
            pass


def _pushed(server: DockServer, engine: Engine, rng: random.Random) -> Dict[str, List[float]]:
    stream = _Stream(server.port)
    stream.wait_for("state")
    seen: Dict[str, List[float]] = {"activity": [], "status": []}
    try:
        for n in range(SAMPLES):
            time.sleep(rng.uniform(0.0, 0.15))  # a random phase against the stream's 0.1 s status poll
            started = time.perf_counter()
            engine.activity.add(time.time(), "context", f"entry {n}", "sent")
            stream.wait_for("activity")
            seen["activity"].append(time.perf_counter() - started)
            time.sleep(rng.uniform(0.0, 0.15))
            started = time.perf_counter()
            (engine.pause_automatic if n % 2 == 0 else engine.resume_automatic)()
            stream.wait_for("status")
            seen["status"].append(time.perf_counter() - started)
    finally:
        stream.conn.close()
    return seen


def _polled(server: DockServer, engine: Engine, rng: random.Random) -> List[float]:
    """Latency of a page that GETs /api/state every POLL_S: the first poll that shows each new entry."""
    added: Dict[int, float] = {}
    noticed: Dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", f"/api/state?token={TOKEN}")
            state = json.loads(conn.getresponse().read())
            conn.close()
            now = time.perf_counter()
            for entry in state["activity"]:
                noticed.setdefault(entry["seq"], now)
            stop.wait(POLL_S)

    poller = threading.Thread(target=poll, name="bench-dock-poller", daemon=True)
    poller.start()
    try:
        for n in range(POLL_SAMPLES):
            time.sleep(rng.uniform(0.3, 1.3))
            added[engine.activity.add(time.time(), "context", f"polled {n}", "sent").seq] = time.perf_counter()
        deadline = time.monotonic() + 3 * POLL_S
        while len([s for s in added if s in noticed]) < len(added) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(2 * POLL_S + 10)
    return [noticed[s] - at for s, at in added.items() if s in noticed]


def run() -> Figure:
    rng = random.Random(7)
    engine = Engine({}, start=False)  # no worker: only the feed and the status change
    server = DockServer(engine, port=0, token=TOKEN)
    if not server.start().running:
        raise RuntimeError("the dock server did not start")
    try:
        pushed = _pushed(server, engine, rng)
        polled = _polled(server, engine, rng)
    finally:
        server.stop(1.0)
    figure = Figure("10", "Dock: from a change to the page")
    naive = median(polled)
    for what, values in (("a new feed entry", pushed["activity"]), ("a status change", pushed["status"])):
        ours = percentile(values, 99)
        figure.rows.append(
            Row(
                f"Dock shows {what}, p99 of {len(values)} (naive: a page polling every {POLL_S:g} s, median)",
                fmt_duration(ours),
                fmt_duration(naive),
                fmt_ratio(naive, ours),
                f"< {TARGET_S * 1e3:g} ms",
                ours < TARGET_S,
            )
        )
    figure.notes.append(
        "7: one dock server on loopback, one reader of its Server-Sent Events; each change is made at a random "
        "phase and timed until the reader has parsed its event. Feed entries wake the stream at once; status "
        "changes are noticed by the stream's 0.1 s comparison, so their bound is that poll plus the write. The "
        f"naive page polls /api/state every {POLL_S:g} s ({len(polled)} entries added at random phases)."
    )
    return figure
