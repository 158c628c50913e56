"""The dock under a hostile local client, over real loopback sockets.

- A header trickle (slowloris) is cut at the whole-request deadline with a 408, and its thread ends.
- A connection flood beyond the budget is answered 503 at once; the threads never exceed the budget.
- Deeply nested JSON, an over-long header, a body over the cap, a fault in a control: each answered.
- Static paths are names from a fixed list: drive letters, ``..``, backslashes, NTFS streams are 404.
- A port still held after a reload is tried again off the caller's thread, then reported in words.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import List

import pytest

from ailicia_core.dock import DockServer, handler
from ailicia_core.dock import server as server_module
from ailicia_core.dock.controls import CONTROLS
from ailicia_core.dock.limits import MAX_BODY_BYTES, MAX_CONNECTIONS
from tests.support import dock_fixtures
from tests.support.dock_fixtures import TOKEN, WAIT_S, serving
from tests.support.waiting import wait_for

sandbox = dock_fixtures.sandbox
engine = dock_fixtures.engine

REQUEST_THREAD = "ailicia-dock-request"


def request_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == REQUEST_THREAD and t.is_alive()]


def connect(dock: DockServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", dock.port), timeout=WAIT_S)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as closing)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def raw(dock: DockServer, data: bytes) -> bytes:
    with connect(dock) as sock:
        sock.sendall(data)
        return read_all(sock)


def head(dock: DockServer, method: str, path: str, extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{dock.port}\r\n{extra}").encode("latin-1")


def post_body(dock: DockServer, name: str, body: bytes) -> bytes:
    lines = f"X-Ailicia-Token: {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return raw(dock, head(dock, "POST", f"/api/control/{name}", lines) + body)


@pytest.fixture
def dock(engine):
    with serving(engine) as server:
        yield server


@pytest.fixture
def short_deadline(monkeypatch):
    """A 1 s whole-request deadline, so a trickle test takes about a second."""
    monkeypatch.setattr(handler, "REQUEST_DEADLINE_S", 1.0)
    return 1.0


@pytest.fixture
def long_deadline(monkeypatch):
    """Idle connections hold their threads for the whole test, however slow the machine."""
    monkeypatch.setattr(handler, "REQUEST_DEADLINE_S", 60.0)


# --- slowloris and flood ------------------------------------------------------------------------


def test_a_header_trickle_is_cut_at_the_whole_request_deadline_with_408(engine, short_deadline):
    with serving(engine) as dock:
        sock = connect(dock)
        try:
            sock.sendall(head(dock, "GET", f"/api/state?token={TOKEN}"))
            cut = threading.Event()
            sent = 0
            # A header line every 0.3 s: each read on its own would be well within any per-read timeout.
            while sent < 50 and not cut.is_set():
                try:
                    sock.sendall(f"X-Trickle-{sent}: a\r\n".encode())
                except OSError:
                    break
                sent += 1
                cut.wait(0.3)
                sock.settimeout(0.0)
                try:
                    if sock.recv(65536, socket.MSG_PEEK):
                        cut.set()
                except BlockingIOError:
                    pass
                except OSError:
                    cut.set()
                sock.settimeout(WAIT_S)
            sock.settimeout(WAIT_S)
            answer = read_all(sock)
        finally:
            sock.close()
        assert sent < 50, "the trickle was never cut"
        assert status_of(answer) == 408
        assert wait_for(lambda: not request_threads())


def test_a_flood_beyond_the_budget_is_refused_at_once_and_the_threads_stay_within_it(long_deadline, dock):
    idle = [connect(dock) for _ in range(MAX_CONNECTIONS)]  # each holds a thread until its deadline
    try:
        assert wait_for(lambda: len(request_threads()) == MAX_CONNECTIONS)
        for _ in range(3 * MAX_CONNECTIONS):
            with connect(dock) as extra:
                extra.sendall(head(dock, "GET", f"/api/state?token={TOKEN}", "\r\n"))
                answer = read_all(extra)
            assert answer == b"" or status_of(answer) == 503
            assert len(request_threads()) <= MAX_CONNECTIONS
    finally:
        for sock in idle:
            sock.close()
    assert wait_for(lambda: not request_threads())
    answer = raw(dock, head(dock, "GET", f"/api/state?token={TOKEN}", "\r\n"))
    assert status_of(answer) == 200  # the budget is back once the flood is gone


def test_the_refusal_over_the_budget_is_a_503_with_retry_after(long_deadline, dock):
    idle = [connect(dock) for _ in range(MAX_CONNECTIONS)]
    try:
        assert wait_for(lambda: len(request_threads()) == MAX_CONNECTIONS)
        with connect(dock) as extra:  # sends nothing: the answer does not wait for a request
            answer = read_all(extra)
        assert status_of(answer) == 503
        assert b"Retry-After: 1" in answer and answer.endswith(b'{"ok": false, "error": "busy"}')
    finally:
        for sock in idle:
            sock.close()


# --- every request answers ---------------------------------------------------------------------------


def test_deeply_nested_json_is_answered_400_not_dropped(dock):
    depth = MAX_BODY_BYTES // 2 - 1  # far deeper than Python's recursion limit, within the body cap
    answer = post_body(dock, "context", b"[" * depth + b"]" * depth)
    assert status_of(answer) == 400
    answer = post_body(dock, "context", b'{"a":' * (MAX_BODY_BYTES // 6) + b"1" + b"}" * (MAX_BODY_BYTES // 6))
    assert status_of(answer) == 400


def test_a_body_over_the_cap_is_413_and_a_short_body_400(dock):
    assert status_of(post_body(dock, "pause", b"{" * (MAX_BODY_BYTES + 1))) == 413
    lines = f"X-Ailicia-Token: {TOKEN}\r\nContent-Length: 99999999999999999999999999\r\n\r\n"
    assert status_of(raw(dock, head(dock, "POST", "/api/control/pause", lines))) == 413
    lines = f"X-Ailicia-Token: {TOKEN}\r\nContent-Length: -5\r\n\r\n"
    assert status_of(raw(dock, head(dock, "POST", "/api/control/pause", lines))) == 400
    lines = f"X-Ailicia-Token: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert status_of(raw(dock, head(dock, "POST", "/api/control/pause", lines))) == 400


def test_a_body_that_stops_short_is_answered_at_the_deadline(engine, short_deadline):
    with serving(engine) as dock:
        lines = f"X-Ailicia-Token: {TOKEN}\r\nContent-Length: 100\r\n\r\n{{"
        assert status_of(raw(dock, head(dock, "POST", "/api/control/pause", lines))) == 408


def test_over_long_and_too_many_headers_are_431_and_an_over_long_address_414(dock):
    assert status_of(raw(dock, head(dock, "GET", "/dock?" + "a" * 70_000, "\r\n"))) == 414
    assert status_of(raw(dock, head(dock, "GET", "/dock", "X-Long: " + "a" * 70_000 + "\r\n\r\n"))) == 431
    many = "".join(f"X-{n}: a\r\n" for n in range(150)) + "\r\n"
    assert status_of(raw(dock, head(dock, "GET", "/dock", many))) == 431


def test_garbage_instead_of_a_request_is_answered(dock):
    assert status_of(raw(dock, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n")) == 400


def test_a_fault_inside_a_control_is_answered_500(dock, monkeypatch):
    def broken(engine, body):
        raise RuntimeError("a bug")

    monkeypatch.setitem(CONTROLS, "pause", broken)
    assert status_of(post_body(dock, "pause", b"{}")) == 500
    assert wait_for(lambda: not request_threads())


# --- static paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "D:x.js",
        "D:dock.js",
        "C:%5Cdock.js",
        "C:\\Windows\\win.ini",
        "..%2fhandler.py",
        "../handler.py",
        "..\\handler.py",
        "%2e%2e/server.py",
        "./dock.js",
        "dock.js/",
        "dock.js::$DATA",
        "dock.js.",
        "dock.js%00.css",
        "DOCK.JS",
        "dock.html",
        "handler.py",
        "",
        "/etc/passwd",
        "\\\\server\\share\\x.js",
    ],
)
def test_static_paths_outside_the_fixed_list_are_404_on_any_platform(dock, name, monkeypatch):
    read = []
    monkeypatch.setattr(handler, "_read_static", lambda n: read.append(n) or b"")
    path = f"/static/{name}?token={TOKEN}".replace(" ", "%20")
    assert status_of(raw(dock, head(dock, "GET", path, "\r\n"))) == 404
    assert read == []  # the filesystem was not even asked


def test_every_listed_static_file_exists_and_is_served(dock):
    for name in handler.STATIC_FILES:
        answer = raw(dock, head(dock, "GET", f"/static/{name}?token={TOKEN}", "\r\n"))
        assert status_of(answer) == 200, name


# --- the bind, tried again -----------------------------------------------------------------------------


@pytest.fixture
def held_port():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder
    holder.close()


def test_a_port_freed_a_moment_later_is_bound_by_the_retry(engine, held_port, caplog):
    caplog.set_level(logging.INFO, logger="ailicia.dock")
    port = held_port.getsockname()[1]
    dock = DockServer(engine, port=port, token=TOKEN, bind_retry_s=WAIT_S)
    try:
        started = dock.start()  # returns at once: the retry runs on the dock's thread
        assert (started.outcome, started.running) == ("starting", False)
        held_port.close()  # the previous load lets go
        assert wait_for(lambda: dock.outcome == "running")
        assert status_of(raw(dock, head(dock, "GET", f"/api/state?token={TOKEN}", "\r\n"))) == 200
        assert any(f"port {port}" in r.getMessage() and "Dock running" in r.getMessage() for r in caplog.records)
    finally:
        assert dock.stop(1.0)


def test_a_port_still_held_after_the_retry_is_reported_in_words(engine, held_port, caplog):
    caplog.set_level(logging.INFO, logger="ailicia.dock")
    port = held_port.getsockname()[1]
    dock = DockServer(engine, port=port, token=TOKEN, bind_retry_s=0.3)
    try:
        assert dock.start().outcome == "starting"
        assert wait_for(lambda: dock.outcome == "port_in_use")
        lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert lines == [f"Port {port} is in use by another program: change dock_port in Advanced."]
        assert not dock.running
    finally:
        assert dock.stop(1.0)


def test_stop_during_the_retry_ends_the_dock_thread_at_once(engine, held_port):
    dock = DockServer(engine, port=held_port.getsockname()[1], token=TOKEN, bind_retry_s=60.0)
    assert dock.start().outcome == "starting"
    assert dock.stop(1.0)
    assert not [t for t in threading.enumerate() if t.name == "ailicia-dock" and t.is_alive()]


def test_the_retry_never_binds_after_stop(engine, held_port, monkeypatch):
    """A bind that succeeds as stop begins is closed, never served (and stop still returns)."""
    dock = DockServer(engine, port=held_port.getsockname()[1], token=TOKEN, bind_retry_s=60.0)
    assert dock.start().outcome == "starting"
    real = server_module._HttpServer
    bound = []

    def bind_as_stop_begins(*args, **kwargs):
        dock.stopping.set()
        bound.append(real(("127.0.0.1", 0), *args[1:], **kwargs))
        return bound[-1]

    monkeypatch.setattr(server_module, "_HttpServer", bind_as_stop_begins)
    assert wait_for(lambda: bound)
    assert dock.stop(1.0)
    assert not dock.running
    assert bound[0].socket.fileno() == -1  # closed, never served
