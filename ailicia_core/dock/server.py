"""The dock's HTTP server: loopback only, a daemon serving thread, and a stop that frees the port.

:meth:`DockServer.start` binds ``127.0.0.1:<port>`` and serves from a daemon
thread; a port already taken is an outcome (:class:`DockStart`), never an
exception. :meth:`DockServer.stop` ends the serving loop, closes every open
connection (live event streams included) and the listening socket, and returns
within its timeout (1 s by default). The server never calls OBS: it reads
``engine.status()`` and ``engine.activity`` and calls the engine's non-blocking
methods, so nothing here can hold an OBS thread.

Routes (all need the token, see :mod:`.guard`):

- ``GET /dock``, ``GET /overlay``: the pages; ``GET /static/<file>``: their CSS and JS;
- ``GET /api/state``: :func:`.state.full_state` as JSON;
- ``GET /api/events``: Server-Sent Events: ``status`` when the status changes (checked
  every :data:`STATUS_POLL_S`), ``activity`` as soon as the feed grows;
- ``POST /api/control/<name>``: :data:`.controls.CONTROLS`, rate-limited (429 beyond).
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit

from . import guard
from .controls import CONTROLS
from .ratelimit import CONTROL_BURST, CONTROL_REFILL_PER_S, TokenBucket
from .state import entry_state, full_state, status_state

log = logging.getLogger("ailicia.dock")

HOST = "127.0.0.1"
STATIC_DIR = Path(__file__).with_name("static")
#: How often an event stream compares the status with what it last sent (the feed wakes it at once).
STATUS_POLL_S = 0.1
#: A comment line on idle streams, so a page that went away is noticed and its thread ends.
HEARTBEAT_S = 15.0
#: Open event streams at once (each holds a thread); more are refused with 503.
MAX_STREAMS = 8
#: Longest POST body read.
MAX_BODY_BYTES = 4096
#: Socket timeout for reading a request, so a silent client cannot hold a thread.
READ_TIMEOUT_S = 5.0
DEFAULT_STOP_TIMEOUT_S = 1.0

PAGES = {"/dock": "dock.html", "/overlay": "overlay.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
#: The pages load only their own files and talk only to this server.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
REFUSALS = {
    "bad_host": 403,
    "bad_origin": 403,
    "bad_token": 403,
    "bad_request": 400,
    "unavailable": 404,
    "not_found": 404,
    "rate_limited": 429,
    "busy": 503,
    "too_large": 413,
}


@dataclass(frozen=True)
class DockStart:
    """How starting went: ``outcome`` is ``running``, ``port_in_use`` or ``failed``; ``port`` the port."""

    outcome: str
    port: int
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.outcome == "running"


class DockServer:
    """One dock server for one engine. ``port=0`` picks a free port (tests)."""

    def __init__(self, engine: Any, *, port: int, token: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._port = port
        self._token = token
        self._bucket = TokenBucket(CONTROL_BURST, CONTROL_REFILL_PER_S, clock)
        self._stopping = threading.Event()
        self._httpd: Optional[_HttpServer] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._connections: set = set()
        self._streams = 0
        self._closed = threading.Condition(self._lock)

    # --- start and stop ----------------------------------------------------------------

    def start(self) -> DockStart:
        """Bind and serve from a daemon thread; a port in use or a bind error is the outcome."""
        if self._httpd is not None:
            return DockStart("running", self.port)
        try:
            httpd = _HttpServer((HOST, self._port), _Handler, self)
        except OSError as exc:
            in_use = exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1))
            return DockStart("port_in_use" if in_use else "failed", self._port, exc.strerror or "")
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="ailicia-dock", daemon=True
        )
        self._thread.start()
        return DockStart("running", self._port)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
        """Stop serving, close every connection and the port; True when all our threads ended in time."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        self._stopping.set()
        httpd.shutdown()  # returns once serve_forever has seen it: within its 0.1 s poll
        with self._lock:
            for conn in list(self._connections):
                _hang_up(conn)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._closed:
            self._closed.wait_for(lambda: not self._connections, max(0.0, deadline - time.monotonic()))
            done = not self._connections
        return done and not (self._thread is not None and self._thread.is_alive())

    # --- what the glue and tests read --------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def set_token(self, token: str) -> None:
        """Use a new token from now on (a regenerated dock address); old URLs stop working."""
        self._token = token

    def url(self, page: str = "/dock") -> str:
        """The address of ``page`` with the token, as the streamer pastes it."""
        return f"http://{HOST}:{self._port}{page}?token={quote(self._token, safe='')}"

    # --- used by the handler ---------------------------------------------------------------------

    def refusal(self, handler: BaseHTTPRequestHandler, given_token: Optional[str]) -> Optional[str]:
        return guard.refusal(
            method=handler.command,
            host=handler.headers.get("Host"),
            origin=handler.headers.get("Origin"),
            given_token=given_token,
            token=self._token,
            port=self._port,
        )

    def take_press(self) -> float:
        return self._bucket.take()

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
        if self._stopping.is_set():
            _hang_up(conn)

    def closed(self, conn: socket.socket) -> None:
        with self._closed:
            self._connections.discard(conn)
            self._closed.notify_all()

    def claim_stream(self) -> bool:
        with self._lock:
            if self._streams >= MAX_STREAMS:
                return False
            self._streams += 1
            return True

    def release_stream(self) -> None:
        with self._lock:
            self._streams -= 1

    @property
    def token(self) -> str:
        return self._token


