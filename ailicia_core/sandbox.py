"""Sandbox: a local stand-in for the ai_licia REST API, on loopback.

Streamers point the script's ``api_base_url`` at it to try their setup without
spending credits; the integration and end-to-end tests talk to it too. It follows
the API docs (streams.md, events.md, openapi.yaml) and needs the standard library
only.

Endpoints
    ``POST /v1/streams/{channel}``    join: 200 with a JoinChannelResponse (joined,
                                      alreadyJoined or timeout); 403 foreign channel
                                      or no credits; 404 unknown channel
    ``DELETE /v1/streams/{channel}``  leave: 202, no body
    ``POST /v1/events``               context: 200; 400 invalid; 401 channel not
                                      tied to the key; 422 content too long
    ``POST /v1/events/generations``   as above with its own limit, plus 429 inside
                                      the per-key window
    ``GET /v1/characters``            the two example characters of openapi.yaml

    A missing or unknown ``Authorization: Bearer <key>`` gets 401 with no body.
    Every key owns every owned channel. Channel names compare lowercase; the one
    in the path arrives URL-quoted. Other paths get 404, other methods on these
    paths 405, both without a body.

Content length
    The docs give the limits (:data:`~.limits.CONTEXT_MAX_CHARS`,
    :data:`~.limits.GENERATION_MAX_CHARS`) in "characters" without saying which
    kind. The sandbox counts the strictest plausible way: UTF-16 code units, as a
    Java or JavaScript server does. An emoji such as U+1F600 counts 2, "é" counts
    1. A text the sandbox accepts fits the real API under any reading.

Order of checks (the first that applies answers)
    1. ``drop_first``: the connection closes with no answer, at once.
    2. ``delay_s``: a wait before the answer. Lowering ``delay_s`` at runtime
       releases held requests; :meth:`Sandbox.stop` ends the wait and closes the
       connection with no answer.
    3. ``fail_first``: 503, no body.  4. ``garbage_first``: 200, ``<html>oops</html>``.
    5. Unknown path 404, wrong method 405, missing or unknown key 401.
    6. The endpoint's own checks, below.

    The fault counters are taken in arrival order. Faults stand for trouble in
    front of the API (a proxy, the network): a request they answer changes nothing.

    Join: foreign 403, unknown 404, ``no_credits`` 403 with a JSON body; a joined
    channel answers ``alreadyJoined`` at once. Otherwise the sandbox waits
    ``join_delay_s`` and answers joined or, while ``join_timeouts`` lasts or with
    ``join_always_times_out``, the timeout payload. As with the real API, where
    the join may still complete, the channel counts as joined after a timeout.

    Events and generations: 400 (invalid JSON, missing ``eventType``,
    ``data.channelName`` or ``data.content``, a ``data.ttl`` that is not a whole
    number >= 0), then 401 for a channel not tied to the key, then 422. Only then
    does a generation meet the window: one accepted per ``generation_window_s``
    per API key; earlier ones get 429 with ``Retry-After`` (whole seconds left,
    rounded up) unless ``no_retry_after``. A 429 does not restart the window.

Output
    One line on stdout per request, when it is answered (the status is part of
    the line). The API key is never printed; the line says ``auth ok``, ``bad key``
    or ``no key``. With ``record_path``, every request is also appended to that
    JSON-lines file with the keys ``t`` (epoch seconds), ``method``, ``path``,
    ``channel``, ``body`` (the parsed JSON, null if none or unparseable),
    ``status`` (null when no answer was sent) and ``auth``.

Command line
    ``python -m ailicia_core.sandbox --help``; :func:`add_arguments` and :func:`run`
    let another command line host the same options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Sequence, Tuple
from urllib.parse import unquote, urlsplit

from . import __version__
from .limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS, GENERATION_WINDOW_S, JOIN_SERVER_WAIT_S
from .logsafe import redact

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_CHANNEL = "mychannel"
DEFAULT_FOREIGN_CHANNEL = "someoneelse"
DEFAULT_JOIN_DELAY_S = 0.2
DEFAULT_CLI_PORT = 8787

AUTH_OK = "auth ok"
AUTH_BAD = "bad key"
AUTH_MISSING = "no key"

GARBAGE_BODY = b"<html>oops</html>"
#: Request bodies above this size get 413: the real limits are far below it.
MAX_BODY_BYTES = 64 * 1024
#: An idle keep-alive connection is closed after this long.
IDLE_CONNECTION_TIMEOUT_S = 30.0
_CONTENT_PREVIEW_CHARS = 60

#: The examples of ``GET /v1/characters`` in openapi.yaml.
CHARACTERS = (
    {
        "id": "char_123",
        "name": "Captain Vibes",
        "description": "Energetic persona that keeps hype levels high.",
        "isActive": True,
    },
    {
        "id": "char_456",
        "name": "Cozy Willow",
        "description": "Chill storyteller for quiet late-night streams.",
        "isActive": False,
    },
)

JOINED_MESSAGE = "AI successfully joined channel"
ALREADY_JOINED_MESSAGE = "AI already in channel"
JOIN_TIMEOUT_MESSAGE = f"Join request sent but AI join confirmation timed out after {int(JOIN_SERVER_WAIT_S)} seconds"
NO_CREDITS_MESSAGE = "ai_licia needs an active subscription or credits to join (sandbox: no_credits is on)"

#: The switches :meth:`Sandbox.set_faults` may change while the sandbox runs.
RUNTIME_SWITCHES = (
    "delay_s",
    "fail_first",
    "drop_first",
    "join_timeouts",
    "join_always_times_out",
    "garbage_first",
    "no_credits",
    "no_retry_after",
    "join_delay_s",
    "generation_window_s",
)
_COUNTERS = ("fail_first", "drop_first", "join_timeouts", "garbage_first")
_FLAGS = ("join_always_times_out", "no_credits", "no_retry_after")
_DURATIONS = ("delay_s", "join_delay_s", "generation_window_s")


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units: what a Java or JavaScript server counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class SandboxConfig:
    """How a :class:`Sandbox` behaves. ``port=0`` picks a free port.

    ``clock`` (monotonic seconds) times the generation window; tests may pass a
    fake one. :meth:`Sandbox.wait_for_generation_window` assumes the real clock.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: Sequence[str] = (DEFAULT_API_KEY,)
    channels: Sequence[str] = (DEFAULT_CHANNEL,)
    foreign_channels: Sequence[str] = (DEFAULT_FOREIGN_CHANNEL,)
    generation_window_s: float = GENERATION_WINDOW_S
    join_delay_s: float = DEFAULT_JOIN_DELAY_S
    no_credits: bool = False
    no_retry_after: bool = False
    delay_s: float = 0.0
    fail_first: int = 0
    drop_first: int = 0
    join_timeouts: int = 0
    join_always_times_out: bool = False
    garbage_first: int = 0
    record_path: str | os.PathLike | None = None
    quiet: bool = False
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the sandbox saw and answered it. ``status`` is None when no answer was sent."""

    method: str
    path: str
    channel: str | None
    body: Any
    status: int | None
    auth: str
    t: float

    def to_json(self) -> Dict[str, Any]:
        """The record-file line for this request."""
        return {
            "t": self.t,
            "method": self.method,
            "path": self.path,
            "channel": self.channel,
            "body": self.body,
            "status": self.status,
            "auth": self.auth,
        }


@dataclass(frozen=True)
class _Incoming:
    """A request as read off the wire. ``api_key`` stays in memory, never in output."""

    method: str
    path: str
    auth: str
    api_key: str | None
    body: Any
    body_is_json: bool
    channel: str | None
    t: float


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: close the connection without answering
    body: bytes = b""
    content_type: str = "application/json"
    headers: Tuple[Tuple[str, str], ...] = ()
    close: bool = False


_NO_ANSWER = _Answer(None)


def _json_answer(status: int, payload: Any, headers: Tuple[Tuple[str, str], ...] = ()) -> _Answer:
    return _Answer(status, json.dumps(payload).encode("utf-8"), headers=headers)


def _empty_answer(status: int, headers: Tuple[Tuple[str, str], ...] = ()) -> _Answer:
    return _Answer(status, headers=headers)


class Sandbox:
    """A loopback ai_licia API. ``start()`` serves in a daemon thread; ``stop()`` ends it.

    Every public method is thread-safe. Use it as a context manager to pair the
    start with the stop.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._config = _normalized(config if config is not None else SandboxConfig())
        self._lock = threading.Lock()  # guards _config, _joined, _last_generation, _join_requests
        self._state_changed = threading.Condition(self._lock)
        self._joined: set = set()
        self._last_generation: Dict[str, float] = {}
        self._join_requests = 0
        self._recorded: List[RecordedRequest] = []
        self._in_flight = 0
        self._record_file: Any = None
        self._traffic = threading.Condition()  # guards _recorded, _in_flight, _record_file
        self._connections: set = set()
        self._connections_changed = threading.Condition()
        self._output_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- start and stop ---------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen and serve in a daemon thread; returns self. A stopped sandbox cannot restart."""
        if self._stopping.is_set():
            raise RuntimeError("this sandbox was stopped; create a new one")
        if self._server is not None:
            return self
        config = self._config
        server = _Server((config.host, config.port), self)
        try:
            if config.record_path is not None:
                self._record_file = open(config.record_path, "a", encoding="utf-8")
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_until, args=(self._stopping,), name="ailicia-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving; returns within about ``timeout`` even with requests in flight.

        Delayed requests are cut short and their connections closed unanswered.
        Safe to call twice; before :meth:`start` it does nothing.
        """
        if self._server is None:
            return  # never started: nothing to stop, and it may still start
        deadline = time.monotonic() + timeout
        already_stopping = self._stopping.is_set()
        self._stopping.set()
        with self._state_changed:
            self._state_changed.notify_all()  # ends delays and window waits
        if not already_stopping:
            self._server.wake()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        if not already_stopping:
            self._server.server_close()
        self._close_connections(deadline)
        with self._traffic:
            if self._record_file is not None:
                self._record_file.close()
                self._record_file = None
            self._traffic.notify_all()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- what tests and the command line read -----------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the client, e.g. ``http://127.0.0.1:8787``."""
        host, port = self._server_address()
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"  # listening everywhere: loopback is the address that works here
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server_address()[1]

    @property
    def config(self) -> SandboxConfig:
        """A copy of the current configuration, faults included."""
        with self._lock:
            return replace(self._config)

    @property
    def requests(self) -> List[RecordedRequest]:
        """The requests answered (or dropped) so far, oldest first; a copy.

        A request is recorded just before its answer leaves, so a client that holds
        its answer (or its closed connection) finds the request here.
        """
        with self._traffic:
            return list(self._recorded)

    @property
    def joined_channels(self) -> FrozenSet[str]:
        """The channels ai_licia is in right now (lowercase)."""
        with self._lock:
            return frozenset(self._joined)

    @property
    def in_flight(self) -> int:
        """Requests received and not answered yet (for example, held by ``delay_s``)."""
        with self._traffic:
            return self._in_flight

    def wait_for(self, predicate: Callable[[List[RecordedRequest]], Any], timeout: float) -> bool:
        """Wait until ``predicate(requests)`` is true; False if ``timeout`` passes first."""
        with self._traffic:
            return bool(self._traffic.wait_for(lambda: predicate(list(self._recorded)), timeout))

    def wait_for_in_flight(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` requests are held unanswered; False on timeout."""
        with self._traffic:
            return bool(self._traffic.wait_for(lambda: self._in_flight >= count, timeout))

    def wait_for_generation_window(self, timeout: float, api_key: str | None = None) -> bool:
        """Wait until a generation for ``api_key`` (None: every key) would be accepted.

        False if ``timeout`` passes first or the sandbox stops. Meant for the real clock.
        """
        deadline = time.monotonic() + timeout
        with self._state_changed:
            while True:
                remaining = self._window_remaining(api_key)
                if remaining <= 0:
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return False
                self._state_changed.wait(min(remaining, left))

    def set_faults(self, **switches: Any) -> None:
        """Change switches at runtime, e.g. ``set_faults(fail_first=2, delay_s=0.5)``.

        Accepts the names in :data:`RUNTIME_SWITCHES`; a counter set here replaces
        what is left of it.
        """
        unknown = sorted(set(switches) - set(RUNTIME_SWITCHES))
        if unknown:
            raise TypeError(f"unknown fault switch(es): {', '.join(unknown)}")
        for name, value in switches.items():
            _check_switch(name, value)
        with self._state_changed:
            self._config = replace(self._config, **switches)
            self._state_changed.notify_all()

    # -- serving (called from the handler threads) ------------------------------

    def _current(self) -> SandboxConfig:
        """The live configuration; never mutated, only replaced, so reading it needs no lock."""
        return self._config

    def _answer(self, req: _Incoming) -> _Answer:
        """Decide the answer to one request, waiting where a delay says so."""
        arrived = time.monotonic()
        if self._stopping.is_set():
            return _NO_ANSWER
        fault = self._take_fault()
        if fault == "drop" or not self._hold(arrived):
            return _NO_ANSWER
        if fault == "fail":
            return _empty_answer(503)
        if fault == "garbage":
            return _Answer(200, GARBAGE_BODY, content_type="text/html")
        return self._route(req)

    def _take_fault(self) -> str | None:
        with self._lock:
            config = self._config
            for name, fault in (("drop_first", "drop"), ("fail_first", "fail"), ("garbage_first", "garbage")):
                left = getattr(config, name)
                if left > 0:
                    self._config = replace(config, **{name: left - 1})
                    return fault
            return None

    def _hold(self, arrived: float) -> bool:
        """Hold a request until ``delay_s`` after ``arrived``; False if the sandbox stops meanwhile.

        The delay is read again at every wake-up, so ``set_faults(delay_s=0)`` releases
        held requests, and :meth:`stop` (which notifies) ends the wait at once.
        """
        with self._state_changed:
            while not self._stopping.is_set():
                remaining = arrived + self._config.delay_s - time.monotonic()
                if remaining <= 0:
                    return True
                self._state_changed.wait(remaining)
            return False

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the sandbox stopped meanwhile."""
        return not self._stopping.wait(seconds)

    def _route(self, req: _Incoming) -> _Answer:
        target = _stream_channel(req.path)
        if target is not None:
            allowed = {"POST": self._join, "DELETE": self._leave}
            action = allowed.get(req.method)
            if action is None or req.auth != AUTH_OK:
                return self._refuse(req, allowed)
            return action(target)
        endpoints: Dict[str, Dict[str, Callable[[], _Answer]]] = {
            "/v1/characters": {"GET": lambda: _json_answer(200, list(CHARACTERS))},
            "/v1/events": {"POST": lambda: self._event(req, generation=False)},
            "/v1/events/generations": {"POST": lambda: self._event(req, generation=True)},
        }
        allowed = endpoints.get(req.path)
        if allowed is None:
            return _empty_answer(404)
        action = allowed.get(req.method)
        if action is None or req.auth != AUTH_OK:
            return self._refuse(req, allowed)
        return action()

    @staticmethod
    def _refuse(req: _Incoming, allowed: Dict[str, Any]) -> _Answer:
        if req.method not in allowed:
            return _empty_answer(405, (("Allow", ", ".join(sorted(allowed))),))
        return _empty_answer(401)

    def _channel_refusal(self, channel: str) -> _Answer | None:
        config = self._current()
        if channel in config.foreign_channels:
            return _empty_answer(403)
        if channel not in config.channels:
            return _empty_answer(404)
        return None

    def _join(self, channel: str) -> _Answer:
        refusal = self._channel_refusal(channel)
        if refusal is not None:
            return refusal
        with self._lock:
            config = self._config
            already = channel in self._joined
        if config.no_credits:
            return _json_answer(403, {"success": False, "message": NO_CREDITS_MESSAGE, "requiresSubscription": True})
        if already:
            return _json_answer(200, {"success": True, "message": ALREADY_JOINED_MESSAGE, "alreadyJoined": True})
        if not self._pause(config.join_delay_s):
            return _NO_ANSWER
        with self._state_changed:
            if channel in self._joined:  # a concurrent join got there first
                return _json_answer(200, {"success": True, "message": ALREADY_JOINED_MESSAGE, "alreadyJoined": True})
            self._joined.add(channel)
            self._state_changed.notify_all()
            config = self._config
            if not (config.join_always_times_out or config.join_timeouts > 0):
                return _json_answer(
                    200,
                    {
                        "success": True,
                        "message": JOINED_MESSAGE,
                        "joinedAt": int(time.time() * 1000),
                        "channelId": f"ch_{channel}",
                    },
                )
            if not config.join_always_times_out:
                self._config = replace(config, join_timeouts=config.join_timeouts - 1)
            self._join_requests += 1
            request_id = f"req_{self._join_requests}"
        return _json_answer(
            200, {"success": False, "message": JOIN_TIMEOUT_MESSAGE, "timeout": True, "joinRequestId": request_id}
        )

    def _leave(self, channel: str) -> _Answer:
        refusal = self._channel_refusal(channel)
        if refusal is not None:
            return refusal
        with self._state_changed:
            self._joined.discard(channel)
            self._state_changed.notify_all()
        return _empty_answer(202)

    def _event(self, req: _Incoming, *, generation: bool) -> _Answer:
        problem = _event_problem(req.body, req.body_is_json)
        if problem is not None:
            return _json_answer(400, {"message": problem})
        data = req.body["data"]
        if data["channelName"].lower() not in self._current().channels:
            return _empty_answer(401)  # openapi.yaml: "401 Not allowed to send events for this channel"
        limit = GENERATION_MAX_CHARS if generation else CONTEXT_MAX_CHARS
        length = utf16_length(data["content"])
        if length > limit:
            return _json_answer(
                422,
                {"message": f"Content exceeds the {limit}-character limit ({length}, counted in UTF-16 code units)"},
            )
        if not generation:
            return _json_answer(200, {"success": True, "message": "Event received"})
        return self._accept_generation(req.api_key or "")

    def _accept_generation(self, api_key: str) -> _Answer:
        with self._state_changed:
            remaining = self._window_remaining(api_key)
            if remaining > 0:
                config = self._config
                headers = () if config.no_retry_after else (("Retry-After", str(max(1, math.ceil(remaining)))),)
                message = f"Too many requests: one generation per {config.generation_window_s:g} seconds per API key"
                return _json_answer(429, {"message": message}, headers)
            self._last_generation[api_key] = self._config.clock()
            self._state_changed.notify_all()
        return _json_answer(200, {"success": True, "message": "Generation request accepted"})

    def _window_remaining(self, api_key: str | None) -> float:
        """Seconds until ``api_key`` (None: every key) may generate again. Caller holds the lock."""
        if api_key is None:
            starts = list(self._last_generation.values())
        else:
            starts = [self._last_generation[api_key]] if api_key in self._last_generation else []
        if not starts:
            return 0.0
        return self._config.generation_window_s - (self._config.clock() - max(starts))

    # -- bookkeeping (handler threads) ------------------------------------------

    def _arrived(self) -> None:
        with self._traffic:
            self._in_flight += 1
            self._traffic.notify_all()

    def _finished(self, req: _Incoming, status: int | None) -> None:
        record = RecordedRequest(req.method, req.path, req.channel, req.body, status, req.auth, req.t)
        config = self._current()
        if not config.quiet:  # before recording, so whoever waits for the record finds the line printed
            self._print(_request_line(record), config.api_keys)
        with self._traffic:
            self._in_flight -= 1
            self._recorded.append(record)
            if self._record_file is not None:
                self._record_file.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                self._record_file.flush()
            self._traffic.notify_all()

    def _print(self, line: str, secrets: Sequence[str]) -> None:
        line = redact(line, secrets)
        with self._output_lock:
            try:
                print(line, flush=True)
            except UnicodeEncodeError:  # a console that cannot show the content
                print(line.encode("ascii", "backslashreplace").decode("ascii"), flush=True)
            except (OSError, ValueError):  # stdout gone: serving matters more than the log line
                pass

    def _connection_opened(self, sock: socket.socket) -> bool:
        with self._connections_changed:
            if self._stopping.is_set():
                return False
            self._connections.add(sock)
            return True

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._connections_changed:
            self._connections.discard(sock)
            self._connections_changed.notify_all()

    def _close_connections(self, deadline: float) -> None:
        """Wake every handler thread (idle keep-alive reads included) and wait for them."""
        with self._connections_changed:
            for sock in list(self._connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections_changed.wait_for(lambda: not self._connections, max(0.0, deadline - time.monotonic()))

    def _server_address(self) -> Tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops bursts of connects, which then wait a second to retry
    timeout = 0  # handle_request() is only called once a connection waits; never block in it

    def __init__(self, address: Tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._wake_reader, self._wake_writer = socket.socketpair()
        super().__init__(address, _Handler)  # on failure it calls server_close(), closing the pair

    def serve_until(self, stopping: threading.Event) -> None:
        """Accept connections until ``stopping`` is set and :meth:`wake` is called.

        Unlike ``serve_forever``, which polls for its stop flag, this sleeps in
        ``select`` until a client or :meth:`wake` arrives, so stopping is immediate.
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self and not stopping.is_set():
                        self.handle_request()

    def wake(self) -> None:
        """Make :meth:`serve_until` look at its stop event now."""
        try:
            self._wake_writer.send(b"\0")
        except OSError:
            pass

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's full name, which can take
        # seconds on a badly configured machine; the sandbox never needs it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away or stop() closed the socket: nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"ailicia-sandbox/{__version__}"
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # Headers and body leave in two writes; with Nagle on, each answer would wait
    # for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._accepted = self.server.sandbox._connection_opened(self.connection)

    def handle(self) -> None:
        if self._accepted:
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._connection_closed(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the sandbox prints its own, key-free line per request

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        req = self._read_request(sandbox._current().api_keys)
        if req is None:
            return
        sandbox._arrived()
        answer = _NO_ANSWER
        try:
            answer = sandbox._answer(req)
        finally:
            # Recorded before the answer leaves: a client holding its answer finds it in .requests.
            sandbox._finished(req, answer.status)
        if answer.status is None:
            self.close_connection = True
        else:
            self._send(answer)

    def _read_request(self, api_keys: Sequence[str]) -> _Incoming | None:
        """The request with its body; None after answering a body the sandbox will not read."""
        t = time.time()
        if self.headers.get("Transfer-Encoding"):
            self._send(_Answer(411, close=True))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(_Answer(400 if length < 0 else 413, close=True))
            return None
        raw = self.rfile.read(length) if length else b""
        body, is_json = _parse_json(raw)
        auth, api_key = _authenticate(self.headers.get("Authorization"), api_keys)
        path = urlsplit(self.path).path
        return _Incoming(self.command, path, auth, api_key, body, is_json, _channel_of(path, body), t)

    def _send(self, answer: _Answer) -> None:
        self.send_response(answer.status or 500)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.body:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        if answer.close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)


# -- pure helpers ---------------------------------------------------------------


def _normalized(config: SandboxConfig) -> SandboxConfig:
    """``config`` with names as tuples (channels lowercase), after checking every value."""

    def names(value: str | Sequence[str], what: str, lower: bool) -> Tuple[str, ...]:
        items = (value,) if isinstance(value, str) else tuple(value)
        if not all(isinstance(item, str) and item.strip() for item in items):
            raise ValueError(f"{what} must be non-empty strings")
        return tuple(item.strip().lower() if lower else item.strip() for item in items)

    api_keys = names(config.api_keys, "api_keys", lower=False)
    if not api_keys:
        raise ValueError("the sandbox needs at least one API key")
    channels = names(config.channels, "channels", lower=True)
    foreign = names(config.foreign_channels, "foreign_channels", lower=True)
    both = sorted(set(channels) & set(foreign))
    if both:
        raise ValueError(f"a channel cannot be both owned and foreign: {', '.join(both)}")
    if not isinstance(config.port, int) or not 0 <= config.port <= 65535:
        raise ValueError("port must be 0..65535 (0 picks a free port)")
    for name in RUNTIME_SWITCHES:
        _check_switch(name, getattr(config, name))
    return replace(config, api_keys=api_keys, channels=channels, foreign_channels=foreign)


def _check_switch(name: str, value: Any) -> None:
    if name in _COUNTERS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    elif name in _FLAGS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, not {value!r}")
    elif name in _DURATIONS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")


def _parse_json(raw: bytes) -> Tuple[Any, bool]:
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
        return None, False


def _authenticate(header: str | None, api_keys: Sequence[str]) -> Tuple[str, str | None]:
    """(auth word for the output, the key if it is one of ``api_keys``)."""
    if not header or not header.strip():
        return AUTH_MISSING, None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token in api_keys:
        return AUTH_OK, token
    return AUTH_BAD, None


def _stream_channel(path: str) -> str | None:
    """The channel of a ``/v1/streams/{channel}`` path (unquoted, lowercase), else None."""
    parts = path.split("/")
    if len(parts) == 4 and parts[:3] == ["", "v1", "streams"] and parts[3]:
        return unquote(parts[3]).lower()
    return None


def _channel_of(path: str, body: Any) -> str | None:
    """The channel a request is about: from the path, else from ``data.channelName``."""
    channel = _stream_channel(path)
    if channel is not None:
        return channel
    data = body.get("data") if isinstance(body, dict) else None
    name = data.get("channelName") if isinstance(data, dict) else None
    return name.lower() if isinstance(name, str) else None


def _event_problem(body: Any, is_json: bool) -> str | None:
    """Why an events or generations body is invalid (400), or None."""
    if not is_json:
        return "the body must be JSON"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    event_type = body.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        return "eventType is missing"
    data = body.get("data")
    if not isinstance(data, dict):
        return "data is missing"
    channel = data.get("channelName")
    if not isinstance(channel, str) or not channel.strip():
        return "data.channelName is missing"
    if not isinstance(data.get("content"), str):
        return "data.content is missing"
    ttl = data.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        return "data.ttl must be a whole number of seconds"
    return None


def _request_line(record: RecordedRequest) -> str:
    """One readable output line; it holds no API key (``record`` has none)."""
    clock = time.strftime("%H:%M:%S", time.localtime(record.t)) + f".{int(record.t * 1000) % 1000:03d}"
    status = "no answer" if record.status is None else str(record.status)
    line = f"{clock}  {record.method:<6} {record.path:<24} {record.channel or '-':<14} {status:>9}  {record.auth:<7}"
    data = record.body.get("data") if isinstance(record.body, dict) else None
    content = data.get("content") if isinstance(data, dict) else None
    if isinstance(content, str):
        preview = content if len(content) <= _CONTENT_PREVIEW_CHARS else content[: _CONTENT_PREVIEW_CHARS - 1] + "…"
        line += f"  {json.dumps(preview, ensure_ascii=False)} ({utf16_length(content)})"
    # Escaped, so that a path or text from the client cannot drive the terminal.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line.rstrip())


# -- command line ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to ``parser`` (their ``dest`` names match :class:`SandboxConfig`)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_CLI_PORT,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help=f"an accepted API key; repeat for more (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--channel",
        dest="channels",
        action="append",
        metavar="NAME",
        help=f"a channel the keys own; repeat for more (default: {DEFAULT_CHANNEL})",
    )
    parser.add_argument(
        "--foreign-channel",
        dest="foreign_channels",
        action="append",
        metavar="NAME",
        help=f"a channel that is someone else's (403); repeat for more (default: {DEFAULT_FOREIGN_CHANNEL})",
    )
    parser.add_argument(
        "--window",
        dest="generation_window_s",
        type=_seconds,
        default=GENERATION_WINDOW_S,
        metavar="SECONDS",
        help="one generation per this many seconds per key (default: %(default)g)",
    )
    parser.add_argument(
        "--join-delay",
        dest="join_delay_s",
        type=_seconds,
        default=DEFAULT_JOIN_DELAY_S,
        metavar="SECONDS",
        help="how long a join takes (default: %(default)g)",
    )
    parser.add_argument(
        "--delay", dest="delay_s", type=_seconds, default=0.0, metavar="SECONDS", help="delay before every answer"
    )
    parser.add_argument("--fail-first", type=_count, default=0, metavar="N", help="answer the next N requests with 503")
    parser.add_argument(
        "--drop-first", type=_count, default=0, metavar="N", help="close the next N connections without an answer"
    )
    parser.add_argument(
        "--join-timeouts", type=_count, default=0, metavar="N", help="the next N joins answer the timeout payload"
    )
    parser.add_argument("--join-always-times-out", action="store_true", help="every join answers the timeout payload")
    parser.add_argument(
        "--garbage-first", type=_count, default=0, metavar="N", help="answer the next N requests with 200 and HTML"
    )
    parser.add_argument("--no-credits", action="store_true", help="joins get 403 requiresSubscription")
    parser.add_argument("--no-retry-after", action="store_true", help="send 429 without a Retry-After header")
    parser.add_argument(
        "--record", dest="record_path", metavar="FILE", help="append every request to FILE (JSON lines)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print a line per request")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` that parsed :func:`add_arguments` options describe."""
    return SandboxConfig(
        host=args.host,
        port=args.port,
        api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
        channels=tuple(args.channels or (DEFAULT_CHANNEL,)),
        foreign_channels=tuple(args.foreign_channels or (DEFAULT_FOREIGN_CHANNEL,)),
        generation_window_s=args.generation_window_s,
        join_delay_s=args.join_delay_s,
        no_credits=args.no_credits,
        no_retry_after=args.no_retry_after,
        delay_s=args.delay_s,
        fail_first=args.fail_first,
        drop_first=args.drop_first,
        join_timeouts=args.join_timeouts,
        join_always_times_out=args.join_always_times_out,
        garbage_first=args.garbage_first,
        record_path=args.record_path,
        quiet=args.quiet,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C (SIGINT) or SIGTERM; 0 after a clean stop, 2 if it cannot start."""
    stop_requested = threading.Event()
    with _stop_on_signals(stop_requested):
        try:
            sandbox = Sandbox(config_from_args(args)).start()
        except (OSError, ValueError) as err:
            print(f"sandbox: cannot start on {args.host}:{args.port}: {err}", file=sys.stderr, flush=True)
            return 2
        try:
            print(_banner(sandbox), flush=True)
            # A timed wait, because on Windows an untimed one never lets a signal handler run.
            while not stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:  # Ctrl+C when no handler could be installed
            pass
        finally:
            sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ailicia_core.sandbox",
        description="A local stand-in for the ai_licia API: try your OBS setup without spending credits.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _banner(sandbox: Sandbox) -> str:
    config = sandbox.config
    faults = [
        f"{name}={getattr(config, name)}"
        for name in RUNTIME_SWITCHES
        if name in _COUNTERS + _FLAGS + ("delay_s",) and getattr(config, name)
    ]
    return "\n".join(
        [
            f"ai_licia sandbox listening on {sandbox.url}",
            f"  API key:  {config.api_keys[0]}",
            f"  channel:  {', '.join(config.channels)} (someone else's: {', '.join(config.foreign_channels)})",
            f"  faults:   {', '.join(faults) if faults else 'none'}",
            "In OBS (Tools > Scripts > ailicia_obs.py): paste the API key and channel above,",
            f"then in the Advanced group set api_base_url to {sandbox.url}",
            "Press Ctrl+C to stop.",
        ]
    )


@contextlib.contextmanager
def _stop_on_signals(stop_requested: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop_requested``; the previous handlers return after.

    SIGINT gets a handler even if it was ignored (as for a background job), so that
    Ctrl+C or ``kill -INT`` always stops the sandbox. Signals can only be handled
    in the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: Any) -> None:
        stop_requested.set()

    names = [name for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), request_stop) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler if handler is not None else signal.SIG_DFL)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


if __name__ == "__main__":
    sys.exit(main())
