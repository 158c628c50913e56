"""The dock's HTTP server: loopback only, a daemon serving thread, and a stop that frees the port.

:meth:`DockServer.start` binds ``127.0.0.1:<port>`` and serves from a daemon
thread; a port already taken is an outcome (:class:`DockStart`), never an
exception. :meth:`DockServer.stop` ends the serving loop, closes every open
connection (live event streams included) and the listening socket, and returns
within its timeout (1 s by default). The server never calls OBS: it reads
``engine.status()`` and ``engine.activity`` and calls the engine's non-blocking
methods, so nothing here can hold an OBS thread.

Routes (all need the token, see :mod:`.guard`; answered by :class:`.handler.DockHandler`):

- ``GET /dock``, ``GET /overlay``: the pages; ``GET /static/<file>``: their CSS and JS;
- ``GET /api/state``: :func:`.state.full_state` as JSON;
- ``GET /api/events``: Server-Sent Events: ``status`` when the status changes (checked
  every :data:`.handler.STATUS_POLL_S`), ``activity`` as soon as the feed grows;
- ``POST /api/control/<name>``: :data:`.controls.CONTROLS`, rate-limited (429 beyond).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Tuple
from urllib.parse import quote

from . import guard
from .handler import DockHandler
from .ratelimit import CONTROL_BURST, CONTROL_REFILL_PER_S, TokenBucket

log = logging.getLogger("ailicia.dock")

HOST = "127.0.0.1"
#: Open event streams at once (each holds a thread); more are refused with 503.
MAX_STREAMS = 8
DEFAULT_STOP_TIMEOUT_S = 1.0


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
            httpd = _HttpServer((HOST, self._port), DockHandler, self)
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
