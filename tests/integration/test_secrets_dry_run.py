"""The key is masked from the moment settings hold it: in dry run with live events off too.

In that mode no API client with the key and no listener ever starts, so nothing but
the settings can register it. The key is typed into the channel box (it fits a
Twitch login once lowercased) and into manual context, in other letter cases; then
the Script Log (``Dry run: would send …``), the activity feed, the panel's status,
the dock's state and its event stream are searched for it, in any letter case.
"""

from __future__ import annotations

import http.client
import json
import logging
from typing import Iterator, List

import pytest

from ailicia_core import events as ev
from ailicia_core import logsafe
from ailicia_core.engine import Engine
from tests.support.dock_fixtures import TOKEN, WAIT_S, serving

#: A key that is also a valid channel name once lowercased (letters, digits, _; at most 25).
KEY = "Sk_Dry_9fK2mQ7xR4zPw"


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing registered before: only the settings can register the key here.
    monkeypatch.setattr(logsafe, "_registry", logsafe.SecretRegistry())


@pytest.fixture
def engine(fresh_registry: None) -> Iterator[Engine]:
    engine = Engine(
        {
            "api_key": KEY,
            "channel": KEY,  # the key pasted in the channel box: it becomes the lowercased channel
            "api_base_url": "http://127.0.0.1:9",  # never asked: a dry run sends nothing
            "dry_run": True,
            "eventsub_enabled": False,
            "only_when_live": False,
            "scene_debounce_ms": 0,
        }
    )
    yield engine
    engine.shutdown(timeout=2.0)


def assert_no_key(text: str, where: str) -> None:
    folded = text.casefold()
    for start in range(len(KEY) - logsafe.PIECE_CHARS + 1):
        piece = KEY[start : start + logsafe.PIECE_CHARS].casefold()
        assert piece not in folded, f"a piece of the key ({piece!r}) is in the {where}: {text!r}"


def read_events(port: int, until_activity: int) -> List[str]:
    """The event stream's raw lines, until ``until_activity`` feed entries arrived."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    conn.request("GET", f"/api/events?token={TOKEN}")
    answer = conn.getresponse()
    lines: List[str] = []
    seen = 0
    try:
        while seen < until_activity:
            line = answer.fp.readline().decode("ascii")
            assert line, "the event stream ended"
            lines.append(line)
            if line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                seen += len(data) if isinstance(data, list) else len(data.get("activity", ()))
    finally:
        conn.close()
    return lines


def test_in_dry_run_with_live_events_off_the_key_is_on_no_surface(engine, caplog):
    caplog.set_level(logging.DEBUG, logger="ailicia")
    with serving(engine) as dock:
        engine.handle(ev.ManualContext(text=f"my key is {KEY.upper()} and {KEY.lower()}"))
        engine.handle(ev.ManualGeneration(text=f"say {KEY.swapcase()}"))
        engine.join_now()
        engine.handle(ev.SceneSwitched(scene=f"Scene {KEY}"))
        assert engine.wait_idle(WAIT_S)
        entries, _ = engine.activity.since(0)
        stream = read_events(dock.port, until_activity=len(entries))
        conn = http.client.HTTPConnection("127.0.0.1", dock.port, timeout=WAIT_S)
        conn.request("GET", f"/api/state?token={TOKEN}")
        state = conn.getresponse().read().decode("ascii")
        conn.close()

    log = [caplog.handler.format(record) for record in caplog.records]
    assert any("Dry run: would send" in line for line in log)  # the surface was exercised
    assert len(entries) >= 3
    for line in log:
        assert_no_key(line, "Script Log")
    for entry in entries:
        assert_no_key(json.dumps(entry.__dict__, default=str), "activity feed")
    assert_no_key(engine.status_text(), "panel status")
    assert_no_key(state, "dock state")
    assert_no_key("".join(stream), "dock event stream")
