"""Recovery in real OBS: an outage at stream start ends, and "Stream started" arrives within 2 s.

Seen in real OBS before: the join got its 200 0.4 s after the API came back, but the
context lane waited out its own backoff (13 s); the stream ended 9 s later and at
quit "Stream started" and "Stream ended" were reported as "could not be sent in
time", although the API had been answering for 9 s.

Two outages, each from before the stream starts until the lanes' backoffs have
grown past 2 s:

- the sandbox answers 503 to everything (``fail_first``), then is switched back;
- the sandbox is stopped (connections refused) and a new one starts on the same port.

Recovery is the moment just before the API could answer again (wall clock); the
delivery times are the sandbox's arrival times from its request log, never sleeps.
After recovery the stream stops and OBS quits: "Stream ended" and the leave go, and
nothing is reported as not sent.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from e2e_support import (
    Scenario,
    Traffic,
    ailicia_lines,
    context_with,
    describe,
    is_join,
    is_leave,
    log_problems,
    memory_leaks,
    open_scenario,
)
from obs_harness import wait_until

from ailicia_core.sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

#: After an outage ends, nothing vital waits longer than this.
VITAL_WITHIN_S = 2.0
#: Failed "Stream started" tries before recovery: the context lane's backoff is then 4-8 s.
FAILED_TRIES = 4
NOT_SENT = "could not be sent in time"

started = context_with("Stream started")
ended = context_with("Stream ended")


def finish(scenario: Scenario, sandbox: Sandbox) -> None:
    """Stop the stream, check "Stream ended" and the leave arrive, quit, check the log."""
    traffic = Traffic(sandbox)
    scenario.obs.stop_streaming()
    traffic.wait(lambda r: ended(r) and r.status == 200, timeout=10, what="'Stream ended', answered")
    traffic.wait(lambda r: is_leave(r) and r.status == 202, timeout=10, what="the leave, answered")
    result = scenario.obs.quit()
    assert result.exit_code == 0 and not result.killed, result
    log = scenario.obs.log_text()
    assert not log_problems(log, scenario.secrets), log_problems(log, scenario.secrets)
    assert not [line for line in ailicia_lines(log) if NOT_SENT in line]
    assert memory_leaks(log) == scenario.obs.expected_leaks


def assert_within_bound(sandbox: Sandbox, up_at: float, what: str) -> None:
    traffic = Traffic(sandbox)
    traffic.start = 0
    first_started = traffic.wait(lambda r: started(r) and r.status == 200, timeout=20, what="'Stream started'")[0]
    join = traffic.wait(lambda r: is_join(r) and r.status == 200, timeout=20, what="the join")[0]
    print(
        f"{what}: 'Stream started' {first_started.t - up_at:.2f} s and the join {join.t - up_at:.2f} s after recovery"
    )
    assert first_started.t - up_at <= VITAL_WITHIN_S, describe(sandbox.requests)
    assert join.t - up_at <= VITAL_WITHIN_S, describe(sandbox.requests)


@pytest.fixture
def failing_api(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, sandbox={"fail_first": 10**9}) as scenario:
        yield scenario


def test_after_a_503_outage_at_stream_start_stream_started_arrives_within_two_seconds(failing_api: Scenario) -> None:
    obs, sandbox = failing_api.obs, failing_api.sandbox
    traffic = Traffic(sandbox)
    obs.start_streaming()
    traffic.wait(lambda r: started(r) and r.status == 503, count=FAILED_TRIES, timeout=30, what="failed contexts")
    up_at = time.time()
    sandbox.set_faults(fail_first=0)
    assert_within_bound(sandbox, up_at, "503 outage")
    finish(failing_api, sandbox)


class RefusedApi:
    """OBS pointed at a sandbox stopped at once (its port then refuses); :meth:`come_back` starts another there."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.port = scenario.sandbox.port
        self.back: Optional[Sandbox] = None
        scenario.sandbox.stop()

    def come_back(self) -> Sandbox:
        config = self.scenario.sandbox.config
        self.back = Sandbox(
            SandboxConfig(port=self.port, api_keys=config.api_keys, quiet=True, generation_window_s=3.0)
        )
        return self.back.start()

    def diagnostics(self) -> str:
        after = describe(self.back.requests) if self.back is not None else "  (not back yet)"
        return f"{self.scenario.obs.diagnostics()}\n--- the sandbox that came back\n{after}"


@pytest.fixture
def refused_api(real_obs: None, tmp_path: Path) -> Iterator[RefusedApi]:
    with open_scenario(tmp_path) as scenario:
        refused = RefusedApi(scenario)
        try:
            yield refused
        finally:
            if refused.back is not None:
                refused.back.stop()


def test_after_a_refused_outage_at_stream_start_stream_started_arrives_within_two_seconds(
    refused_api: RefusedApi,
) -> None:
    obs = refused_api.scenario.obs
    obs.start_streaming()
    wait_until(
        lambda: sum("for the context" in line for line in ailicia_lines(obs.log_text())) >= FAILED_TRIES,
        30,
        "failed contexts in the log",
    )
    up_at = time.time()
    back = refused_api.come_back()
    assert_within_bound(back, up_at, "refused outage")
    finish(refused_api.scenario, back)
