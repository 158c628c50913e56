"""The live dock through the glue: its token, its addresses in the panel, its server's lifecycle.

The dock server is real (loopback, a free port); the API is mocked by ``responses``,
which the dock's own HTTP (read here with ``urllib``) never goes through.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

from conftest import READY, boot

from tests.support.waiting import wait_for

DOCK_THREAD = "ailicia-dock"
RELOADS = 50
WAIT_S = 10.0


def dock_threads():
    return [t for t in threading.enumerate() if t.name == DOCK_THREAD and t.is_alive()]


def get(url):
    """(HTTP status, body) of a GET, or (None, None) when nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=5.0) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
    except (urllib.error.URLError, ConnectionError):
        return None, None


def dock_url(script, page="/api/state"):
    return script.data.values["ailicia_dock_url"].replace("/dock?", f"{page}?")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_first_load_makes_a_token_and_keeps_it_across_reloads(fake, script):
    boot(fake, script, **READY)
    token = script.data.values["dock_token"]
    assert len(token) >= 32
    script.reload()
    assert script.data.values["dock_token"] == token


def test_the_panel_shows_the_dock_and_overlay_addresses_and_the_dock_answers(fake, script):
    boot(fake, script, **READY)
    port = script.glue.dock.port
    token = script.data.values["dock_token"]
    assert script.data.values["ailicia_dock_url"] == f"http://127.0.0.1:{port}/dock?token={token}"
    assert script.data.values["ailicia_overlay_url"] == f"http://127.0.0.1:{port}/overlay?token={token}"
    props = script.properties()
    group = props.find("ailicia_dock")
    names = [p.name for p in group.extra["content"].props]
    assert names == ["ailicia_dock_url", "ailicia_overlay_url", "ailicia_dock_help", "ailicia_new_dock_token"]
    assert f"(port {port})" in script.status()
    status, body = get(dock_url(script))
    assert status == 200
    assert json.loads(body)["status"]["live"] is False
    assert READY["api_key"].encode() not in body


def test_unloading_stops_the_dock_and_frees_its_port(fake, script):
    boot(fake, script, **READY)
    url = dock_url(script)
    assert get(url)[0] == 200
    script.unload()
    assert get(url) == (None, None)
    assert dock_threads() == []


def test_fifty_reloads_leave_one_dock_server(fake, script):
    boot(fake, script, **READY)
    urls = []
    for cycle in range(1, RELOADS + 1):
        urls.append(dock_url(script))
        script.reload()
        assert len(dock_threads()) == 1, f"after reload {cycle}"
    assert get(dock_url(script))[0] == 200
    assert all(get(url) == (None, None) for url in urls[-3:])  # the previous servers are gone


def test_a_port_in_use_is_shown_in_the_panel_with_the_fix(fake, script):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        boot(fake, script, **READY, dock_port=port)
        script.properties()
        # The bind is tried again for a moment (a previous load may still hold the port), off the OBS thread.
        assert f"Dock starting on port {port}" in script.status()
        assert script.engine is not None  # the rest of the script runs as usual
        in_use = f"Port {port} is in use by another program: change dock_port in Advanced."
        assert wait_for(lambda: in_use in script.glue.status_text(), WAIT_S)
        script.properties()
        assert in_use in script.status()
        fake.tick_timers()  # the Script Log lines of other threads go out on an OBS timer
        assert any(f"Port {port} is in use" in line for line in fake.log_lines())
        assert not script.glue.dock.server.running
    finally:
        taken.close()
    assert dock_threads() == []


def test_new_dock_address_makes_old_addresses_stop_working(fake, script):
    boot(fake, script, **READY)
    old_url, old_token = dock_url(script), script.data.values["dock_token"]
    script.properties()
    assert script.click("ailicia_new_dock_token") is True
    new_token = script.data.values["dock_token"]
    assert new_token != old_token and len(new_token) >= 32
    assert get(old_url)[0] == 403
    assert get(dock_url(script))[0] == 200


def test_changing_the_port_moves_the_dock(fake, script):
    boot(fake, script, **READY)
    old_url = dock_url(script)
    port = free_port()
    script.update(dock_port=port)
    assert script.glue.dock.port == port
    assert get(old_url) == (None, None)
    assert get(dock_url(script))[0] == 200
    assert len(dock_threads()) == 1


def test_a_switched_off_dock_serves_nothing_and_says_so(fake, script):
    boot(fake, script, **READY, dock_enabled=False)
    script.properties()
    assert "Dock switched off" in script.status()
    assert dock_threads() == []
    script.update(dock_enabled=True)
    assert len(dock_threads()) == 1
    assert get(dock_url(script))[0] == 200


def test_a_dock_that_cannot_start_is_reported_and_the_rest_runs(fake, script, monkeypatch):
    boot(fake, script, **READY)

    def broken(*args, **kwargs):
        raise RuntimeError("no sockets today")

    monkeypatch.setattr(script.glue.core.dock, "DockServer", broken)
    port = free_port()
    script.update(dock_port=port)
    script.properties()
    assert f"Dock: could not start on port {port}" in script.status()
    assert any("no sockets today" in line for line in fake.log_lines())
    assert dock_threads() == []
    assert script.engine is not None