def _hang_up(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # On Windows SO_REUSEADDR lets a second program bind the same port: use exclusive binding there.
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, address: Tuple[str, int], handler: type, dock: DockServer) -> None:
        self.dock = dock
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if sys.platform == "win32" and hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        super().server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.dock.stopping.is_set():
            log.debug("Dock: a request failed (%s).", sys.exc_info()[0].__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "ailicia-dock"
    sys_version = ""
    timeout = READ_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.server.dock.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the page went away mid-answer
        finally:
            self.server.dock.closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines hold the token; nothing about them is worth a Script Log line

    # --- GET ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        given = parse_qs(parts.query).get("token", [None])[0]
        refused = self.server.dock.refusal(self, given)
        if refused:
            return self._refuse(refused)
        path = parts.path
        if path in PAGES:
            return self._page(PAGES[path])
        if path.startswith("/static/"):
            return self._static(path[len("/static/") :])
        if path == "/api/state":
            return self._json(200, full_state(self.server.dock.engine))
        if path == "/api/events":
            return self._events()
        return self._refuse("not_found")

    def _page(self, name: str) -> None:
        token = quote(self.server.dock.token, safe="")
        body = _read_static(name).replace(b"__TOKEN__", token.encode("ascii"))
        self._send(200, CONTENT_TYPES[".html"], body)

    def _static(self, name: str) -> None:
        suffix = Path(name).suffix
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in CONTENT_TYPES:
            return self._refuse("not_found")
        try:
            body = _read_static(name)
        except OSError:
            return self._refuse("not_found")
        self._send(200, CONTENT_TYPES[suffix], body)

    def _events(self) -> None:
        dock = self.server.dock
        if not dock.claim_stream():
            return self._refuse("busy")
        try:
            self.send_response(200)
            self._headers("text/event-stream; charset=utf-8")
            self.end_headers()
            self._stream(self._last_event_id())
        except OSError:
            pass  # the page closed the stream, or the server stopped
        finally:
            dock.release_stream()
            self.close_connection = True

    def _stream(self, cursor: Optional[int]) -> None:
        dock = self.server.dock
        engine = dock.engine
        if cursor is None or cursor > engine.activity.cursor:  # first visit, or a new engine since (reload)
            state = full_state(engine)
            self._event("state", state, state["cursor"])
            cursor, status = state["cursor"], state["status"]
        else:
            status = None
        quiet_since = time.monotonic()
        while not dock.stopping.is_set():
            entries, new_cursor = engine.activity.wait_since(cursor, STATUS_POLL_S)
            if entries:
                self._event("activity", [entry_state(e) for e in entries], new_cursor)
                quiet_since = time.monotonic()
            cursor = new_cursor
            current = status_state(engine)
            if current != status:
                self._event("status", current)
                status, quiet_since = current, time.monotonic()
            if time.monotonic() - quiet_since >= HEARTBEAT_S:
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
                quiet_since = time.monotonic()

    def _event(self, name: str, data: Any, event_id: Optional[int] = None) -> None:
        lines = [f"event: {name}", f"data: {json.dumps(data, ensure_ascii=True)}"]
        if event_id is not None:
            lines.append(f"id: {event_id}")
        self.wfile.write(("\n".join(lines) + "\n\n").encode("ascii"))
        self.wfile.flush()

    def _last_event_id(self) -> Optional[int]:
        raw = self.headers.get("Last-Event-ID")
        try:
            return max(0, int(raw)) if raw is not None else None
        except ValueError:
            return None

    # --- POST -----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        dock = self.server.dock
        refused = dock.refusal(self, self.headers.get(guard.TOKEN_HEADER))
        if refused:
            return self._refuse(refused)
        path = urlsplit(self.path).path
        control = CONTROLS.get(path[len("/api/control/") :]) if path.startswith("/api/control/") else None
        if control is None:
            return self._refuse("not_found")
        body = self._body()
        if body is None:
            return self._refuse("bad_request")
        wait = dock.take_press()
        if wait > 0:
            return self._refuse("rate_limited", retry_after=wait)
        problem = control(dock.engine, body)
        if problem:
            return self._refuse(problem)
        self._json(200, {"ok": True})

    def _body(self) -> Optional[Dict[str, Any]]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return body if isinstance(body, dict) else None

    # --- answering --------------------------------------------------------------------------------

    def _refuse(self, code: str, retry_after: float = 0.0) -> None:
        status = REFUSALS.get(code, 400)
        extra = {"Retry-After": str(max(1, int(retry_after + 0.999)))} if code == "rate_limited" else {}
        self._json(status, {"ok": False, "error": code}, extra)

    def _json(self, status: int, data: Any, extra: Optional[Dict[str, str]] = None) -> None:
        self._send(status, "application/json", json.dumps(data, ensure_ascii=True).encode("ascii"), extra)

    def _send(self, status: int, content_type: str, body: bytes, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self._headers(content_type, extra)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _headers(self, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_header("Content-Type", content_type)
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)


def _read_static(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()
