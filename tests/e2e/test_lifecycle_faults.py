"""OBS lifecycle faults in real OBS: quitting while a join hangs, and 50 x Reload Scripts.

Each test starts its own OBS and sandbox. The same rows through the stand-in
obspython are in ``tests/glue/test_glue_lifecycle_faults.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_support import (
    Scenario,
    Traffic,
    ailicia_lines,
    context_with,
    describe,
    is_generation,
    is_join,
    is_leave,
    log_problems,
    memory_leaks,
    open_scenario,
)
from obs_harness import SCENE_GAMEPLAY, TRIGGER_KEYS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

JOIN_DELAY_S = 30.0  # the sandbox holds the join this long: far past the quit
QUIT_WITHIN_S = 3.0  # the bound from the quit to OBS's exit
RELOADS = 50
ITEM = "Game Capture"  # top level in Gameplay


def assert_clean_exit(scenario: Scenario, result) -> None:
    assert result.clean, result
    log = scenario.obs.log_text()
    assert not log_problems(log, scenario.secrets), log_problems(log, scenario.secrets)
    assert memory_leaks(log) == scenario.obs.expected_leaks, "more than OBS's own leaks: leaked references"


@pytest.fixture
def hanging_join(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, sandbox={"join_delay_s": JOIN_DELAY_S}) as scenario:
        yield scenario


def test_quitting_while_a_join_hangs_sends_the_leave_and_exits_in_time(hanging_join: Scenario) -> None:
    """The worker is stuck in the join; the shutdown courier sends the leave, and OBS exits in time."""
    obs, sandbox = hanging_join.obs, hanging_join.sandbox
    traffic = Traffic(sandbox)
    obs.start_streaming()
    assert sandbox.wait_for_in_flight(1, timeout=10), "the join never reached the sandbox"
    # The worker sends one request at a time, the join first: the context waits behind it.
    assert sandbox.in_flight == 1 and not traffic.all(), traffic.describe()

    result = obs.quit()
    print(f"quit with the join in flight: exit {result.exit_code} after {result.seconds:.2f} s")
    leaves = traffic.wait(is_leave, timeout=5, what="the leave (DELETE /v1/streams/mychannel)")
    assert [(r.status, r.auth) for r in leaves] == [(202, "auth ok")], traffic.describe()
    # The leave went out while the join still hung (the courier, not the worker after the join).
    assert not traffic.matching(is_join) and sandbox.in_flight == 1, traffic.describe()
    assert result.seconds < QUIT_WITHIN_S, result
    said = ailicia_lines(obs.log_text())
    assert any("asked to leave chat (OBS is closing)" in line for line in said), "\n".join(said)
    assert_clean_exit(hanging_join, result)


@pytest.fixture
def reloading(real_obs: None, tmp_path: Path) -> Scenario:
    # Live events off: each reload's listener would add its GET /v1/characters to the counted traffic
    # (50 reloads with the listener on: e2e/test_eventsub.py::test_fifty_reloads_leave_one_listener).
    with open_scenario(tmp_path, settings={"eventsub_enabled": False}) as scenario:
        yield scenario


def test_fifty_reloads_while_live_keep_one_request_per_event(reloading: Scenario) -> None:
    """50 x Reload Scripts while live (every script, as the Scripts tool's button does for each).

    Each reload loads an engine that finds the stream live and asks to join
    (ai_licia answers "already in chat"); none may leave. Afterwards a scene
    switch, a hotkey press and a visibility change give exactly one request each.
    """
    obs, sandbox = reloading.obs, reloading.sandbox
    going_live = Traffic(sandbox)
    obs.start_streaming()
    going_live.wait(is_join, what="a join after stream start")
    going_live.wait(context_with("Stream started"), what="context: stream started")
    going_live.settle(quiet_s=0.8)

    during = Traffic(sandbox)
    started = time.monotonic()
    for _ in range(RELOADS):
        obs.reload_scripts()
    elapsed = time.monotonic() - started
    during.settle(quiet_s=1.0)
    joins = during.matching(is_join)
    print(f"{RELOADS} x Reload Scripts: {elapsed:.1f} s ({elapsed / RELOADS * 1000:.0f} ms each), {len(joins)} joins")
    assert not during.matching(is_leave), "Reload Scripts made ai_licia leave a live stream:\n" + during.describe()
    assert len(joins) <= RELOADS, during.describe()
    assert all(is_join(r) and r.status == 200 for r in during.all()), "a reload is not an event:\n" + during.describe()
    assert obs.state()["streaming"]

    after = Traffic(sandbox)
    obs.switch_scene(SCENE_GAMEPLAY)
    obs.press_hotkey(TRIGGER_KEYS[1])
    obs.set_visible(SCENE_GAMEPLAY, ITEM, False)
    expected = {
        "scene switch": context_with("switched", SCENE_GAMEPLAY),
        "hotkey": is_generation,
        "hide": context_with(ITEM, "hidden"),
    }
    for what, predicate in expected.items():
        after.wait(predicate, what=what)
    after.settle(quiet_s=1.0)  # a second handler's request would arrive in this window
    counts = {what: len(after.matching(predicate)) for what, predicate in expected.items()}
    assert counts == dict.fromkeys(expected, 1), after.describe()
    assert len(after.all()) == len(expected), after.describe()

    quitting = Traffic(sandbox)
    result = obs.quit()
    # Only the engine loaded last is left to leave, and it leaves once.
    quitting.wait(is_leave, timeout=5, what="the leave at quit")
    assert len(quitting.matching(is_leave)) == 1, describe(quitting.all())
    assert_clean_exit(reloading, result)
