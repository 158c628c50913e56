"""EventSubListener: the one background thread that reads ai_licia's live events (``GET /v1/eventsub/stream``).

It connects while the settings allow (:func:`wants_stream`), decodes the stream
with :class:`~ailicia_core.sse.SseDecoder` and hands each new envelope to
``on_envelope`` on its own thread (the callee must not block: the engine's
:class:`~ailicia_core.hearing.Hearing` only updates bounded, thread-safe places).

Policies, stated once:

- **Reconnecting.** After a drop, an error or a dead connection it waits
  :class:`~ailicia_core.backoff.Backoff` (equal jitter, from
  :data:`RECONNECT_BASE_S` up to :data:`RECONNECT_CAP_S`), never less than the
  server's last ``retry:``. The backoff resets only after a connection lived
  :data:`~ailicia_core.limits.EVENTSUB_STABLE_AFTER_S` or delivered an event: a
  server that closes right after its 200 is tried less and less often, and only the
  first of those quick ends is logged (and asks for the character list).
- **The event id.** The last id is sent back as ``Last-Event-ID`` only when it is
  safe to (:func:`~ailicia_core.sse.safe_event_id`); an unsafe id is dropped, never
  the stream. New settings (key, channel, address) forget it.
- **What is handed over** (:class:`~ailicia_core.eventsub_wire.EventGate`): not
  duplicates (a server that resends after a reconnect must not make her words appear
  twice), not pings, and not another channel's events (a key that controls several
  channels hears all of them; an envelope without a channel is taken).
- **Floods.** At most :data:`~ailicia_core.limits.EVENTSUB_EVENTS_PER_S` events a
  second (after a burst of :data:`~ailicia_core.limits.EVENTSUB_EVENT_BURST`) are
  handed over; the excess is counted and summarized in one log line a minute at
  most. Bytes are read at most :data:`~ailicia_core.limits.EVENTSUB_MAX_BYTES_PER_S`
  a second on average (the server waits), so a flood costs a sliver of a core.
- **Dead connections.** No byte at all (pings and comments included) for
  :data:`IDLE_TIMEOUT_S` is a dead connection: once the headers are in, that is the
  timeout of every socket read. Keep-alives may be comments or ``system.ping``.
- **Headers.** Connecting, sending and the answer's headers fit in one deadline,
  :data:`HEADERS_TIMEOUT_S` (not one per read): a server that trickles its headers
  is cut off then, and a stop cuts it at once.
- **Refusals.** 401 calls ``on_key_rejected`` (the delivery's key pause) and
  403/404 set a state; in all three the listener stays quiet until
  :meth:`reconfigure` brings a different key, channel, address or switch.
- **Bounds.** The stream is asked for uncompressed (``Accept-Encoding: identity``;
  a compressed answer is refused, never inflated) and read
  :data:`~ailicia_core.limits.READ_PIECE_BYTES` at most at a time, never a whole
  HTTP chunk (:func:`~ailicia_core.bounded.reader_of`); lines and events are bounded
  by the decoder; there is no queue: each envelope is handed over at once.
- **Stopping.** :meth:`stop` (or :meth:`request_stop` then :meth:`join`) sets a
  flag and cuts the socket (:class:`~ailicia_core.bounded.Cut`: on every platform,
  headers in or not): the thread ends well within the unload budget.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional, Tuple

import requests

from . import USER_AGENT
from . import limits as lim
from .backoff import Backoff
from .bounded import Budget, Cut, pieces, reader_of
from .envelopes import EVENT_TYPES, Envelope
from .eventsub_wire import (  # noqa: F401 (the states are the listener's: re-exported)
    CONNECTED,
    CONNECTING,
    HALTED,
    KEY_REJECTED,
    NOT_FOUND,
    NOT_INCLUDED,
    OFF,
    READ_ERRORS,
    RETRYING,
    EventGate,
    ListenerState,
    Rate,
    is_read_timeout,
    open_stream,
    socket_of,
    stream_headers,
)
from .logsafe import clean_external, register_secret
from .retry_policy import (
    CONNECT_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    LONGEST_SLEEP_S,
    MAX_SERVER_RETRY_S,
    RECONNECT_BASE_S,
    RECONNECT_CAP_S,
)
from .settings import Settings
from .sse import SseDecoder, safe_event_id
from .status import skipped_events_words
from .transport import connections_reported_to, watch

log = logging.getLogger("ailicia")

STREAM_PATH = "/v1/eventsub/stream"
#: Seconds for connecting, sending and the answer's headers, all of them (one deadline, cut by a timer).
HEADERS_TIMEOUT_S = lim.EVENTSUB_HEADERS_DEADLINE_S


def wants_stream(settings: Settings) -> bool:
    """True when the settings say the listener should be connected."""
    return bool(settings.enabled and getattr(settings, "eventsub_enabled", True) and settings.is_configured)


class EventSubListener:
    """Reads the stream on a daemon thread; see the module docstring for every policy.

    ``opener`` replaces :func:`open_stream` in tests (it gets the session and the
    same arguments); ``clock`` (monotonic seconds) and ``rng`` drive the backoff and
    the event rate. ``max_bytes_per_s``, ``events_per_s`` and ``event_burst`` change
    the flood bounds (:mod:`~ailicia_core.limits`) for tests and benchmarks.
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
        headers_timeout_s: float = HEADERS_TIMEOUT_S,
        max_bytes_per_s: float = lim.EVENTSUB_MAX_BYTES_PER_S,
        events_per_s: float = lim.EVENTSUB_EVENTS_PER_S,
        event_burst: int = lim.EVENTSUB_EVENT_BURST,
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
        self._headers_timeout_s = headers_timeout_s
        self._backoff = Backoff(rng, base_s=reconnect_base_s, cap_s=RECONNECT_CAP_S)
        #: The last safe event id, and the settings it belongs to (an id never crosses a change of account).
        self.last_event_id = ""
        self._id_for: Optional[Tuple[Any, ...]] = None
        self.retry_s: Optional[float] = None
        self._halted_for: Optional[Tuple[Any, ...]] = None
        self._state = ListenerState()
        self._gate = EventGate(Rate(events_per_s, event_burst, clock))
        self._counts = self._gate.counts
        self._bytes = Rate(max_bytes_per_s, max(lim.EVENTSUB_BURST_BYTES, max_bytes_per_s), time.monotonic)
        self._quick_ends = 0  # connections in a row that ended quickly without an event
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _cut only; never held during I/O
        self._cut: Optional[Cut] = None
        self._thread: Optional[threading.Thread] = None

    # --- any thread ---------------------------------------------------------------

    @property
    def state(self) -> ListenerState:
        """The last published state, with the counts as they are now."""
        published = self._state
        return ListenerState(state=published.state, retry_at=published.retry_at, **dict(self._counts))

    def reconfigure(self, settings: Settings) -> None:
        """Take new settings; a change of account, address or switches drops the connection and retries now."""
        old, self._settings = self._settings, settings
        if _identity(old) != _identity(settings):
            self.last_event_id = ""
            self._halted_for = None
            self._quick_ends = 0
            self._backoff.succeeded()
            self._abort_stream()
            self._wake.set()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ailicia-eventsub", daemon=True)
            self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end now (cuts a blocked read, headers or body); returns at once."""
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
            self._wake.wait(None if delay is None else min(delay, LONGEST_SLEEP_S))
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
        cut = Cut("ailicia-eventsub-deadline")
        with self._lock:
            self._cut = cut
        if self._stopping.is_set():  # stop() came before this cut existed
            cut.cut()
        response = None
        try:
            try:
                response = self._open(settings, cut)
            except READ_ERRORS as exc:
                if self._stopping.is_set() or self._wake.is_set():
                    return 0.0
                reason = "no answer in time" if cut.expired else type(exc).__name__
                self._log_quietly("Live events: could not connect (%s).", reason)
                return self._retry_later()
            return self._read(response, settings, cut)
        finally:
            with self._lock:
                self._cut = None
            cut.close()  # before the socket is freed: a late stop must not touch a reused number
            if response is not None:
                response.close()

    # --- helpers (listener thread) ------------------------------------------------

    def _open(self, settings: Settings, cut: Cut) -> Any:
        key = settings.api_key.reveal()
        register_secret(key)
        last_id = self.last_event_id if self._id_for == _identity(settings) else ""
        headers = stream_headers(key, safe_event_id(last_id), USER_AGENT)
        if self._session is None:
            # Watched: its connections can be cut before the headers come; and TLS trusts the OS store.
            self._session = watch(requests.Session())
        url = settings.api_base_url.rstrip("/") + STREAM_PATH
        cut.arm(self._headers_timeout_s)
        with connections_reported_to(cut):
            response = self._opener(
                self._session,
                url,
                params={"types": ",".join(EVENT_TYPES)},
                headers=headers,
                timeout=(CONNECT_TIMEOUT_S, min(self._headers_timeout_s, self._idle_timeout_s)),
            )
        cut.disarm()
        sock = socket_of(response)
        if sock is not None:
            cut.adopt(sock)  # also for a session whose connections were not reported
        return response

    def _read(self, response: Any, settings: Settings, cut: Cut) -> Optional[float]:
        status = response.status_code
        if status == 401:
            return self._halt(settings, KEY_REJECTED, self._on_key_rejected)
        if status in (403, 404):
            log.warning("Live events: ai_licia answered %d; captions and confirmations are off.", status)
            return self._halt(settings, NOT_INCLUDED if status == 403 else NOT_FOUND)
        content_type = str(response.headers.get("Content-Type", ""))
        encoding = str(response.headers.get("Content-Encoding", "")).strip().lower()  # refused, never inflated
        if status != 200 or not content_type.startswith("text/event-stream") or encoding not in ("", "identity"):
            answer = clean_external(f"{status} {content_type[:40]} {encoding[:20]}", 80)  # the server's words
            self._log_quietly("Live events: unexpected answer (%s); trying again.", answer)
            return self._retry_later()
        sock = socket_of(response)
        if sock is not None:
            sock.settimeout(self._idle_timeout_s)  # from now on a read waits for a sign of life, not for headers
        self._counts["connects"] += 1
        self._publish(CONNECTED)
        if not self._quick_ends:  # a server that keeps closing at once is not news each time
            log.info("Live events: connected.")
            self._safely(self._on_connected)
        decoder = SseDecoder(last_event_id=self.last_event_id if self._id_for == _identity(settings) else "")
        started = self._clock()
        delivered = False
        error: Optional[BaseException] = None
        try:
            for piece in pieces(reader_of(response), Budget(cut=cut)):
                for event in decoder.feed(piece):
                    envelope = self._gate.admit(event, settings.channel, self._clock())
                    if envelope is not None:
                        delivered = True
                        self._safely(self._on_envelope, envelope)
                self._remember(decoder, settings)
                self._report_skipped()
                wait = self._bytes.spend(len(piece))
                if self._stopping.is_set() or (wait > 0 and self._wake.wait(wait)):
                    break
        except READ_ERRORS as exc:
            self._remember(decoder, settings)
            error = exc
        self._report_skipped(force=True)
        if delivered or self._clock() - started >= lim.EVENTSUB_STABLE_AFTER_S:
            self._backoff.succeeded()
            self._quick_ends = 0
        else:
            self._quick_ends += 1
        if self._stopping.is_set() or self._wake.is_set():
            return 0.0  # stopped, or new settings: no backoff
        if error is not None and is_read_timeout(error):
            self._counts["dead"] += 1
            self._log_quietly("Live events: no sign of life; reconnecting.")
        else:
            self._counts["drops"] += 1
            ended = "the connection dropped" if error is not None else "the server ended the stream"
            if self._quick_ends == 1:
                log.info("Live events: %s right away; trying again less and less often.", ended)
            else:
                self._log_quietly("Live events: %s; reconnecting.", ended)
        return self._retry_later()

    def _remember(self, decoder: SseDecoder, settings: Settings) -> None:
        self.last_event_id = safe_event_id(decoder.last_event_id)  # an unsafe id is dropped, not sent back
        self._id_for = _identity(settings)
        if decoder.retry_ms is not None:
            self.retry_s = min(MAX_SERVER_RETRY_S, decoder.retry_ms / 1000.0)

    def _report_skipped(self, force: bool = False) -> None:
        """One log line for the events skipped since the last one, at most once per report period."""
        pending = self._gate.skips.due(self._clock(), lim.EVENTSUB_SKIPPED_REPORT_S, force)
        if pending is not None:
            log.info(skipped_events_words(*pending))

    def _log_quietly(self, message: str, *args: Any) -> None:
        """Log a connection outcome, at info only while the server is not closing at once over and over."""
        log.log(logging.DEBUG if self._quick_ends > 1 else logging.INFO, message, *args)

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
        """Cut the connection being opened or read (any thread): wakes a blocked read, never frees the socket."""
        with self._lock:
            cut = self._cut
        if cut is not None:
            cut.cut()

    def _close_session(self) -> None:
        if self._owns_session and self._session is not None:
            self._session.close()
            self._session = None


def _identity(settings: Settings) -> Tuple[Any, ...]:
    """What decides whether and where to listen: a change here lifts a halt and forgets the event id."""
    return (*settings.connection_key, wants_stream(settings))
