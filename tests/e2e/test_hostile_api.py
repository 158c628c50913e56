"""A hostile API in real OBS: the first answer trickles (headers, then a byte every 0.5 s, forever).

The API is :class:`~tests.support.hostile_server.HostileServer` in trickle mode for
everything but the leave, which it answers normally. Before the whole-request
deadline, the worker stayed in such an answer for good: OBS quit with it still
reading, and every Reload Scripts left one more stuck thread and open connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from e2e_support import JOIN_PATH, ailicia_settings, distinctive_key, log_problems, memory_leaks
from obs_harness import ObsSession, trigger_hotkey_settings

from tests.support.hostile_server import HostileServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

QUIT_WITHIN_S = 3.0  # the bound from the quit to OBS's exit
RELOADS = 5


class TricklingApi:
    """OBS with ailicia_obs.py pointed at a trickling API."""

    def __init__(self, workdir: Path) -> None:
        self.api_key = distinctive_key()
        self.server = HostileServer("trickle", routes={("DELETE", JOIN_PATH): "ok"}, lifetime_s=110).start()
        self.obs = ObsSession(
            workdir, ailicia_settings={**ailicia_settings(self.server.url, self.api_key), **trigger_hotkey_settings()}
        )

    def diagnostics(self) -> str:
        requests = "\n".join(f"  {r.method} {r.path}" for r in self.server.requests) or "  (none)"
        return f"{self.obs.diagnostics()}\n--- hostile server requests\n{requests}"

    def close(self) -> None:
        try:
            self.obs.close()
        finally:
            self.server.stop()
        assert not self.obs.problems, f"{self.obs.problems}\n{self.obs.diagnostics()}"


@pytest.fixture
def trickling(real_obs: None, tmp_path: Path) -> Iterator[TricklingApi]:
    scenario = TricklingApi(tmp_path)
    try:
        scenario.obs.start()
        yield scenario
    finally:
        scenario.close()


def joins(server: HostileServer) -> int:
    return sum(r.method == "POST" and r.path == JOIN_PATH for r in server.requests)


def test_quitting_while_the_first_answer_trickles_sends_the_leave_and_exits_in_time(trickling: TricklingApi) -> None:
    obs, server = trickling.obs, trickling.server
    obs.start_streaming()
    assert server.wait_for(lambda s: joins(s) >= 1 and s.trickled >= 1, timeout=15), "the join never trickled"

    result = obs.quit()
    print(f"quit with a trickling join: exit {result.exit_code} after {result.seconds:.2f} s")
    assert result.clean, result
    assert result.seconds < QUIT_WITHIN_S, result
    assert server.wait_for(lambda s: any(r.method == "DELETE" for r in s.requests), timeout=5), "no leave"
    assert server.wait_for(lambda s: s.open_connections == 0, timeout=5), "OBS left a connection open"
    log = obs.log_text()
    assert not log_problems(log, [trickling.api_key]), log_problems(log, [trickling.api_key])
    assert memory_leaks(log) == obs.expected_leaks


def test_reload_scripts_during_a_trickle_leaves_no_connection_behind(trickling: TricklingApi) -> None:
    obs, server = trickling.obs, trickling.server
    obs.start_streaming()
    assert server.wait_for(lambda s: joins(s) >= 1 and s.trickled >= 1, timeout=15), "the join never trickled"
    for reload in range(RELOADS):
        obs.reload_scripts()
        # The reloaded script asks to join again (the stream is live); the old one's request is cut at unload.
        assert server.wait_for(lambda s, n=reload + 2: joins(s) >= n, timeout=15), f"reload {reload}: no join"
        assert server.wait_for(lambda s: s.open_connections <= 1, timeout=5), (
            f"reload {reload}: {server.open_connections} connections still open"
        )
    result = obs.quit()
    assert result.clean, result
    assert server.wait_for(lambda s: s.open_connections == 0, timeout=5), "OBS left a connection open"
    assert not log_problems(obs.log_text(), [trickling.api_key])
