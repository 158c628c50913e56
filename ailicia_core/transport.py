"""One HTTP request with a deadline for the whole answer and a cap on its size.

``requests`` timeouts bound each socket read, not the request: a server that sends
its headers and then one byte every half second never trips a read timeout and holds
the caller for as long as it likes. :func:`fetch` bounds the *whole* exchange
(connect, send, headers, body) by one deadline:

- the body is read with ``stream=True`` in chunks, counting bytes against a cap
  (:data:`MAX_BODY_BYTES`), so a 600 MB or endless answer costs at most the cap in
  memory; a ``Content-Length`` over the cap fails before anything is read;
- a watchdog timer shuts the connection's socket down at the deadline, which wakes a
  read blocked inside ``http.client`` (it loops over ``recv`` until it has a whole
  chunk, so checking the clock between chunks alone could not);
- a connection that was cut off or overran the cap is closed, so its socket never
  goes back to the pool half-read.

The watchdog reaches the socket through :class:`WatchedAdapter`, a
``requests.HTTPAdapter`` whose pools make connections that report themselves to the
request running on their thread. It uses only public hooks of ``requests``
(``init_poolmanager``, ``proxy_manager_for``) and of ``urllib3`` (``ConnectionCls``,
``pool_classes_by_scheme``, ``connect``, ``request``), present in requests 2.28 /
urllib3 1.26 (Debian's OBS) and in current releases alike.

Certificates are checked against the operating system's trust store (the Windows store, the
macOS Keychain, the distribution's CA files) through ``truststore``, whose ``SSLContext`` the
adapter hands to urllib3; antivirus HTTPS scanning and company TLS inspection add their root
there, and only there. ``requests`` still passes certifi's bundle, which the context trusts as
well. Without ``truststore`` (not installed, Python older than 3.10) or when its context cannot
be built, certifi alone is used, as ``requests`` does by default. ``truststore.inject_into_ssl()``
is never called: other OBS scripts share this interpreter and its ``ssl`` module.

Failures are facts, raised as ``requests`` exceptions so that callers map them with
the rest: :class:`DeadlineExceeded` (a ``ReadTimeout``: the server may have acted on
the request), :class:`BodyTooLarge` and :class:`IncompleteBody`. Words for people live elsewhere.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager

from .bounded import cut_socket
from .retry_policy import CONNECT_TIMEOUT_S, MIN_DEADLINE_S
from .trust import os_trust_context

#: Bodies larger than this are refused: ai_licia's answers are a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
#: How much is read at a time; small enough that the cap is checked often.
CHUNK_BYTES = 8 * 1024


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole answer did not arrive within the request's deadline (the request may have arrived)."""


class IncompleteBody(requests.exceptions.ChunkedEncodingError):
    """The connection ended before the ``Content-Length`` the server announced (urllib3 1.26 would not say)."""


