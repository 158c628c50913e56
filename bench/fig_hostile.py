"""Figure 7: hostile servers. How long a trickle holds the worker; what a 600 MB body costs in memory.

Both are measured for this tree and, in the same run, for the commit before the
whole-request deadline and the body cap (:data:`PREVIOUS`, checked out with
``git worktree`` under /tmp and removed after). In this figure the "naive" column
holds that previous commit.

Each side runs in a fresh Python process (``sys.executable``) that imports only its
own tree's ``ailicia_core`` and makes one ``ApiClient.send_context`` call, the call
the delivery worker makes, against a :class:`~tests.support.hostile_server.HostileServer`
running here (so the server's memory is not counted):

- blocked time: how long that call takes against a trickle (headers, then a byte
  every 0.5 s). The server gives up after :data:`TRICKLE_LIFETIME_S`, so a client
  without a deadline shows that figure (it would otherwise wait forever);
- memory: the process's peak RSS during the call (``VmHWM``, reset just before it
  through ``/proc/self/clear_refs``) minus its RSS before, against a 600 MB
  ``Content-Length`` of zeros.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator

from hostile_server import HostileServer

from .common import REPO, Figure, Row, fmt_bytes, fmt_duration, fmt_ratio

#: The commit before the whole-request deadline and size cap (``main`` when that work started).
PREVIOUS = "1f28659"
#: How long the trickle server keeps trickling: the "previous" blocked time is this (it never stops itself).
TRICKLE_LIFETIME_S = 30.0
#: The whole-request deadline for a context request (ailicia_core/client.py READ_TIMEOUT_S).
DEADLINE_S = 10.0
RSS_TARGET_BYTES = 10 * 1024 * 1024

PROBE = r"""
import json, sys, time
from ailicia_core.client import ApiClient
from ailicia_core.errors import ApiError
from ailicia_core.settings import ApiKey

def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

client = ApiClient(base_url=sys.argv[1], api_key=ApiKey("sk-bench-0123456789"), channel="mychannel")
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # reset the peak (VmHWM) to the current RSS: imports must not hide the call's peak
before_kib = kib("VmRSS")
started = time.monotonic()
try:
    client.send_context("Scene 'Game' is on air", event_type="GAME_EVENT")
    outcome = "accepted"
except ApiError as exc:
    outcome = type(exc).__name__
blocked_s = time.monotonic() - started
peak_kib = kib("VmHWM")
client.close()
print(json.dumps({"blocked_s": blocked_s, "growth_bytes": (peak_kib - before_kib) * 1024, "outcome": outcome}))
"""


def probe(tree: Path, url: str, timeout_s: float) -> Dict:
    """One ``send_context`` against ``url`` in a fresh process that imports ``tree``'s ailicia_core."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=timeout_s, cwd=tree, env=env
    )
    if run.returncode != 0:
        raise RuntimeError(f"probe in {tree} failed: {run.stderr.strip()[-300:]}")
    return json.loads(run.stdout)


@contextlib.contextmanager
def previous_tree() -> Iterator[Path]:
    """A ``git worktree`` of :data:`PREVIOUS` under /tmp, removed on exit."""
    path = Path(tempfile.mkdtemp(prefix="ailicia-prev-")) / "tree"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), PREVIOUS],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)], capture_output=True, timeout=60
        )
        with contextlib.suppress(OSError):
            path.parent.rmdir()


def measure(tree: Path) -> Dict[str, Dict]:
    results = {}
    with HostileServer("trickle", lifetime_s=TRICKLE_LIFETIME_S) as server:
        results["trickle"] = probe(tree, server.url, TRICKLE_LIFETIME_S + 30)
    with HostileServer("huge", lifetime_s=120) as server:
        results["huge"] = probe(tree, server.url, 120)
        results["huge"]["server_sent_bytes"] = server.bytes_sent
    return results


def run() -> Figure:
    ours = measure(REPO)
    with previous_tree() as tree:
        before = measure(tree)
    figure = Figure("7", "Hostile servers (ours vs the previous commit)")
    mine, theirs = ours["trickle"], before["trickle"]
    figure.rows.append(
        Row(
            f"Hostile: worker blocked by one trickling answer (a byte per 0.5 s; naive column: commit {PREVIOUS}, "
            f"cut only by the server quitting at {TRICKLE_LIFETIME_S:.0f} s)",
            fmt_duration(mine["blocked_s"]),
            ("≥ " if theirs["blocked_s"] >= TRICKLE_LIFETIME_S - 1 else "") + fmt_duration(theirs["blocked_s"]),
            fmt_ratio(theirs["blocked_s"], mine["blocked_s"]),
            f"≤ {DEADLINE_S:.0f} s (the deadline)",
            mine["blocked_s"] <= DEADLINE_S + 0.5,
        )
    )
    mine, theirs = ours["huge"], before["huge"]
    figure.rows.append(
        Row(
            f"Hostile: peak RSS growth for a 600 MB body (naive column: commit {PREVIOUS})",
            fmt_bytes(mine["growth_bytes"]),
            fmt_bytes(theirs["growth_bytes"]),
            fmt_ratio(theirs["growth_bytes"], max(mine["growth_bytes"], 1024)),
            f"< {fmt_bytes(RSS_TARGET_BYTES)}",
            mine["growth_bytes"] < RSS_TARGET_BYTES,
        )
    )
    figure.notes.append(
        f"7: one ApiClient.send_context (the worker's call) per side, each in a fresh {sys.executable} process "
        f"importing only its tree; the previous side is a git worktree of {PREVIOUS} under /tmp, removed after. "
        f"Outcomes, ours: trickle {ours['trickle']['outcome']}, 600 MB {ours['huge']['outcome']}; previous: "
        f"trickle {before['trickle']['outcome']}, 600 MB {before['huge']['outcome']}. The server got "
        f"{fmt_bytes(ours['huge']['server_sent_bytes'])} out to ours before it hung up (socket buffers) and "
        f"{fmt_bytes(before['huge']['server_sent_bytes'])} to the previous one. "
        "RSS growth is the peak RSS during the call (VmHWM, reset just before it) minus the RSS before it, "
        "in KiB; a ratio against less than 1 KiB uses 1 KiB."
    )
    return figure
