"""A raw-socket HTTP server on 127.0.0.1:0 that misbehaves the way real networks do.

``http.server`` cannot trickle a body, lie about its length or hang up mid-answer,
so this one writes the bytes itself. Each behaviour is a *mode* (see :data:`MODES`);
``routes`` give some requests another mode (or a scripted :class:`Reply`), so a
test can have the join answer normally while context trickles.

Modes:

``ok``
    the documented answers (join success, one character, ``{"success": true}``, 202 for a leave);
``trickle``
    headers announcing a large body, then one byte every 0.5 s until the client goes;
``endless_chunked``
    ``Transfer-Encoding: chunked`` with 8 KiB chunks, as fast as the client reads, forever;
``huge``
    ``Content-Length`` of 600 MB, then zeros as fast as the client reads;
``close_mid_body``
    ``Content-Length: 100``, ten bytes, then the connection is closed;
``echo``
    the request's headers (``Authorization`` included, also lower- and uppercased) in the
    JSON body (as the join ``message``, as a character's name, as an error ``message``) and
    in an ``X-Echo-Authorization`` header;
``html``
    200 with a captive portal's login page;
``silent``
    reads the request and never answers.

A TLS client (an ``https://`` address pointed at this plain-HTTP server) gets what
a plain server sends to a ClientHello: ``400 Bad Request`` in clear text.

The server stops by itself after ``lifetime_s`` (every loop checks it), and
:meth:`HostileServer.stop` shuts every connection and joins every thread. It
counts the connections the *client* ended (:meth:`HostileServer.wait_closed_by_client`)
and the body bytes it sent, and :func:`client_sockets_to` lists this process's
open sockets to a port (from ``/proc``), so tests can check nothing was left open.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple, Union

TRICKLE_INTERVAL_S = 0.5
HUGE_BYTES = 600 * 1024 * 1024
CHUNK = 8 * 1024
BLOCK = 64 * 1024

JOINED = {"success": True, "message": "AI successfully joined channel", "joinedAt": 1739982392000, "channelId": "ch_1"}
CHARACTERS = [{"id": "char_1", "name": "Captain Vibes", "description": "", "isActive": True}]
PORTAL = b"<!DOCTYPE html><html><body><h1>Welcome to CafeWiFi</h1><form>Log in</form></body></html>"


@dataclass(frozen=True)
class Request:
    """One request as the server read it (header names lowercased)."""

    method: str
    path: str
    headers: Dict[str, str]


@dataclass(frozen=True)
class Reply:
    """A scripted answer for a route: ``payload`` is sent as JSON, with ``headers``."""

    status: int = 200
    payload: object = None
    headers: Tuple[Tuple[str, str], ...] = field(default=())


Behaviour = Union[str, Reply]


class HostileServer:
    """Answers every request with ``mode``, or with ``routes[(method, path)]`` where one matches."""

    def __init__(
        self,
        mode: str = "ok",
        *,
        routes: Optional[Dict[Tuple[str, str], Behaviour]] = None,
        lifetime_s: float = 60.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        self.mode = mode
        self.routes = dict(routes or {})
        self._ends_at = time.monotonic() + lifetime_s
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._requests: List[Request] = []
        self._closed_by_client = 0
        self._tls_hellos = 0
        self.bytes_sent = 0
        #: Body bytes the trickle mode got out (one per :data:`TRICKLE_INTERVAL_S`): how long a client stayed.
        self.trickled = 0
        self._connections: Set[socket.socket] = set()
        self._threads: List[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> HostileServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, shut every connection, join every thread (bounded)."""
        self._stopping.set()
        with self._changed:
            for conn in list(self._connections):
                _shutdown(conn)
        self._acceptor.join(5.0)
        for thread in list(self._threads):
            thread.join(5.0)
        self._listener.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what happened -------------------------------------------------------------

    @property
    def requests(self) -> List[Request]:
        with self._changed:
            return list(self._requests)

    @property
    def open_connections(self) -> int:
        """Connections accepted and not yet ended (by either side)."""
        with self._changed:
            return len(self._connections)

    @property
    def closed_by_client(self) -> int:
        with self._changed:
            return self._closed_by_client

    @property
    def tls_hellos(self) -> int:
        with self._changed:
            return self._tls_hellos

    def wait_for(self, predicate: Callable[[HostileServer], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds (True) or ``timeout`` passes (False)."""
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self), timeout))

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda s: len(s._requests) >= count, timeout)

    def wait_closed_by_client(self, count: int, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda s: s._closed_by_client >= count, timeout)

    # --- serving -------------------------------------------------------------------

    def _done(self) -> bool:
        return self._stopping.is_set() or time.monotonic() > self._ends_at

    def _accept(self) -> None:
        while not self._done():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.5)
            with self._changed:
                self._connections.add(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        by_client = False
        try:
            while not self._done():
                request = self._read_request(conn)
                if request is None:
                    by_client = not self._done()
                    return
                with self._changed:
                    self._requests.append(request)
                    self._changed.notify_all()
                behaviour = self.routes.get((request.method, request.path), self.mode)
                if isinstance(behaviour, Reply):
                    keep = _send_reply(self, conn, behaviour)
                else:
                    keep = MODES[behaviour](self, conn, request)
                if not keep:
                    by_client = keep is None
                    return
        except (ConnectionError, BrokenPipeError):
            by_client = True
        except OSError:
            by_client = not self._done()
        finally:
            with self._changed:
                self._connections.discard(conn)
                if by_client:
                    self._closed_by_client += 1
                self._changed.notify_all()
            conn.close()

    def _read_request(self, conn: socket.socket) -> Optional[Request]:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self._next_bytes(conn)
            if not chunk:
                return None
            data += chunk
            if data[:1] == b"\x16":  # a TLS ClientHello: answer as a plain HTTP server does
                with self._changed:
                    self._tls_hellos += 1
                self.send(conn, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return None
            if len(data) > 1 << 20:
                return None
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = (lines[0].split(" ") + ["", ""])[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(body) < length:
            chunk = self._next_bytes(conn)
            if not chunk:
                return None
            body += chunk
        return Request(method, path, headers)

    def _next_bytes(self, conn: socket.socket) -> bytes:
        """The client's next bytes (b"" when it has closed), waiting out quiet spells."""
        while True:
            chunk = self._recv(conn)
            if chunk is not None:
                return chunk

    def _recv(self, conn: socket.socket) -> Optional[bytes]:
        """Some bytes, b"" at end of stream, None after a quiet 0.5 s (raises OSError once stopping)."""
        if self._done():
            raise OSError("stopping")
        try:
            return conn.recv(65536)
        except TimeoutError:
            return None

    def send(self, conn: socket.socket, data: bytes) -> None:
        """Send all of ``data`` unless the server stops first (then OSError)."""
        view = memoryview(data)
        while view:
            if self._done():
                raise OSError("stopping")
            try:
                sent = conn.send(view)
            except TimeoutError:
                continue
            view = view[sent:]
            with self._changed:
                self.bytes_sent += sent

    def client_left(self, conn: socket.socket, wait_s: float) -> bool:
        """Wait up to ``wait_s`` for the client to close (True when it did)."""
        readable, _, _ = select.select([conn], [], [], wait_s)
        if not readable:
            return False
        try:
            return conn.recv(65536) == b""
        except OSError:
            return True


# --- the modes: each returns True (keep the connection), False (server closes) or None (client left) ---------


def _head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


def _send_json(server: HostileServer, conn: socket.socket, status: int, payload: object, *headers: str) -> bool:
    body = b"" if payload is None else json.dumps(payload).encode()
    extra = ("Content-Type: application/json",) if payload is not None else ()
    server.send(conn, _head(f"{status} X", f"Content-Length: {len(body)}", *extra, *headers) + body)
    return True


def _send_reply(server: HostileServer, conn: socket.socket, reply: Reply) -> bool:
    return _send_json(server, conn, reply.status, reply.payload, *(f"{n}: {v}" for n, v in reply.headers))


def _ok(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    if request.path == "/v1/characters":
        return _send_json(server, conn, 200, CHARACTERS)
    if request.path.startswith("/v1/streams/"):
        return (
            _send_json(server, conn, 200, JOINED) if request.method == "POST" else _send_json(server, conn, 202, None)
        )
    if request.path.startswith("/v1/events"):
        return _send_json(server, conn, 200, {"success": True})
    return _send_json(server, conn, 404, {"message": "not found"})


def _trickle(server: HostileServer, conn: socket.socket, request: Request) -> Optional[bool]:
    # A length under the body cap: only the deadline can end this answer.
    server.send(conn, _head("200 OK", "Content-Type: application/json", "Content-Length: 4000"))
    server.send(conn, b"[")
    while not server._done():
        if server.client_left(conn, TRICKLE_INTERVAL_S):
            return None
        server.send(conn, b" ")
        with server._changed:
            server.trickled += 1
            server._changed.notify_all()
    return False


def _endless_chunked(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    server.send(conn, _head("200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked"))
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK)
    while True:  # until the client goes (OSError) or the server stops
        server.send(conn, chunk)


def _huge(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    server.send(conn, _head("200 OK", "Content-Type: application/json", f"Content-Length: {HUGE_BYTES}"))
    zeros = b"0" * BLOCK
    for _ in range(HUGE_BYTES // BLOCK):
        server.send(conn, zeros)
    return True


def _close_mid_body(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    server.send(conn, _head("200 OK", "Content-Type: application/json", "Content-Length: 100") + b'{"success"')
    _shutdown(conn)
    return False


def _echo(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    authorization = request.headers.get("authorization", "")
    # As sent, and as a proxy that folds case might echo it.
    lines = [f"{name}: {value}" for name, value in request.headers.items()]
    echoed = "\n".join([f"Authorization: {authorization}", authorization.lower(), authorization.upper(), *lines])
    if request.path == "/v1/characters":
        payload: object = [{"id": "x", "name": authorization, "description": echoed, "isActive": True}]
    elif request.path.startswith("/v1/streams/") and request.method == "POST":
        payload = {"success": False, "message": f"You sent:\n{echoed}"}
    else:
        payload = {"message": echoed}
    status = 200 if request.path == "/v1/characters" or request.path.startswith("/v1/streams/") else 400
    return _send_json(server, conn, status, payload, f"X-Echo-Authorization: {authorization}")


def _html(server: HostileServer, conn: socket.socket, request: Request) -> bool:
    server.send(conn, _head("200 OK", "Content-Type: text/html", f"Content-Length: {len(PORTAL)}") + PORTAL)
    return True


def _silent(server: HostileServer, conn: socket.socket, request: Request) -> Optional[bool]:
    while not server._done():
        if server.client_left(conn, TRICKLE_INTERVAL_S):
            return None
    return False


MODES: Dict[str, Callable[[HostileServer, socket.socket, Request], Optional[bool]]] = {
    "ok": _ok,
    "trickle": _trickle,
    "endless_chunked": _endless_chunked,
    "huge": _huge,
    "close_mid_body": _close_mid_body,
    "echo": _echo,
    "html": _html,
    "silent": _silent,
}


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --- what this process still has open ----------------------------------------------------------

_TCP_CLOSED_STATES = {"07"}  # CLOSE; TIME_WAIT sockets belong to no file descriptor, so they never show


def client_sockets_to(port: int) -> List[int]:
    """Inodes of this process's open TCP sockets whose remote end is 127.0.0.1:``port`` (Linux ``/proc``)."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            ours.add(target[len("socket:[") : -1])
    found = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table, encoding="ascii") as rows:
                next(rows)
                for row in rows:
                    cols = row.split()
                    remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                    if remote_port == port and cols[3] not in _TCP_CLOSED_STATES and cols[9] in ours:
                        found.append(int(cols[9]))
        except FileNotFoundError:
            continue
    return found


def our_threads(prefix: str = "ailicia") -> List[threading.Thread]:
    """Live threads whose names start with ``prefix`` (the delivery worker, the leave courier, deadlines)."""
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]
