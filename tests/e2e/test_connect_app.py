"""Connect with ai_licia in real OBS: press the button against the sandbox's app, then go live.

The script starts with no key and no channel. The button (pressed on OBS's UI
thread, as the Scripts window does) asks the sandbox's stand-in for the ai_licia
app; the grant is saved by the script's OBS timer and tested at once; going live
then joins and sends context with the granted key, and the key appears nowhere in
the OBS log, in any letter case.

OBS embeds /usr/bin/python3, which has no websocket-client: the test puts a copy
of the venv's (pure Python) package on OBS's PYTHONPATH, as the release zip
vendors it next to the script.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import websocket
from e2e_support import CHANNEL, Traffic, ailicia_lines, is_context, is_join, log_problems, open_scenario
from obs_harness import COLLECTION_A, wait_until

from ailicia_core.sandbox.dashboard import Dashboard, DashboardConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CONNECTED = f"Connected as {CHANNEL} via the ai_licia app."


@pytest.fixture
def unconnected(real_obs: None, tmp_path: Path):
    """OBS with no key and no channel, and the sandbox's ai_licia app granting the sandbox's key."""
    vendor = tmp_path / "vendor"
    shutil.copytree(
        Path(websocket.__file__).parent, vendor / "websocket", ignore=shutil.ignore_patterns("__pycache__", "tests")
    )
    app = Dashboard(DashboardConfig(port=0, quiet=True, channel=CHANNEL.upper(), grant_delay_s=0.2))
    app.start()
    try:
        with open_scenario(
            tmp_path, settings={"api_key": "", "channel": "", "dashboard_ws_port": app.port}, python_path=[str(vendor)]
        ) as scenario:
            app.set_fault("", api_key=scenario.api_key)  # the sandbox's key, unknown to OBS until granted
            yield scenario, app
    finally:
        app.stop()


def test_connect_then_go_live_uses_the_granted_key(unconnected) -> None:
    scenario, app = unconnected
    obs, traffic = scenario.obs, Traffic(scenario.sandbox)
    assert not traffic.all(), "with no key the script sends nothing"

    pressed = obs.click_button("ailicia_obs", "ailicia_connect_app")
    assert pressed == {"found": True, "refresh": True}, pressed
    assert app.wait_for("request_access", timeout=10.0), app.received
    assert [kind for kind, _ in app.received] == ["hello", "request_access"]
    assert app.received[0][1]["clientId"] == "ailicia-obs"

    # The connection test runs at once, with the granted key.
    tests = traffic.wait(lambda r: r.path == "/v1/characters", what="the connection test after the grant")
    assert tests[0].auth == "auth ok" and tests[0].status == 200, traffic.describe()
    wait_until(
        lambda: any(CONNECTED in line for line in ailicia_lines(obs.log_text())),
        10,
        "the 'Connected as' line in the OBS log",
    )

    obs.start_streaming()
    joins = traffic.wait(is_join, what="the join when going live")
    contexts = traffic.wait(is_context, what="the 'stream started' context")
    assert all(r.auth == "auth ok" and r.status == 200 for r in joins + contexts), traffic.describe()
    obs.stop_streaming()
    traffic.settle(quiet_s=1.0)

    result = obs.quit()
    assert result.clean, result
    log = obs.log_text()
    assert not log_problems(log, scenario.secrets), log_problems(log, scenario.secrets)
    assert scenario.api_key.lower() not in log.lower()
    assert scenario.api_key.upper() not in log.upper()

    # OBS saved what the timer wrote into the script's settings in the scene collection.
    saved = json.loads((obs.config_dir / "basic" / "scenes" / f"{COLLECTION_A}.json").read_text())
    ours = [m for m in saved["modules"]["scripts-tool"] if m["path"].endswith("ailicia_obs.py")]
    assert ours[0]["settings"]["channel"] == CHANNEL
    assert ours[0]["settings"]["api_key"] == scenario.api_key
