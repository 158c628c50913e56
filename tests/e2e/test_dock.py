"""The live dock in real OBS: it answers while OBS runs, steers the engine, and is gone after quit."""

from __future__ import annotations

import json
import secrets
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from e2e_support import TRIGGER_PROMPTS, Traffic, content, is_generation, log_problems, open_scenario
from obs_harness import SCENE_GAMEPLAY, free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def docked(real_obs: None, tmp_path: Path):
    port, token = free_port(), secrets.token_urlsafe(24)
    settings = {"dock_port": port, "dock_token": token, "only_when_live": False, "scene_debounce_ms": 0}
    with open_scenario(tmp_path, settings=settings) as scenario:
        yield scenario, port, token


def dock_state(port: int, token: str):
    """The dock's /api/state, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state?token={token}", timeout=5.0) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, ConnectionError):
        return None


def press(port: int, token: str, name: str, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/control/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Ailicia-Token": token},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_dock_answers_while_obs_runs_and_is_gone_after_quit(docked) -> None:
    scenario, port, token = docked
    obs, traffic = scenario.obs, Traffic(scenario.sandbox)
    assert wait_until(lambda: dock_state(port, token), 15, "the dock to answer")["status"]["live"] is False

    obs.switch_scene(SCENE_GAMEPLAY)
    wait_until(
        lambda: any("'Gameplay'" in e["content"] for e in (dock_state(port, token) or {}).get("activity", [])),
        15,
        "the scene switch in the dock's feed",
    )
    assert press(port, token, "trigger", {"slot": 1}) == 200
    generation = traffic.wait(is_generation, what="the reaction fired from the dock")[0]
    assert content(generation) == TRIGGER_PROMPTS[1]
    assert press(port, "not-the-token", "trigger", {"slot": 2}) == 403

    result = obs.quit()
    assert result.clean, result
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2.0).close()
    log = obs.log_text()
    assert not log_problems(log, [*scenario.secrets, token]), log_problems(log, [*scenario.secrets, token])
