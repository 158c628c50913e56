"""A wrong API key.

The first 401 pauses sending: a clear line in the OBS log, a bounded number of
requests whatever the streamer does next, the key never in the log, a clean exit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import Scenario, Traffic, ailicia_lines, distinctive_key, log_problems, memory_leaks, open_scenario
from obs_harness import SCENE_GAMEPLAY, SOURCE_MUSIC, TRIGGER_KEYS, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

MAX_REQUESTS = 3  # the join and the "stream started" context may both be under way when the first 401 lands


@pytest.fixture
def wrong_key(real_obs: None, tmp_path: Path) -> Scenario:
    # Live events off: with them on, the listener's 401 at load pauses sending before the stream starts
    # (that case is e2e/test_eventsub.py::test_a_wrong_key_is_refused_at_load_and_nothing_is_sent).
    settings = {"eventsub_enabled": False}
    with open_scenario(tmp_path, script_key=distinctive_key("wrong"), settings=settings) as scenario:
        yield scenario


def test_wrong_key_pauses_sending_with_a_clear_status(wrong_key: Scenario) -> None:
    obs, traffic = wrong_key.obs, Traffic(wrong_key.sandbox)
    obs.start_streaming()
    traffic.wait(lambda r: r.status == 401, what="a 401 for the wrong key")

    # Whatever the streamer does next must not reach the API.
    obs.switch_scene(SCENE_GAMEPLAY)
    obs.set_visible(SCENE_GAMEPLAY, "Game Capture", False)
    obs.set_visible(SCENE_GAMEPLAY, "Game Capture", True)
    obs.set_muted(SOURCE_MUSIC, True)
    obs.press_hotkey(TRIGGER_KEYS[1])
    obs.press_hotkey(TRIGGER_KEYS[2])
    obs.start_recording()
    obs.stop_recording()
    obs.stop_streaming()
    traffic.settle(quiet_s=1.5)

    requests = traffic.all()
    assert 1 <= len(requests) <= MAX_REQUESTS, traffic.describe()
    assert all(r.status == 401 and r.auth == "bad key" for r in requests), traffic.describe()
    status = wait_until(
        lambda: [line for line in ailicia_lines(obs.log_text()) if "rejected the API key" in line],
        10,
        "the status line about the rejected key in the OBS log",
    )
    print(f"{len(requests)} request(s) with the wrong key; log: {status[0]}")

    result = obs.quit()
    assert result.clean, result
    log = obs.log_text()
    assert not log_problems(log, wrong_key.secrets), log_problems(log, wrong_key.secrets)
    assert memory_leaks(log) == obs.expected_leaks
