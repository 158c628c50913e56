"""The dock server over real loopback HTTP, with a real engine talking to the sandbox.

Every route; the token missing or wrong (403); a wrong Host (DNS rebinding) and a
cross-origin POST refused; the rate limit; a port in use; live events; and a stop
that ends open event streams and frees the port.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import threading
import time

import pytest

from ailicia_core import events as ev
from ailicia_core.dock import DockServer
from ailicia_core.dock.ratelimit import CONTROL_BURST
from ailicia_core.dock.server import MAX_STREAMS
from tests.support import dock_fixtures
from tests.support.dock_fixtures import KEY, TOKEN, WAIT_S, serving

# The shared fixtures (pytest finds a fixture by its module attribute).
sandbox = dock_fixtures.sandbox
engine = dock_fixtures.engine


class FrozenClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def dock(engine, clock):
    with serving(engine, clock=clock) as server:
        yield server


def request(dock, method, path, *, token=TOKEN, host=None, headers=None, body=None, token_in="auto"):
    """One request; returns (status, headers, body bytes). ``token_in``: auto (GET: URL, POST: header), none."""
    conn = http.client.HTTPConnection("127.0.0.1", dock.port, timeout=WAIT_S)
    url = path
    all_headers = dict(headers or {})
    if token is not None and token_in == "auto":
        if method == "GET":
            url += ("&" if "?" in url else "?") + "token=" + token
        else:
            all_headers["X-Ailicia-Token"] = token
    payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host if host is not None else f"127.0.0.1:{dock.port}")
    for name, value in all_headers.items():
        conn.putheader(name, value)
    if payload is not None:
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(payload)))
    conn.endheaders(payload)
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    return answer.status, dict(answer.getheaders()), data


def post(dock, name, body=None, **kwargs):
    return request(dock, "POST", f"/api/control/{name}", body=body if body is not None else {}, **kwargs)


GET_ROUTES = [
    "/dock",
    "/overlay",
    "/static/dock.css",
    "/static/dock.js",
    "/static/common.js",
    "/static/overlay.js",
    "/static/overlay.css",
    "/api/state",
]


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/dock", "text/html"),
        ("/overlay", "text/html"),
        ("/static/dock.css", "text/css"),
        ("/static/dock.js", "text/javascript"),
        ("/static/common.js", "text/javascript"),
        ("/static/overlay.js", "text/javascript"),
        ("/static/overlay.css", "text/css"),
        ("/api/state", "application/json"),
    ],
)
def test_every_page_and_file_is_served_with_its_type_and_guard_headers(dock, path, kind):
    status, headers, body = request(dock, "GET", path)
    assert status == 200
    assert headers["Content-Type"].startswith(kind)
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert KEY.encode() not in body


def test_pages_link_their_files_with_the_token_and_nothing_from_the_internet(dock):
    for page in ("/dock", "/overlay"):
        _, _, body = request(dock, "GET", page)
        text = body.decode()
        assert f"?token={TOKEN}" in text and "__TOKEN__" not in text
        assert "http://" not in text and "https://" not in text  # no CDN: everything ships in the package


@pytest.mark.parametrize("path", GET_ROUTES + ["/api/events", "/nowhere"])
@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN.upper()])
def test_a_get_without_the_right_token_is_403(dock, path, token):
    status, _, body = request(dock, "GET", path + (f"?token={token}" if token is not None else ""), token=None)
    assert status == 403
    assert json.loads(body) == {"ok": False, "error": "bad_token"}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "", "[::1]:{port}"])
def test_a_wrong_host_is_refused_even_with_the_token(dock, host):
    status, _, body = request(dock, "GET", "/api/state", host=host.format(port=dock.port))
    assert status == 403
    assert json.loads(body)["error"] == "bad_host"
    assert post(dock, "pause", host=host.format(port=dock.port))[0] == 403


def test_localhost_is_the_docks_own_host_too(dock):
    assert request(dock, "GET", "/api/state", host=f"localhost:{dock.port}")[0] == 200


def test_state_holds_status_and_activity_but_never_the_key(dock, engine, sandbox):
    engine.handle(ev.SceneSwitched("Gameplay"))
    assert engine.wait_idle(WAIT_S)
    status, _, body = request(dock, "GET", "/api/state")
    state = json.loads(body)
    assert status == 200
    assert state["status"]["live"] is False
    assert [(e["kind"], e["outcome"]) for e in state["activity"]] == [("context", "sent")]
    assert "Gameplay" in state["activity"][0]["content"]
    assert KEY not in body.decode()


def test_an_unknown_path_with_the_token_is_404(dock):
    assert request(dock, "GET", "/secrets")[0] == 404
    assert post(dock, "explode")[0] == 404
    assert request(dock, "POST", "/api/state", body={})[0] == 404


@pytest.mark.parametrize("name", ["../server.py", "..%2Fserver.py", "server.py", ".hidden.css", "nope.css", "a/b.js"])
def test_static_serves_only_the_shipped_page_files(dock, name):
    assert request(dock, "GET", f"/static/{name}")[0] == 404


def test_trigger_1_reaches_the_sandbox_as_a_generation(dock, engine, sandbox):
    status, _, body = post(dock, "trigger", {"slot": 1})
    assert (status, json.loads(body)) == (200, {"ok": True})
    assert sandbox.wait_for(lambda rs: any(r.path == "/v1/events/generations" for r in rs), WAIT_S)
    generation = next(r for r in sandbox.requests if r.path == "/v1/events/generations")
    assert generation.body["data"]["content"] == engine.settings.trigger_prompt(1)


def test_context_and_reaction_reach_the_sandbox(dock, sandbox):
    assert post(dock, "context", {"text": "Boss fight in five minutes"})[0] == 200
    assert post(dock, "reaction", {"text": "We beat the boss!"})[0] == 200
    assert sandbox.wait_for(lambda rs: {r.path for r in rs} >= {"/v1/events", "/v1/events/generations"}, WAIT_S)
    bodies = {r.path: r.body["data"]["content"] for r in sandbox.requests}
    assert bodies["/v1/events"] == "Boss fight in five minutes"
    assert bodies["/v1/events/generations"] == "We beat the boss!"


def test_join_leave_and_test_reach_the_sandbox(dock, engine, sandbox):
    assert post(dock, "join")[0] == 200
    assert sandbox.wait_for(lambda rs: any(r.method == "POST" and "/streams/" in r.path for r in rs), WAIT_S)
    assert post(dock, "leave")[0] == 200
    assert post(dock, "test")[0] == 200
    assert sandbox.wait_for(
        lambda rs: {(r.method, r.path) for r in rs} >= {("DELETE", "/v1/streams/mychannel"), ("GET", "/v1/characters")},
        WAIT_S,
    )


def test_pause_holds_automatic_context_and_resume_lets_it_go(dock, engine, sandbox):
    assert post(dock, "pause")[0] == 200
    assert engine.automatic_paused
    engine.handle(ev.SceneSwitched("Held back"))
    assert post(dock, "context", {"text": "Manual still goes"})[0] == 200
    assert sandbox.wait_for(lambda rs: any(r.path == "/v1/events" for r in rs), WAIT_S)
    assert engine.wait_idle(WAIT_S)
    assert [r.body["data"]["content"] for r in sandbox.requests if r.path == "/v1/events"] == ["Manual still goes"]
    assert post(dock, "resume")[0] == 200
    assert not engine.automatic_paused


def test_connect_starts_the_app_flow_and_its_outcome_reaches_the_status(dock, engine):
    # The fixture's engine asks the app on dashboard_ws_port; nothing listens on a port just freed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    engine.reconfigure(dataclasses.replace(engine.settings, dashboard_ws_port=free_port))
    assert post(dock, "connect")[0] == 200
    state = engine.connector.wait(WAIT_S, until=lambda s: s.phase == "failed")
    assert state.outcome == "no_app"
    assert "Open the ai_licia app" in engine.status_text()


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_post_without_the_right_token_header_is_403(dock, engine, token):
    headers = {"X-Ailicia-Token": token} if token is not None else {}
    status, _, body = post(dock, "pause", headers=headers, token_in="none")
    assert status == 403 and json.loads(body)["error"] == "bad_token"
    assert not engine.automatic_paused


def test_a_post_with_the_token_only_in_the_url_is_403(dock, engine):
    status, _, _ = request(dock, "POST", f"/api/control/pause?token={TOKEN}", body={}, token_in="none")
    assert status == 403
    assert not engine.automatic_paused


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
def test_a_cross_origin_post_is_refused(dock, engine, origin):
    status, _, body = post(dock, "pause", headers={"Origin": origin})
    assert status == 403 and json.loads(body)["error"] == "bad_origin"
    assert not engine.automatic_paused


def test_a_post_from_the_docks_own_origin_is_served(dock, engine):
    assert post(dock, "pause", headers={"Origin": f"http://127.0.0.1:{dock.port}"})[0] == 200
    assert engine.automatic_paused


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_bad_body_is_400(dock, body):
    assert post(dock, "pause", body)[0] == 400


def test_a_body_over_the_cap_is_413(dock):
    assert post(dock, "pause", b"x" * 5000)[0] == 413


def test_controls_are_rate_limited_and_say_when_to_retry(dock, clock):
    answers = [post(dock, "pause")[0] for _ in range(CONTROL_BURST)]
    assert answers == [200] * CONTROL_BURST
    status, headers, body = post(dock, "pause")
    assert status == 429 and json.loads(body)["error"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    clock.now += 1.0
    assert post(dock, "pause")[0] == 200


def test_a_port_in_use_is_an_outcome_not_an_exception(engine):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        server = DockServer(engine, port=port, token=TOKEN, bind_retry_s=0)
        started = server.start()
        assert (started.outcome, started.port, started.running) == ("port_in_use", port, False)
        assert not server.running
        assert server.stop(1.0)
    finally:
        taken.close()


class EventStream:
    """An open ``/api/events`` stream, read one event at a time."""

    def __init__(self, dock, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", dock.port, timeout=WAIT_S)
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        self.conn.request("GET", f"/api/events?token={TOKEN}", headers=headers)
        self.answer = self.conn.getresponse()

    def next(self):
        fields = {}
        while True:
            line = self.answer.fp.readline().decode()
            if line in ("\n", ""):
                if fields or line == "":
                    return fields.get("event"), json.loads(fields["data"]) if "data" in fields else None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.rstrip("\n").partition(": ")
            fields[name] = value

    def next_of(self, name):
        while True:
            event, data = self.next()
            assert event is not None, "the stream ended"
            if event == name:
                return data

    def close(self):
        self.conn.close()


def test_events_push_the_state_then_new_activity_and_status_changes(dock, engine):
    stream = EventStream(dock)
    try:
        assert stream.answer.status == 200
        assert stream.answer.getheader("Content-Type").startswith("text/event-stream")
        first = stream.next_of("state")
        assert first["activity"] == [] and first["status"]["automatic_paused"] is False
        engine.activity.add(time.time(), "ai_message", "Hello chat, nice clutch!", "said")
        entries = stream.next_of("activity")
        assert [(e["kind"], e["content"]) for e in entries] == [("ai_message", "Hello chat, nice clutch!")]
        engine.pause_automatic()
        assert stream.next_of("status")["automatic_paused"] is True
    finally:
        stream.close()


def test_a_reconnecting_stream_gets_what_it_missed(dock, engine):
    for n in range(3):
        engine.activity.add(time.time(), "context", f"line {n}", "sent")
    stream = EventStream(dock, last_event_id=1)
    try:
        assert [e["content"] for e in stream.next_of("activity")] == ["line 1", "line 2"]
    finally:
        stream.close()


def test_a_stream_from_before_a_reload_gets_the_whole_state(dock, engine):
    stream = EventStream(dock, last_event_id=999)  # a cursor from the previous engine
    try:
        assert stream.next_of("state")["cursor"] == 0
    finally:
        stream.close()


def test_too_many_streams_are_refused_not_queued(dock):
    streams = [EventStream(dock) for _ in range(MAX_STREAMS)]
    try:
        for stream in streams:
            stream.next_of("state")
        assert request(dock, "GET", "/api/events")[0] == 503
    finally:
        for stream in streams:
            stream.close()


def test_stop_ends_open_streams_within_a_second_and_frees_the_port(engine):
    server = DockServer(engine, port=0, token=TOKEN)
    assert server.start().running
    port = server.port
    streams = [EventStream(server) for _ in range(3)]
    for stream in streams:
        stream.next_of("state")
    before = {t.ident for t in threading.enumerate()}
    assert server.stop(1.0)  # True: the serving thread and every connection ended within the 1 s
    for stream in streams:
        assert stream.next() == (None, None)  # the stream was closed by the server
        stream.close()
    again = DockServer(engine, port=port, token=TOKEN)  # the next load binds the same port at once
    assert again.start().running
    assert again.stop(1.0)
    assert not [t for t in threading.enumerate() if t.ident in before and t.name == "ailicia-dock"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1.0)
