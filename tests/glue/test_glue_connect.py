"""Connect with ai_licia in the panel: the button, the grant saved only from an OBS timer, words for failures."""

import socket
import threading

import pytest
from conftest import BASE, KEY, boot, calls

from ailicia_core.sandbox.dashboard import serve

WAIT_S = 10.0


@pytest.fixture
def dashboard():
    app = serve(api_key=KEY, channel="MyChannel", grant_delay_s=0.05)
    yield app
    app.stop()


def grant_writes(fake):
    """The settings writes of the connect flow (script_load also writes a first dock token)."""
    return [(name, thread) for name, thread in fake.data_writes if name in ("api_key", "channel")]


def finish(script) -> None:
    """Wait (bounded) until the engine's connect runner has its answer; no OBS call happens meanwhile."""
    assert not script.engine.connector.wait(WAIT_S).running


def test_button_sits_first_in_the_connection_group(fake, script, dashboard):
    boot(fake, script, dashboard_ws_port=dashboard.port)
    props = script.properties()
    button = props.find("ailicia_connect_app")
    assert button.kind == "button" and button.description == "Connect with ai_licia"
    assert button.parent.props[0] is button


def test_grant_is_saved_from_an_obs_timer_then_tested(fake, script, dashboard, api):
    boot(fake, script, dashboard_ws_port=dashboard.port)
    script.properties()
    assert "Paste your ai_licia API key" in script.status()
    assert script.click("ailicia_connect_app") is True
    finish(script)
    # The runner's thread has the grant, but only OBS may write the settings: nothing yet.
    assert grant_writes(fake) == []
    assert script.data.values.get("api_key", "") == ""
    fake.tick_timers()
    assert [name for name, _ in grant_writes(fake)] == ["api_key", "channel"]
    assert {thread for _, thread in grant_writes(fake)} == {threading.main_thread().name}
    assert script.data.values["api_key"] == KEY
    assert script.data.values["channel"] == "mychannel"
    assert script.engine.settings.is_configured
    script.settle()
    tests = [c for c in calls(api) if c.method == "GET" and c.path == "/v1/characters"]
    assert len(tests) == 1, "a connection test runs at once"
    assert api.calls[-1].request.headers["Authorization"] == f"Bearer {KEY}"
    assert api.calls[-1].request.url.startswith(BASE)
    script.click("ailicia_refresh_status")
    assert "Connected as mychannel via the ai_licia app." in script.status()
    everything = "\n".join(fake.log_lines()) + script.status()
    assert KEY.lower() not in everything.lower()
    assert "Connected as mychannel via the ai_licia app." in fake.log_lines()


def test_pressing_twice_opens_one_request(fake, script, dashboard):
    dashboard.set_fault("no_answer")
    boot(fake, script, dashboard_ws_port=dashboard.port)
    script.properties()
    script.click("ailicia_connect_app")
    assert script.engine.connector.wait(WAIT_S, until=lambda state: state.phase == "pending").phase == "pending"
    script.click("ailicia_connect_app")
    script.click("ailicia_connect_app")
    assert [kind for kind, _ in dashboard.received] == ["hello", "request_access"]
    assert "click Allow in the ai_licia app (waiting up to 2 min)" in script.status()
    script.unload()  # mid-wait: the runner's socket closes and its thread ends
    assert not any(t.name == "ailicia-connect" and t.is_alive() for t in threading.enumerate())


def test_denied_has_words_and_writes_nothing(fake, script, dashboard):
    dashboard.set_fault("deny")
    boot(fake, script, dashboard_ws_port=dashboard.port)
    script.properties()
    script.click("ailicia_connect_app")
    finish(script)
    fake.tick_timers()
    assert grant_writes(fake) == []
    script.click("ailicia_refresh_status")
    words = "You declined in the ai_licia app; nothing was changed. Click again to allow it."
    assert words in script.status()
    assert words in fake.log_lines()


def test_no_app_listening_says_open_the_app(fake, script):
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    boot(fake, script, dashboard_ws_port=port)
    script.properties()
    script.click("ailicia_connect_app")
    finish(script)
    fake.tick_timers()
    script.click("ailicia_refresh_status")
    assert "Open the ai_licia app on this computer and sign in, then click again." in script.status()


def test_without_websocket_client_the_button_says_so(fake, script, dashboard, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_websocket(name, *args, **kwargs):
        if name == "websocket":
            raise ImportError("No module named 'websocket'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_websocket)
    boot(fake, script, dashboard_ws_port=dashboard.port)
    script.properties()
    script.click("ailicia_connect_app")
    finish(script)
    fake.tick_timers()
    script.click("ailicia_refresh_status")
    assert "needs the Python package websocket-client, which is not installed" in script.status()
    assert dashboard.received == []
