"""Figure 8's hostile part: the listener under a flood of tiny events, and a gzip bomb.

Each measure runs in a child process that imports one tree's ``ailicia_core`` (this
one, or the commit before the bounds, :data:`PREVIOUS`, unpacked with ``git archive``
under /tmp and removed after), against a raw server in this process:

- **Flood.** The server writes tiny ``chat.ai_message`` events (unique ids, cycling
  every :data:`FLOOD_EVENTS`) as fast as the client reads. The child runs an
  :class:`~ailicia_core.engine.Engine` with the Script Log's INFO level on (a null
  handler, as OBS's would format every line) and a thread that wakes at 60 fps;
  over :data:`FLOOD_S` seconds it records the process CPU time and how late each
  frame woke. The baseline is the same child with live events off, in the same run.
- **Gzip bomb.** The server answers with :data:`BOMB_MIB` MiB of zeros gzipped
  (``Content-Encoding: gzip``); the child runs a bare listener for
  :data:`BOMB_S` seconds and reports its peak RSS growth (VmHWM after a reset).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Dict, Iterator, List

from .common import REPO

#: The commit before the listener's bounds.
PREVIOUS = "168db43"
FLOOD_S = 5.0
FLOOD_EVENTS = 20_000
BOMB_MIB = 128
BOMB_S = 4.0
#: A frame that wakes this much after its time is late (half a frame at 60 fps).
LATE_S = 1 / 120

FLOOD_CHILD = r"""
import json, logging, os, sys, threading, time
from ailicia_core.engine import Engine
url, enabled, run_s, late_s = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3]), float(sys.argv[4])
log = logging.getLogger("ailicia")
log.setLevel(logging.INFO)
log.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # OBS's Script Log formats every INFO line
engine = Engine({"api_key": "sk-bench-flood-0123456789", "channel": "mychannel", "api_base_url": url,
                 "eventsub_enabled": enabled})
deadline = time.monotonic() + 10
while enabled and engine.status().listener_state != "connected" and time.monotonic() < deadline:
    time.sleep(0.02)
lateness, stop = [], threading.Event()
def graphics():
    period = 1 / 60
    due = time.perf_counter() + period
    while not stop.is_set():
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        woke = time.perf_counter()
        lateness.append(woke - due)
        sum(range(2000))  # a frame's own bit of Python work
        due += period
        if woke > due:
            due = woke + period  # no catching up: a late frame is late once
thread = threading.Thread(target=graphics)
cpu, wall = time.process_time(), time.monotonic()
thread.start()
time.sleep(run_s)
stop.set()
thread.join()
cpu, wall = time.process_time() - cpu, time.monotonic() - wall
state = engine.hearing.listener.state
heard = engine.hearing.status_fields().get("heard_messages", 0)
engine.shutdown(1.4)
lateness.sort()
print(json.dumps({
    "cpu_s": cpu, "wall_s": wall, "frames": len(lateness),
    "late": sum(1 for x in lateness if x > late_s),
    "p99_s": lateness[max(0, int(len(lateness) * 0.99) - 1)], "max_s": lateness[-1],
    "heard": heard, "skipped": getattr(state, "skipped", 0), "connected": state.connects > 0,
}))
"""

BOMB_CHILD = r"""
import json, sys, time
from ailicia_core.listener import EventSubListener
from ailicia_core.settings import parse_settings

def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

settings = parse_settings({"api_key": "sk-bench-bomb-0123456789", "channel": "mychannel", "api_base_url": sys.argv[1]})
listener = EventSubListener(settings, on_envelope=lambda e: None, rng=lambda: 1.0, reconnect_base_s=30.0)
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = kib("VmRSS")
listener.start()
time.sleep(float(sys.argv[2]))
peak = kib("VmHWM")
stopped = listener.stop(1.4)
print(json.dumps({"growth_bytes": (peak - before) * 1024, "stopped": stopped}))
"""


class RawStreamServer:
    """Answers the event stream with ``body`` (endless when ``repeat``), anything else with 404."""

    def __init__(self, head: bytes, body: bytes, *, repeat: bool) -> None:
        self._head, self._body, self._repeat = head, body, repeat
        self._stopping = threading.Event()
        self._conns: List[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def __enter__(self) -> RawStreamServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                more = conn.recv(4096)
                if not more:
                    return
                head += more
            conn.settimeout(None)  # blocking: the client's reading paces the writes
            if b"/v1/eventsub/stream" not in head.split(b"\r\n", 1)[0]:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            conn.sendall(self._head)
            while not self._stopping.is_set():
                conn.sendall(self._body)
                if not self._repeat:
                    break
            while not self._stopping.is_set() and conn.recv(4096):
                pass


def _chunked(data: bytes, size: int = 64 * 1024) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size))


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def flood_body() -> bytes:
    events = []
    for n in range(FLOOD_EVENTS):
        body = {"id": f"f{n}", "type": "chat.ai_message", "channel": {"name": "mychannel"}, "payload": {"message": "x"}}
        events.append(f"event: chat.ai_message\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode())
    return _chunked(b"".join(events))


def bomb_body() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    return _chunked(b"".join(packer.compress(block) for _ in range(BOMB_MIB)) + packer.flush()) + b"0\r\n\r\n"


@contextlib.contextmanager
def previous_tree() -> Iterator[Path]:
    """:data:`PREVIOUS`'s ``ailicia_core`` unpacked under /tmp (``git archive``), removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="ailicia-prev-flood-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", PREVIOUS, "ailicia_core"], check=True, capture_output=True, timeout=60
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(path)], input=archive, check=True, timeout=60)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def child(tree: Path, code: str, *args: str, timeout_s: float = 60) -> Dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout_s, cwd=tree, env=env
    )
    if run.returncode != 0:
        raise RuntimeError(f"child in {tree} failed: {run.stderr.strip()[-300:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure() -> Dict[str, Dict]:
    """Flood on / off / previous commit, and the gzip bomb here and at the previous commit."""
    results: Dict[str, Dict] = {}
    flood, bomb = flood_body(), bomb_body()
    bomb_head = SSE_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
    with previous_tree() as previous:
        for name, tree, enabled in (("on", REPO, "1"), ("off", REPO, "0"), ("previous", previous, "1")):
            with RawStreamServer(SSE_HEAD, flood, repeat=True) as server:
                results[name] = child(tree, FLOOD_CHILD, server.url, enabled, str(FLOOD_S), str(LATE_S))
        for name, tree in (("bomb", REPO), ("bomb_previous", previous)):
            with RawStreamServer(bomb_head, bomb, repeat=False) as server:
                results[name] = child(tree, BOMB_CHILD, server.url, str(BOMB_S))
    return results
