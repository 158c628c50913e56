"""The dock's HTTP server: loopback only, a daemon serving thread, and a stop that frees the port.

:meth:`DockServer.start` binds ``127.0.0.1:<port>`` and serves from a daemon
thread; a port already taken is an outcome (:class:`DockStart`), never an
exception. A port taken at the first try may only be held a moment longer by the
previous load (Reload Scripts on Windows), so the bind is tried again on the
dock's own thread for :data:`.limits.BIND_RETRY_S` (outcome ``starting``) before
the port is said to be in use; :attr:`DockServer.outcome` follows it, and the
Script Log gets one line for how it ended. :meth:`DockServer.stop` ends the
serving loop, closes every open connection (live event streams included) and the
listening socket, and returns within its timeout (1 s by default). The server
never calls OBS: it reads ``engine.status()`` and ``engine.activity`` and calls
the engine's non-blocking methods, so nothing here can hold an OBS thread.

At most :data:`.limits.MAX_CONNECTIONS` connections are served at once, each on
its own thread; one more is answered 503 at once and closed.

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
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional, Tuple
from urllib.parse import quote

from ..feature_words import render_dock_line
from . import guard
from .handler import DockHandler, canned_refusal
from .limits import BIND_RETRY_EVERY_S, BIND_RETRY_S, MAX_CONNECTIONS, MAX_STREAMS
from .ratelimit import CONTROL_BURST, CONTROL_REFILL_PER_S, TokenBucket

log = logging.getLogger("ailicia.dock")

HOST = "127.0.0.1"
DEFAULT_STOP_TIMEOUT_S = 1.0
__all__ = ["DockServer", "DockStart", "MAX_CONNECTIONS", "MAX_STREAMS"]

RUNNING, STARTING, PORT_IN_USE, FAILED = "running", "starting", "port_in_use", "failed"


@dataclass(frozen=True)
class DockStart:
    """How starting went: ``outcome`` is ``running``, ``starting`` (the bind is tried again for a moment),
    ``port_in_use`` or ``failed``; ``port`` the port."""

    outcome: str
    port: int
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.outcome == "running"


class DockServer:
    """One dock server for one engine. ``port=0`` picks a free port (tests)."""

    def __init__(
        self,
        engine: Any,
        *,
        port: int,
        token: str,
        clock: Callable[[], float] = time.monotonic,
        bind_retry_s: float = BIND_RETRY_S,
    ) -> None:
        self.engine = engine
        self._port = port
        self._token = token
        self._bind_retry_s = bind_retry_s
        self._bucket = TokenBucket(CONTROL_BURST, CONTROL_REFILL_PER_S, clock)
        self._stopping = threading.Event()
        self._httpd: Optional[_HttpServer] = None
        self._thread: Optional[threading.Thread] = None
        self._outcome = ""
        self._lock = threading.Lock()
        self._connections: set = set()
        self._admitted = 0
        self._streams = 0
        self._closed = threading.Condition(self._lock)

    # --- start and stop ----------------------------------------------------------------

    def start(self) -> DockStart:
        """Bind and serve from a daemon thread; a port in use or a bind error is the outcome.

        Never waits: a port in use at the first try is tried again on the dock's thread
        (outcome ``starting``); :attr:`outcome` says how that ended.
        """
        if self._outcome:
            return DockStart(self._outcome, self._port)
        try:
            httpd = _HttpServer((HOST, self._port), DockHandler, self)
        except OSError as exc:
            if not _in_use(exc) or self._bind_retry_s <= 0:
                self._outcome = PORT_IN_USE if _in_use(exc) else FAILED
                return DockStart(self._outcome, self._port, exc.strerror or "")
            self._outcome = STARTING
            self._thread = threading.Thread(target=self._bind_again, name="ailicia-dock", daemon=True)
            self._thread.start()
            return DockStart(STARTING, self._port)
        self._publish(httpd)
        self._thread = threading.Thread(target=self._serve, args=(httpd,), name="ailicia-dock", daemon=True)
        self._thread.start()
        return DockStart(RUNNING, self._port)

    def _bind_again(self) -> None:
        """The dock's thread while the port is still held: bind again until free, the deadline, or stop."""
        give_up_at = time.monotonic() + self._bind_retry_s
        while not self._stopping.wait(BIND_RETRY_EVERY_S):
            try:
                httpd = _HttpServer((HOST, self._port), DockHandler, self)
            except OSError as exc:
                if _in_use(exc) and time.monotonic() < give_up_at:
                    continue
                self._outcome = PORT_IN_USE if _in_use(exc) else FAILED
                log.warning("%s", render_dock_line(self._outcome, self._port))
                return
            with self._lock:
                if self._stopping.is_set():
                    httpd.server_close()
                    return
                self._publish(httpd)  # from here serve_forever runs, so stop's shutdown() returns
            log.info("%s", render_dock_line(RUNNING, self._port))
            self._serve(httpd)
            return

    def _publish(self, httpd: _HttpServer) -> None:
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._outcome = RUNNING

    @staticmethod
    def _serve(httpd: _HttpServer) -> None:
        httpd.serve_forever(poll_interval=0.1)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
        """Stop serving, close every connection and the port; True when all our threads ended in time."""
        deadline = time.monotonic() + max(0.0, timeout)
        self._stopping.set()
        with self._lock:
            httpd, self._httpd = self._httpd, None
        if httpd is None:
            if self._thread is not None:  # still trying the bind: it sees the stop within one pause
                self._thread.join(max(0.0, deadline - time.monotonic()))
            return not (self._thread is not None and self._thread.is_alive())
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

    @property
    def outcome(self) -> str:
        """``running``, ``starting``, ``port_in_use``, ``failed``, or "" before :meth:`start`."""
        return self._outcome

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

    def admit(self) -> bool:
        """Count one more connection served, or False when :data:`.limits.MAX_CONNECTIONS` are."""
        with self._lock:
            if self._admitted >= MAX_CONNECTIONS or self._stopping.is_set():
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._admitted -= 1

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


def _in_use(exc: OSError) -> bool:
    return exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1))


def _hang_up(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


class _HttpServer(HTTPServer):
    """One daemon thread per admitted connection; beyond the budget, 503 at once from the serving thread."""

    # A flood waits in the kernel's queue to be answered 503, rather than having its connections dropped.
    request_queue_size = 64
    # On Windows SO_REUSEADDR lets a second program bind the same port: use exclusive binding there.
    allow_reuse_address = sys.platform != "win32"

    def __init__(self, address: Tuple[str, int], handler: type, dock: DockServer) -> None:
        self.dock = dock
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if sys.platform == "win32" and hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.dock.admit():
            _refuse_at_once(request)
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_one, args=(request, client_address), name="ailicia-dock-request", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: refused like any connection over the budget
            self.dock.release()
            _refuse_at_once(request)
            self.shutdown_request(request)

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.dock.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.dock.stopping.is_set():
            log.debug("Dock: a request failed (%s).", sys.exc_info()[0].__name__)


def _refuse_at_once(conn: socket.socket) -> None:
    """503 without waiting: a fresh socket's send buffer takes these few bytes, or they are dropped."""
    try:
        conn.setblocking(False)
        conn.send(canned_refusal("busy"))
    except OSError:
        pass
