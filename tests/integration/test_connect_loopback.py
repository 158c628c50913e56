"""Connect with ai_licia over real loopback sockets: the sandbox's dashboard and each of its fault switches."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ailicia_core import connect as c
from ailicia_core.connect_runner import ConnectRunner
from ailicia_core.engine import Engine
from ailicia_core.sandbox import Sandbox, SandboxConfig
from ailicia_core.sandbox.dashboard import Dashboard, DashboardConfig, accept_key, serve

WAIT_S = 10.0
KEY = "sk-Loopback-Granted-abcdef012345"
#: The glue's unload budget: stop must end the flow within it, even mid-wait.
SHUTDOWN_TIMEOUT_S = 1.4


@pytest.fixture
def dashboard():
    app = serve(api_key=KEY, channel="mychannel", grant_delay_s=0.05)
    yield app
    app.stop()


@pytest.fixture
def runner():
    flows = ConnectRunner(wait_s=WAIT_S)
    yield flows
    assert flows.stop(SHUTDOWN_TIMEOUT_S)


def run(runner, dashboard):
    assert runner.start(dashboard.port)
    state = runner.wait(WAIT_S + 5)
    assert not state.running
    return state


def test_accept_key_matches_rfc_6455_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_granted_gives_key_and_channel(runner, dashboard):
    state = run(runner, dashboard)
    assert (state.phase, state.channel) == (c.GRANTED, "mychannel")
    grant = runner.take_grant()
    assert grant.api_key.reveal() == KEY
    kinds = [kind for kind, _ in dashboard.received]
    assert kinds == ["hello", "request_access"]
    hello = dashboard.received[0][1]
    assert hello["clientType"] == "integration" and hello["clientId"] == "ailicia-obs"
    assert dashboard.received[1][1]["requestedScopes"] == ["rest.full"]


@pytest.mark.parametrize("reason", ["user_denied", "timeout", "not_ready"])
def test_deny(runner, dashboard, reason):
    dashboard.set_fault("deny", deny_reason=reason)
    state = run(runner, dashboard)
    assert (state.outcome, state.detail) == (c.DENIED, reason)
    assert runner.take_grant() is None


def test_signed_out_never_asks(runner, dashboard):
    dashboard.set_fault("signed_out")
    assert run(runner, dashboard).outcome == c.SIGNED_OUT
    assert [kind for kind, _ in dashboard.received] == ["hello"]


def test_rate_limited(runner, dashboard):
    dashboard.set_fault("rate_limited")
    state = run(runner, dashboard)
    assert (state.outcome, state.detail) == (c.APP_ERROR, "rate_limited")


def test_drop_mid_flow(runner, dashboard):
    dashboard.set_fault("drop")
    assert run(runner, dashboard).outcome == c.DROPPED


def test_no_answer_ends_at_the_stated_wait():
    with Dashboard(DashboardConfig(port=0, quiet=True, fault="no_answer")) as app:
        flows = ConnectRunner(wait_s=0.5)
        flows.start(app.port)
        state = flows.wait(WAIT_S)
        assert (state.outcome, state.wait_s) == (c.TIMED_OUT, 0.5)
        assert flows.stop(SHUTDOWN_TIMEOUT_S)


def test_a_second_request_while_one_waits_is_request_pending(dashboard):
    dashboard.set_fault("no_answer")
    first, second = ConnectRunner(wait_s=WAIT_S), ConnectRunner(wait_s=WAIT_S)
    try:
        first.start(dashboard.port)
        assert first.wait(WAIT_S, until=lambda s: s.phase == c.PENDING).phase == c.PENDING
        second.start(dashboard.port)
        state = second.wait(WAIT_S)
        assert (state.outcome, state.detail) == (c.APP_ERROR, "request_pending")
    finally:
        assert first.stop(SHUTDOWN_TIMEOUT_S) and second.stop(SHUTDOWN_TIMEOUT_S)


def test_stop_mid_wait_closes_the_socket_within_the_unload_budget(dashboard):
    dashboard.set_fault("no_answer")
    flows = ConnectRunner()  # the real 2-minute wait
    flows.start(dashboard.port)
    assert flows.wait(WAIT_S, until=lambda s: s.phase == c.PENDING).phase == c.PENDING
    assert flows.stop(SHUTDOWN_TIMEOUT_S), "the runner's thread outlived the unload budget"
    assert flows.state().outcome == c.STOPPED
    assert not any(t.name == "ailicia-connect" and t.is_alive() for t in threading.enumerate())


def test_nothing_listening_is_no_app(runner):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner.start(port)
    assert runner.wait(WAIT_S).outcome == c.NO_APP


def test_an_http_server_on_the_port_is_not_the_app(runner):
    with Sandbox(SandboxConfig(port=0, quiet=True)) as api:
        runner.start(api.port)
        assert runner.wait(WAIT_S).outcome == c.NOT_THE_APP


def test_dashboard_stop_ends_its_threads_and_port():
    app = Dashboard(DashboardConfig(port=0, quiet=True, fault="no_answer")).start()
    flows = ConnectRunner(wait_s=WAIT_S)
    flows.start(app.port)
    assert flows.wait(WAIT_S, until=lambda s: s.phase == c.PENDING).phase == c.PENDING
    port = app.port
    app.stop(timeout=SHUTDOWN_TIMEOUT_S)
    assert flows.wait(WAIT_S).outcome == c.DROPPED
    assert flows.stop(SHUTDOWN_TIMEOUT_S)
    assert not any(t.name.startswith("ailicia-sandbox-dashboard") and t.is_alive() for t in threading.enumerate())
    with socket.socket() as again, pytest.raises(ConnectionRefusedError):
        again.connect(("127.0.0.1", port))  # nothing listens there any more


def test_engine_connects_then_uses_the_granted_key(dashboard):
    with Sandbox(SandboxConfig(port=0, quiet=True, api_keys=(KEY,))) as api:
        engine = Engine({"api_base_url": api.url, "dashboard_ws_port": dashboard.port})
        try:
            assert "Paste your ai_licia API key" in engine.status_text()
            assert engine.connect_with_app()
            assert engine.connector.wait(WAIT_S).phase == c.GRANTED
            grant = engine.take_connect_grant()
            engine.reconfigure({"api_base_url": api.url, "api_key": grant.api_key.reveal(), "channel": grant.channel})
            engine.test_connection()
            assert engine.wait_idle(WAIT_S)
            assert api.wait_for(lambda reqs: any(r.path == "/v1/characters" and r.status == 200 for r in reqs), WAIT_S)
            text = engine.status_text()
            assert text.splitlines()[0] == "Connected as mychannel via the ai_licia app."
            assert KEY.lower() not in text.lower()
        finally:
            engine.shutdown(SHUTDOWN_TIMEOUT_S)


def test_the_connected_line_goes_once_the_channel_is_changed_by_hand(dashboard):
    engine = Engine({"dashboard_ws_port": dashboard.port}, start=False)
    try:
        engine.connect_with_app()
        grant = engine.connector.wait(WAIT_S) and engine.take_connect_grant()
        engine.reconfigure({"api_key": grant.api_key.reveal(), "channel": grant.channel})
        assert engine.status().app_connect == "Connected as mychannel via the ai_licia app."
        engine.reconfigure({"api_key": "pasted-by-hand-key", "channel": "otherchannel"})
        assert engine.status().app_connect == ""
    finally:
        engine.shutdown(SHUTDOWN_TIMEOUT_S)


@pytest.mark.skipif(sys.platform == "win32", reason="sends POSIX signals to a child process")
def test_sandbox_command_line_plays_the_app_with_dashboard(tmp_path):
    root = Path(__file__).resolve().parents[2]
    command = [
        sys.executable,
        "-m",
        "ailicia_core",
        "sandbox",
        "--port",
        "0",
        "--dashboard",
        "--dashboard-port",
        "0",
        "--api-key",
        KEY,
        "--dashboard-fault",
        "deny",
        "--deny-reason",
        "timeout",
    ]
    proc = subprocess.Popen(
        command,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        port = None
        while port is None:
            found = re.search(r"listens on ws://127\.0\.0\.1:(\d+)", lines.get(timeout=WAIT_S))
            port = int(found.group(1)) if found else None
        flows = ConnectRunner(wait_s=WAIT_S)
        flows.start(port)
        assert (flows.wait(WAIT_S).outcome, flows.state().detail) == (c.DENIED, "timeout")
        assert flows.stop(SHUTDOWN_TIMEOUT_S)
        proc.send_signal(signal.SIGINT)  # to the child's pid only
        assert proc.wait(timeout=WAIT_S) == 0
        reader.join(WAIT_S)
        printed = []
        while not lines.empty():
            printed.append(lines.get())
        assert any("dashboard: denied (timeout)" in line for line in printed), printed
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()  # only the child this test started
            proc.wait(timeout=WAIT_S)
        proc.stdout.close()
        proc.stderr.close()