class BodyTooLarge(requests.exceptions.RequestException):
    """The answer's body is over ``limit`` bytes (announced by Content-Length or counted while reading)."""

    def __init__(self, limit: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(f"answer body over {limit} bytes", *args, **kwargs)
        self.limit = limit


def fetch(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline_s: float,
    max_bytes: int = MAX_BODY_BYTES,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> requests.Response:
    """``session.request(method, url, **options)`` whose whole answer arrives within ``deadline_s`` seconds.

    Returns the response with its body read (``.content`` works as usual). Raises
    :class:`DeadlineExceeded` at the deadline, :class:`BodyTooLarge` past
    ``max_bytes``, or any other ``requests`` exception as ``requests`` would. The
    session should have :func:`watch` applied; without it a blocked read ends at its
    per-read timeout rather than at the deadline.
    """
    budget = max(MIN_DEADLINE_S, deadline_s)
    ends_at = clock() + budget
    watch = _Watch()
    _current.watch = watch
    _in_flight_add(watch)
    watch.arm(budget)
    response: Optional[requests.Response] = None
    try:
        response = session.request(
            method, url, stream=True, timeout=(min(CONNECT_TIMEOUT_S, budget), budget), **options
        )
        # requests' own fields (no public way to hand it a body read elsewhere): .content/.json() now use this one.
        response._content = _read_capped(response, max_bytes, lambda: clock() > ends_at or watch.expired)  # noqa: SLF001
        response._content_consumed = True  # noqa: SLF001
        return response
    except BaseException as exc:
        if response is not None:
            response.close()
        # Half-read or cut: whatever urllib3 did with them, these sockets must not serve another request.
        watch.close_connections()
        if watch.expired and isinstance(exc, requests.exceptions.RequestException):
            raise DeadlineExceeded(f"no whole answer within {budget:.1f} s") from None
        raise
    finally:
        watch.disarm()
        _current.watch = None
        _in_flight_remove(watch)


def _read_capped(response: requests.Response, max_bytes: int, late: Callable[[], bool]) -> bytes:
    announced = response.headers.get("Content-Length", "")
    if announced.strip().isdigit() and int(announced) > max_bytes:
        raise BodyTooLarge(max_bytes)
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge(max_bytes)
        if late():
            raise DeadlineExceeded("deadline passed while reading")
    if late():  # a cut-off can look like a short body that ended normally
        raise DeadlineExceeded("deadline passed while reading")
    method = response.request.method if response.request is not None else ""
    bodiless = response.status_code in (204, 304) or method == "HEAD"  # a Content-Length with no body due
    if announced.strip().isdigit() and not bodiless and response.raw.tell() < int(announced):
        # tell() counts bytes off the wire (before decoding), the unit Content-Length uses.
        raise IncompleteBody(f"{response.raw.tell()} of {announced} bytes")
    return bytes(body)


def watch(session: requests.Session) -> requests.Session:
    """Mount :class:`WatchedAdapter` for http and https on ``session`` (once); returns it."""
    for prefix in ("https://", "http://"):
        current = session.adapters.get(prefix)
        if not isinstance(current, WatchedAdapter):
            session.mount(prefix, WatchedAdapter())
            if current is not None:
                current.close()
    return session


def cut_in_flight(thread: threading.Thread, within_s: float = 0.0) -> int:
    """Make every :func:`fetch` running on ``thread`` end within ``within_s`` seconds; returns how many.

    For shutdown: the request a worker thread is stuck in (whichever client or session
    made it) ends by the shutdown deadline with :class:`DeadlineExceeded` rather than at
    its own, later one. Safe from any thread; never blocks on the network.
    """
    with _in_flight_lock:
        watches = list(_in_flight.get(thread.ident or -1, ()))
    for one in watches:
        one.arm(max(0.0, within_s))
    return len(watches)


def speaks_plain_http(exc: BaseException) -> bool:
    """True when a TLS handshake failed because the server answered in plain HTTP (an ``http://`` address)."""
    text = repr(exc).upper()
    return isinstance(exc, requests.exceptions.SSLError) and any(
        mark in text for mark in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
    )


# --- the watchdog --------------------------------------------------------------------


class _Watch:
    """One request's watchdog: the connections it used, and a timer that shuts them down when it fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: List[Any] = []
        self._timer: Optional[threading.Timer] = None
        self._fires_at = float("inf")
        self._done = False
        self.expired = False

    def arm(self, seconds: float) -> None:
        """Fire in ``seconds`` unless already due sooner (or the request is over)."""
        with self._lock:
            fires_at = time.monotonic() + seconds
            if self._done or fires_at >= self._fires_at:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._fires_at = fires_at
            self._timer = threading.Timer(seconds, self.expire)
            self._timer.name = "ailicia-deadline"
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """The request is over: the timer stops (its thread ends at once) and is never armed again."""
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()

    def adopt(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.expired:
                _shut(connection)

    def close_connections(self) -> None:
        """Close every connection this request used (on the requesting thread, after the request)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.close()
            except OSError:
                pass

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._connections:
                _shut(connection)


def _shut(connection: Any) -> None:
    # Wakes a recv() blocked in another thread on every platform: shutdown() where that is enough (the
    # reader keeps its fd and closes it), and on Windows, where it is not, the handle is closed too
    # (bounded.cut_socket says how, safely for the reader).
    cut_socket(getattr(connection, "sock", None))


_current = threading.local()
_in_flight_lock = threading.Lock()
_in_flight: Dict[int, Set[_Watch]] = {}  # thread ident -> the fetches running on it (one, in practice)


def _in_flight_add(watch: _Watch) -> None:
    with _in_flight_lock:
        _in_flight.setdefault(threading.get_ident(), set()).add(watch)


def _in_flight_remove(watch: _Watch) -> None:
    with _in_flight_lock:
        running = _in_flight.get(threading.get_ident(), set())
        running.discard(watch)
        if not running:
            _in_flight.pop(threading.get_ident(), None)


def _report(connection: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.adopt(connection)


@contextlib.contextmanager
def connections_reported_to(watcher: Any) -> Iterator[None]:
    """While inside, every connection a :func:`watch`-ed session uses on this thread goes to ``watcher.adopt``.

    For a request that is not a :func:`fetch` (the event stream) but must still be cut
    at a deadline or a stop (see :class:`ailicia_core.bounded.Cut`).
    """
    previous = getattr(_current, "watch", None)
    _current.watch = watcher
    try:
        yield
    finally:
        _current.watch = previous


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self, *args: Any, **kwargs: Any) -> Any:
        _report(self)  # a new connection (urllib3 2 connects before request() for https)
        return super().connect(*args, **kwargs)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _report(self)  # a pooled connection being reused
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self, *args: Any, **kwargs: Any) -> Any:
        _report(self)
        return super().connect(*args, **kwargs)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _report(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class OsTrustAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose TLS connections trust the OS store (``ssl_context``; None: certifi only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ssl_context = os_trust_context()  # before super().__init__, which builds the pool manager
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **self._with_context(kwargs))

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return super().proxy_manager_for(proxy, **self._with_context(proxy_kwargs))

    def _with_context(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        context = getattr(self, "ssl_context", None)  # (absent on an adapter restored from a pickle)
        return {**kwargs, "ssl_context": context} if context is not None and "ssl_context" not in kwargs else kwargs


def trust_os_store(session: requests.Session) -> requests.Session:
    """Mount :class:`OsTrustAdapter` for https on ``session`` unless it has one already; returns it."""
    current = session.adapters.get("https://")
    if not isinstance(current, OsTrustAdapter):
        session.mount("https://", OsTrustAdapter())
        if current is not None:
            current.close()
    return session


class WatchedAdapter(OsTrustAdapter):
    """An :class:`OsTrustAdapter` whose connections can be shut down by :func:`fetch`'s watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _use_watched_pools(manager)
        return manager


def _use_watched_pools(manager: Any) -> None:
    # Only the stock managers: a SOCKS manager brings pool classes of its own.
    if type(manager) in (PoolManager, ProxyManager):
        manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
