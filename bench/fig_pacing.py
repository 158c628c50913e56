"""Figure 5: 20 hotkey presses in 10 s against an API that accepts one reaction per 3 s."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Dict, List, Tuple

from ailicia_core.events import TriggerPressed
from ailicia_core.pacing import SEPARATOR

from . import naive
from .common import GENERATION_PATH, Figure, Row, engine, fmt_duration, fmt_ratio, sandbox

PRESSES = 20
OVER_S = 10.0
WINDOW_S = 3.0
SLOTS = 5
PROMPTS = {slot: f"Bench reaction {slot}: react to what just happened" for slot in range(1, SLOTS + 1)}
DRAIN_TIMEOUT_S = 30.0
_SENT_LINE = re.compile(r"^Sent reaction(?: \((\d+) presses\))?:")


def press_times(started: float) -> List[float]:
    return [started + OVER_S * i / PRESSES for i in range(PRESSES)]


def slot_of(i: int) -> int:
    return i % SLOTS + 1


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def presses_logged(lines: List[str]) -> int:
    """Presses the worker says it delivered ("Sent reaction (3 presses): ...")."""
    total = 0
    for line in lines:
        match = _SENT_LINE.match(line)
        if match:
            total += int(match.group(1) or 1)
    return total


def accounted(presses: List[Tuple[float, str]], generations: List[Any]) -> int:
    """Presses whose prompt is in an accepted generation that arrived after the press."""
    accepted = [(r.t, r.body["data"]["content"].split(SEPARATOR)) for r in generations if r.status == 200]
    return sum(1 for at, prompt in presses if any(t >= at and prompt in parts for t, parts in accepted))


def measure_ours() -> Dict[str, Any]:
    log = logging.getLogger("ailicia")
    lines, saved_level = _Lines(), log.level
    log.addHandler(lines)
    log.setLevel(logging.INFO)
    try:
        with (
            sandbox(generation_window_s=WINDOW_S) as api,
            engine(
                api.url,
                generation_cooldown_s=int(WINDOW_S),
                **{f"trigger_{slot}_prompt": prompt for slot, prompt in PROMPTS.items()},
            ) as running,
        ):
            pressed = []
            for i, at in enumerate(press_times(time.time())):
                time.sleep(max(0.0, at - time.time()))
                pressed.append((time.time(), PROMPTS[slot_of(i)]))
                running.handle(TriggerPressed(slot=slot_of(i)))
            drained = running.wait_idle(DRAIN_TIMEOUT_S)
            generations = [r for r in api.requests if r.path == GENERATION_PATH]
    finally:
        log.removeHandler(lines)
        log.setLevel(saved_level)
    accepted = [r for r in generations if r.status == 200]
    return {
        "drained": drained,
        "sent": len(generations),
        "429": sum(1 for r in generations if r.status == 429),
        "accounted": accounted(pressed, generations),
        "logged": presses_logged(lines.lines),
        "drain_s": (accepted[-1].t - pressed[-1][0]) if accepted else float("nan"),
        "gaps": [b.t - a.t for a, b in zip(accepted, accepted[1:], strict=False)],
    }


def measure_naive(result: Dict[str, Any]) -> None:
    """Each press posts its reaction at once and waits; fills ``result``."""
    with sandbox(generation_window_s=WINDOW_S) as api:
        statuses = []
        for i, at in enumerate(press_times(time.time())):
            time.sleep(max(0.0, at - time.time()))
            statuses.append(naive.post_generation(api.url, PROMPTS[slot_of(i)]))
        generations = [r for r in api.requests if r.path == GENERATION_PATH]
    result.update(
        {
            "sent": len(generations),
            "429": sum(1 for r in generations if r.status == 429),
            # One request per press, never retried: a press counts only if its own request was accepted.
            "accounted": statuses.count(200),
        }
    )


def run() -> Figure:
    base: Dict[str, Any] = {}
    # The naive run has its own sandbox (its own window) and needs no CPU to speak of: it runs alongside.
    side = threading.Thread(target=measure_naive, args=(base,), name="bench-naive-pacing")
    side.start()
    try:
        ours = measure_ours()
    finally:
        side.join()
    figure = Figure(
        "5", f"Pacing: {PRESSES} presses in {OVER_S:g} s, API window {WINDOW_S:g} s, cooldown {WINDOW_S:g} s"
    )
    figure.rows.append(
        Row(
            f"Pacing: 429s received ({PRESSES} presses in {OVER_S:g} s; sent: {ours['sent']} vs {base['sent']})",
            str(ours["429"]),
            str(base["429"]),
            "—",
            "0",
            ours["429"] == 0,
        )
    )
    figure.rows.append(
        Row(
            "Pacing: presses accounted for in accepted reactions",
            f"{ours['accounted']}/{PRESSES}",
            f"{base['accounted']}/{PRESSES}",
            fmt_ratio(base["accounted"], ours["accounted"]),
            f"{PRESSES}/{PRESSES}",
            ours["accounted"] == PRESSES and ours["logged"] == PRESSES,
        )
    )
    figure.rows.append(
        Row(
            "Pacing: time to drain, last press → last reaction arrives (naive: nothing waits, 429s are lost)",
            fmt_duration(ours["drain_s"]),
            "0 s",
            "—",
        )
    )
    gaps = ", ".join(f"{g:.2f}" for g in ours["gaps"])
    figure.notes.append(
        f"5: ours sent {ours['sent']} reactions, merged, seconds apart: {gaps}; the worker's log counts "
        f"{ours['logged']} presses delivered; a press counts as accounted for when its prompt is in an accepted "
        f"reaction that arrived after it (naive: when its own post was accepted). Slots 1–{SLOTS} in turn, one "
        f"press every {OVER_S / PRESSES:g} s. The naive run, on its own sandbox, ran at the same time."
    )
    return figure
