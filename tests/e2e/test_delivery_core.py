"""The delivery core in real OBS: its lanes and decisions, with the real script loaded.

- A silent first answer: the first join hangs (the sandbox's ``join_delay_s``, not a
  byte-trickle: the raw-socket trickle server is on another branch). The session goes on
  after the join's deadline: she is asked again, everything else arrives, OBS quits cleanly.
- An outage that starts with the join at stream start (the first joins answer 503, more
  than the old five tries): she joins once the API is back, while the stream stays live.
- A context 429 with a huge Retry-After, then a hotkey and a stream stop: only context
  waits (two minutes at most, said in the log); the reaction and the leave still go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import (
    Scenario,
    Traffic,
    ailicia_lines,
    content,
    is_context,
    is_generation,
    is_join,
    is_leave,
    log_problems,
    memory_leaks,
    open_scenario,
)
from obs_harness import SCENE_GAMEPLAY, TRIGGER_KEYS, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

#: The client's deadline for a join (client.JOIN_READ_TIMEOUT_S), plus slack for a loaded machine.
JOIN_DEADLINE_S = 15.0


def finish(scenario: Scenario) -> None:
    result = scenario.obs.quit()
    assert result.clean, result
    log = scenario.obs.log_text()
    assert not log_problems(log, scenario.secrets), log_problems(log, scenario.secrets)
    assert memory_leaks(log) == scenario.obs.expected_leaks


@pytest.fixture
def silent_first_join(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, sandbox={"join_delay_s": 60.0}) as scenario:
        yield scenario


def test_a_silent_first_answer_holds_nothing_past_its_deadline(silent_first_join: Scenario) -> None:
    obs, sandbox, traffic = silent_first_join.obs, silent_first_join.sandbox, Traffic(silent_first_join.sandbox)
    obs.start_streaming()
    assert sandbox.wait_for_in_flight(1, timeout=10), "the first join never reached the sandbox"
    sandbox.set_faults(join_delay_s=0.0)  # only the join already held stays silent
    obs.switch_scene(SCENE_GAMEPLAY)
    obs.press_hotkey(TRIGGER_KEYS[1])
    timeout = JOIN_DEADLINE_S + 20
    traffic.wait(lambda r: is_join(r) and r.status == 200, timeout=timeout, what="the join asked again, answered")
    traffic.wait(lambda r: is_context(r) and "Gameplay" in content(r), timeout=timeout, what="the scene context")
    traffic.wait(is_generation, timeout=timeout, what="the reaction")
    obs.stop_streaming()
    traffic.wait(is_leave, timeout=10, what="the leave")
    assert wait_until(
        lambda: any("did not answer the join in time" in line for line in ailicia_lines(obs.log_text())),
        5,
        "the join's timeout in the log",
    )
    finish(silent_first_join)


@pytest.fixture
def outage_at_start(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, sandbox={"join_fail_first": 6}) as scenario:
        yield scenario


def test_an_outage_that_starts_with_the_join_ends_with_her_in_chat(outage_at_start: Scenario) -> None:
    obs, traffic = outage_at_start.obs, Traffic(outage_at_start.sandbox)
    obs.start_streaming()
    joins = traffic.wait(lambda r: is_join(r) and r.status == 200, timeout=100, what="a join once the API is back")
    statuses = [r.status for r in traffic.matching(is_join)]
    assert statuses.count(503) == 6 and statuses[-1] == 200, traffic.describe()
    assert len(joins) == 1
    # The context lane was never held by the join's outage.
    starts = traffic.matching(lambda r: is_context(r) and "Stream started" in content(r))
    assert starts and starts[0].status == 200 and starts[0].t < joins[0].t, traffic.describe()
    lines = ailicia_lines(obs.log_text())
    assert any("for as long as the stream is live" in line for line in lines), lines[-10:]
    finish(outage_at_start)


@pytest.fixture
def context_limited(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, sandbox={"context_429_first": 1, "context_retry_after_s": 3600.0}) as scenario:
        yield scenario


def test_a_context_429_with_a_huge_retry_after_holds_only_context(context_limited: Scenario) -> None:
    obs, traffic = context_limited.obs, Traffic(context_limited.sandbox)
    obs.start_streaming()
    traffic.wait(lambda r: is_context(r) and r.status == 429, timeout=15, what="the context answered 429")
    obs.press_hotkey(TRIGGER_KEYS[1])
    traffic.wait(lambda r: is_generation(r) and r.status == 200, timeout=15, what="the reaction, not held")
    obs.stop_streaming()
    traffic.wait(lambda r: is_leave(r) and r.status == 202, timeout=15, what="the leave, not held")
    assert len(traffic.matching(lambda r: is_context(r))) == 1, "context waits out its lane's pause"
    lines = wait_until(
        lambda: [line for line in ailicia_lines(obs.log_text()) if "Context paused for 2 min" in line],
        5,
        "the context lane's pause named in the log",
    )
    assert "Too many reactions" not in obs.log_text(), lines
    finish(context_limited)
