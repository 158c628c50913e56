"""EventSubListener: the one background thread that reads ai_licia's live events (``GET /v1/eventsub/stream``).

It connects while the settings allow (:func:`wants_stream`), decodes the stream
with :class:`~ailicia_core.sse.SseDecoder` and hands each new envelope to
``on_envelope`` on its own thread (the callee must not block: the engine's
:class:`~ailicia_core.hearing.Hearing` only updates bounded, thread-safe places).

Policies, stated once:

- **Reconnecting.** After a drop, an error or a dead connection it waits
  :class:`~ailicia_core.backoff.Backoff` (equal jitter, from
  :data:`RECONNECT_BASE_S` up to :data:`RECONNECT_CAP_S`), never less than the
  server's last ``retry:``, and sends the last event id as ``Last-Event-ID``.
  A connection that answered 200 resets the backoff.
- **Duplicates.** The API has no replay today, but a server that resends after a
  reconnect must not make ai_licia's words appear twice: envelopes whose ``id``
  is among the last :data:`~ailicia_core.envelopes.DEDUPE_MEMORY` seen are dropped.
- **Dead connections.** No byte at all (pings and comments included) for
  :data:`IDLE_TIMEOUT_S` is a dead connection: once the headers are in (within
  :data:`HEADERS_TIMEOUT_S`), that is the timeout of every socket read, so no
  timer is needed.
- **Refusals.** 401 calls ``on_key_rejected`` (the delivery's key pause) and
  403/404 set a state; in all three the listener stays quiet until
  :meth:`reconfigure` brings a different key, channel, address or switch.
- **Bounds.** Lines and events are bounded by the decoder, duplicates by
  :data:`~ailicia_core.envelopes.DEDUPE_MEMORY`; there is no queue: each envelope is handed over at once.
- **Stopping.** :meth:`stop` (or :meth:`request_stop` then :meth:`join`) sets a
  flag and shuts the stream's socket down, which wakes a read blocked in the
  kernel at once: the daemon thread ends well within the unload budget even in
  the middle of a read. Closing (freeing) the socket happens on the listener's
  own thread, never from another one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import requests

from . import USER_AGENT
from .backoff import Backoff
from .envelopes import EVENT_TYPES, Envelope, RecentIds, parse_envelope
from .logsafe import register_secret
from .settings import Settings
from .sse import SseDecoder, SseEvent
from .transport import trust_os_store

log = logging.getLogger("ailicia")

STREAM_PATH = "/v1/eventsub/stream"
#: Seconds to wait for the TCP/TLS connection.
CONNECT_TIMEOUT_S = 5.0
#: Seconds to wait for the answer's headers. Until they come there is no response whose socket
#: :meth:`EventSubListener.stop` could shut down, so this bounds how long a stopped thread may linger.
HEADERS_TIMEOUT_S = 10.0
#: No byte for this long means the connection is dead (the docs promise pings every 30 s or so).
IDLE_TIMEOUT_S = 90.0
#: First wait before reconnecting, in seconds (jittered: between half of it and all of it).
RECONNECT_BASE_S = 2.0
#: Longest wait between two connection attempts, in seconds.
RECONNECT_CAP_S = 60.0
#: The ``retry:`` a server may ask for is honoured up to this many seconds.
MAX_SERVER_RETRY_S = 300.0

# What the listener is doing (words for people are in status.py).
OFF = "off"
CONNECTING = "connecting"
CONNECTED = "connected"
RETRYING = "retrying"
KEY_REJECTED = "key_rejected"
NOT_INCLUDED = "not_included"
NOT_FOUND = "not_found"
#: States in which only new settings make it try again.
HALTED = (KEY_REJECTED, NOT_INCLUDED, NOT_FOUND)


@dataclass(frozen=True)
class ListenerState:
    """A snapshot for the status: ``state`` is one of the constants above; ``retry_at`` is on the clock."""

    state: str = OFF
    retry_at: Optional[float] = None
    connects: int = 0
    drops: int = 0
    dead: int = 0
    duplicates: int = 0
    unreadable: int = 0


def wants_stream(settings: Settings) -> bool:
    """True when the settings say the listener should be connected."""
    return bool(settings.enabled and getattr(settings, "eventsub_enabled", True) and settings.is_configured)


def open_stream(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    timeout: Tuple[float, float],
) -> Any:
    """``GET`` the stream with ``requests`` (streamed, no redirects): the default opener."""
    return session.get(url, params=params, headers=headers, timeout=timeout, stream=True, allow_redirects=False)


class EventSubListener:
    """Reads the stream on a daemon thread; see the module docstring for every policy.

    ``opener`` replaces :func:`open_stream` in tests (it gets the session and the
    same arguments); ``clock`` (monotonic seconds) and ``rng`` drive the backoff.
    Without :meth:`start`, tests drive it with :meth:`run_once`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_envelope: Callable[[Envelope], None],
        on_connected: Callable[[], None] = lambda: None,
        on_key_rejected: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float],
        session: Any = None,
        opener: Callable[..., Any] = open_stream,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        reconnect_base_s: float = RECONNECT_BASE_S,
    ) -> None:
        self._settings = settings
        self._on_envelope = on_envelope
        self._on_connected = on_connected
        self._on_key_rejected = on_key_rejected
        self._clock = clock
        self._session = session
        self._owns_session = session is None
        self._opener = opener
        self._idle_timeout_s = idle_timeout_s
        self._backoff = Backoff(rng, base_s=reconnect_base_s, cap_s=RECONNECT_CAP_S)
        self._recent = RecentIds()
        self.last_event_id = ""
        self.retry_s: Optional[float] = None
        self._halted_for: Optional[Tuple[Any, ...]] = None
        self._state = ListenerState()
        self._counts: Dict[str, int] = {"connects": 0, "drops": 0, "dead": 0, "duplicates": 0, "unreadable": 0}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _response only; never held during I/O
        self._response: Any = None
        self._thread: Optional[threading.Thread] = None

    # --- any thread ---------------------------------------------------------------

    @property
    def state(self) -> ListenerState:
        return self._state

    def reconfigure(self, settings: Settings) -> None:
        """Take new settings; a change of account, address or switches drops the connection and retries now."""
        old, self._settings = self._settings, settings
        if _identity(old) != _identity(settings):
            self._halted_for = None
            self._backoff.succeeded()
            self._abort_stream()
            self._wake.set()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ailicia-eventsub", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end now (wakes a blocked read); returns at once."""
        self._stopping.set()
        self._wake.set()
        self._abort_stream()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the thread to end; True when it did (or never started)."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))
            return not self._thread.is_alive()
        return True

    def stop(self, timeout: float) -> bool:
        """:meth:`request_stop` then :meth:`join`: True when the thread ended within ``timeout``."""
        self.request_stop()
        return self.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                delay = self.run_once()
            except Exception as exc:  # a bug must not end listening for good
                log.warning("Live events: internal error (%s); trying again.", type(exc).__name__)
                log.debug("ai_licia-obs listener error", exc_info=True)
                delay = self._backoff.failed(self._clock())
            if self._stopping.is_set():
                break
            self._wake.wait(None if delay is None else min(delay, 3600.0))
        self._close_session()

    def run_once(self) -> Optional[float]:
        """One connection, read until it ends; returns the seconds to wait before the next (None: until woken)."""
        settings = self._settings
        if not wants_stream(settings):
            self._publish(OFF)
            return None
        if self._halted_for == _identity(settings):
            return None
        self._publish(CONNECTING)
        try:
            response = self._open(settings)
        except requests.RequestException as exc:
            log.info("Live events: could not connect (%s).", type(exc).__name__)
            return self._retry_later()
        try:
            return self._read(response, settings)
        finally:
            with self._lock:
                self._response = None
            response.close()

    # --- helpers (listener thread) ------------------------------------------------

    def _open(self, settings: Settings) -> Any:
        key = settings.api_key.reveal()
        register_secret(key)
        headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "text/event-stream",
            "Cache-Control": "no-cache",
            "User-Agent": USER_AGENT,
        }
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        if self._session is None:
            self._session = trust_os_store(requests.Session())
        url = settings.api_base_url.rstrip("/") + STREAM_PATH
        response = self._opener(
            self._session,
            url,
            params={"types": ",".join(EVENT_TYPES)},
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, min(HEADERS_TIMEOUT_S, self._idle_timeout_s)),
        )
        with self._lock:
            self._response = response
        if self._stopping.is_set():  # stop() came while connecting: it found no socket to shut
            self._abort_stream()
        return response

    def _read(self, response: Any, settings: Settings) -> Optional[float]:
        status = response.status_code
        if status == 401:
            return self._halt(settings, KEY_REJECTED, self._on_key_rejected)
        if status in (403, 404):
            log.warning("Live events: ai_licia answered %d; captions and confirmations are off.", status)
            return self._halt(settings, NOT_INCLUDED if status == 403 else NOT_FOUND)
        content_type = str(response.headers.get("Content-Type", ""))
        if status != 200 or not content_type.startswith("text/event-stream"):
            log.info("Live events: unexpected answer (%d %s); trying again.", status, content_type[:40])
            return self._retry_later()
        sock = _socket_of(response)
        if sock is not None:
            sock.settimeout(self._idle_timeout_s)  # from now on a read waits for a sign of life, not for headers
        self._backoff.succeeded()
        self._counts["connects"] += 1
        self._publish(CONNECTED)
        log.info("Live events: connected.")
        self._safely(self._on_connected)
        decoder = SseDecoder(last_event_id=self.last_event_id)
        chunked = "chunked" in str(response.headers.get("Transfer-Encoding", "")).lower()
        try:
            # A chunked body yields each chunk as it comes; otherwise only byte-sized reads never wait for more.
            for chunk in response.iter_content(chunk_size=None if chunked else 1):
                if self._stopping.is_set():
                    break
                for event in decoder.feed(chunk):
                    self._take(event)
                self._remember(decoder)
        except requests.RequestException as exc:
            self._remember(decoder)
            if self._stopping.is_set() or self._wake.is_set():
                return 0.0  # stopped, or new settings: no backoff
            dead = _is_read_timeout(exc)
            self._counts["dead" if dead else "drops"] += 1
            log.info("Live events: %s; reconnecting.", "no sign of life" if dead else "the connection dropped")
            return self._retry_later()
        if self._stopping.is_set() or self._wake.is_set():
            return 0.0
        self._counts["drops"] += 1
        log.info("Live events: the server ended the stream; reconnecting.")
        return self._retry_later()

    def _take(self, event: SseEvent) -> None:
        envelope = parse_envelope(event)
        if envelope is None:
            self._counts["unreadable"] += 1
            return
        if self._recent.seen(envelope.id):
            self._counts["duplicates"] += 1
            return
        self._safely(self._on_envelope, envelope)

    def _remember(self, decoder: SseDecoder) -> None:
        self.last_event_id = decoder.last_event_id
        if decoder.retry_ms is not None:
            self.retry_s = min(MAX_SERVER_RETRY_S, decoder.retry_ms / 1000.0)

    def _halt(self, settings: Settings, state: str, then: Callable[[], None] = lambda: None) -> None:
        self._halted_for = _identity(settings)
        self._publish(state)
        self._safely(then)
        return None

    def _retry_later(self) -> float:
        now = self._clock()
        wait = self._backoff.failed(now, at_least=self.retry_s)
        self._publish(RETRYING, retry_at=now + wait)
        return wait

    def _safely(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception as exc:  # what hears the events must not end listening
            log.warning("Live events: an event could not be handled (%s).", type(exc).__name__)
            log.debug("ai_licia-obs listener callback error", exc_info=True)

    def _publish(self, state: str, retry_at: Optional[float] = None) -> None:
        self._state = ListenerState(state=state, retry_at=retry_at, **self._counts)

    def _abort_stream(self) -> None:
        """Wake a read blocked on the stream's socket (any thread): shut it down, never close it here."""
        with self._lock:
            response = self._response
        sock = _socket_of(response) if response is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close_session(self) -> None:
        if self._owns_session and self._session is not None:
            self._session.close()
            self._session = None


def _identity(settings: Settings) -> Tuple[Any, ...]:
    """What decides whether and where to listen: a change here lifts a halt."""
    return (*settings.connection_key, wants_stream(settings))


def _socket_of(response: Any) -> Optional[socket.socket]:
    """The socket under a streamed ``requests`` response (urllib3 1.26 and 2.x), or None."""
    raw = getattr(response, "raw", None)
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # http.client's file object over the socket
        sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _is_read_timeout(exc: BaseException) -> bool:
    """True when ``exc`` (requests wraps it twice) is a read timeout rather than a drop."""
    seen = 0
    pending = [exc]
    while pending and seen < 10:
        current = pending.pop()
        seen += 1
        if isinstance(current, (requests.exceptions.ReadTimeout, socket.timeout)):
            return True
        if type(current).__name__ == "ReadTimeoutError":  # urllib3's, without importing urllib3
            return True
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        if current.__context__ is not None:
            pending.append(current.__context__)
    return False
