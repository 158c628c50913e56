"""The sandbox's server: :class:`Sandbox` (start, stop, what tests read) and its HTTP plumbing."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Dict, FrozenSet, List, Sequence, Tuple

from ..logsafe import redact
from .config import (
    CHARACTERS,
    CONTENT_PREVIEW_CHARS,
    RUNTIME_SWITCHES,
    Incoming,
    RecordedRequest,
    SandboxConfig,
    check_switch,
    normalized,
    utf16_length,
)
from .eventsub import EventSubHub, EventSubSandbox
from .rules import Rules
from .wire import Server


class Sandbox(Rules, EventSubSandbox):
    """A loopback ai_licia API. ``start()`` serves in a daemon thread; ``stop()`` ends it.

    Every public method is thread-safe. Use it as a context manager to pair the
    start with the stop.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._config = normalized(config if config is not None else SandboxConfig())
        self._lock = threading.Lock()  # guards _config, _joined, _last_generation, _join_requests
        self._state_changed = threading.Condition(self._lock)
        self._joined: set = set()
        self._last_generation: Dict[str, float] = {}
        self._join_requests = 0
        #: The id of the active character: ``PUT /v1/characters/{id}/active`` changes it.
        self._active_character = next(c["id"] for c in CHARACTERS if c["isActive"])
        self._recorded: List[RecordedRequest] = []
        self._in_flight = 0
        self._record_file: Any = None
        self._traffic = threading.Condition()  # guards _recorded, _in_flight, _record_file
        self._connections: set = set()
        self._connections_changed = threading.Condition()
        self._output_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._eventsub = EventSubHub()  # open /v1/eventsub/stream streams

    # -- start and stop ---------------------------------------------------------

    def start(self) -> Sandbox:
        """Listen and serve in a daemon thread; returns self. A stopped sandbox cannot restart."""
        if self._stopping.is_set():
            raise RuntimeError("this sandbox was stopped; create a new one")
        if self._server is not None:
            return self
        config = self._config
        server = Server((config.host, config.port), self)
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
        self._eventsub.wake_all()  # streams end at once
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
    def active_character(self) -> str:
        """The id of the character ``GET /v1/characters`` reports active."""
        with self._lock:
            return self._active_character

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
            check_switch(name, value)
        with self._state_changed:
            self._config = replace(self._config, **switches)
            self._state_changed.notify_all()
        self._eventsub.wake_all()  # open streams see new switches at once

    # -- serving (called from the handler threads) ------------------------------

    def current(self) -> SandboxConfig:
        """The live configuration; never mutated, only replaced, so reading it needs no lock."""
        return self._config

    # -- bookkeeping (handler threads) ------------------------------------------

    def arrived(self) -> None:
        with self._traffic:
            self._in_flight += 1
            self._traffic.notify_all()

    def finished(self, req: Incoming, status: int | None) -> None:
        record = RecordedRequest(req.method, req.path, req.channel, req.body, status, req.auth, req.t)
        config = self.current()
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

    def connection_opened(self, sock: socket.socket) -> bool:
        with self._connections_changed:
            if self._stopping.is_set():
                return False
            self._connections.add(sock)
            return True

    def connection_closed(self, sock: socket.socket) -> None:
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


def _request_line(record: RecordedRequest) -> str:
    """One readable output line; it holds no API key (``record`` has none)."""
    clock = time.strftime("%H:%M:%S", time.localtime(record.t)) + f".{int(record.t * 1000) % 1000:03d}"
    status = "no answer" if record.status is None else str(record.status)
    line = f"{clock}  {record.method:<6} {record.path:<24} {record.channel or '-':<14} {status:>9}  {record.auth:<7}"
    data = record.body.get("data") if isinstance(record.body, dict) else None
    content = data.get("content") if isinstance(data, dict) else None
    if isinstance(content, str):
        preview = content if len(content) <= CONTENT_PREVIEW_CHARS else content[: CONTENT_PREVIEW_CHARS - 1] + "…"
        line += f"  {json.dumps(preview, ensure_ascii=False)} ({utf16_length(content)})"
    # Escaped, so that a path or text from the client cannot drive the terminal.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line.rstrip())
