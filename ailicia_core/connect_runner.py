"""Connect with ai_licia, the part that talks: one :class:`~ailicia_core.connect.Handshake` at a time.

:class:`ConnectRunner` opens ``ws://127.0.0.1:<port>`` with ``websocket-client``
(imported only here and only when a flow starts, so the rest of the package works
without it), feeds every frame to the pure handshake on its own daemon thread, and
leaves the grant in a mailbox. Nothing here logs a frame or puts one in an exception.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Optional

from .connect import (
    APP_HOST,
    CONSENT_WAIT_S,
    DEFAULT_APP_PORT,
    DROPPED,
    NO_APP,
    NO_LIBRARY,
    NOT_THE_APP,
    ODD_ANSWER,
    OPEN_TIMEOUT_S,
    OPENING,
    POLL_S,
    STOPPED,
    ConnectState,
    Grant,
    Handshake,
    parse_message,
)
from .logsafe import register_secret


def _default_open(url: str, timeout: float) -> Any:
    import websocket  # websocket-client; imported here so the rest of the package works without it

    return websocket.create_connection(url, timeout=timeout, enable_multithread=True)


class ConnectRunner:
    """Runs :class:`Handshake` against the app on one daemon thread; one flow at a time.

    :meth:`start` returns at once (False while a flow runs: pressing twice never
    opens two requests). :meth:`state` is safe from any thread and never waits on
    the socket. The grant waits in a mailbox until :meth:`take_grant` takes it
    (once). :meth:`stop` ends the flow within ``timeout`` by closing the socket.
    ``clock``, ``wait_s`` and ``open_socket(url, timeout)`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait_s: float = CONSENT_WAIT_S,
        open_socket: Optional[Callable[[str, float], Any]] = None,
        host: str = APP_HOST,
    ) -> None:
        self._clock = clock
        self._wait_s = wait_s
        self._open = open_socket or _default_open
        self._host = host
        self._lock = threading.Lock()  # guards everything below; never held across socket calls
        self._state = ConnectState(wait_s=wait_s)
        self._grant: Optional[Grant] = None
        self._thread: Optional[threading.Thread] = None
        self._socket: Any = None
        self._stopping = threading.Event()
        self._changed = threading.Condition(self._lock)

    def state(self) -> ConnectState:
        with self._lock:
            return self._state

    def start(self, port: int = DEFAULT_APP_PORT) -> bool:
        """Begin a flow on ``port``; False (and nothing new) while one runs or after :meth:`stop`."""
        with self._lock:
            if self._stopping.is_set() or self._state.running:
                return False
            self._grant = None
            self._state = ConnectState(phase=OPENING, port=port, wait_s=self._wait_s)
            self._thread = threading.Thread(target=self._run, args=(port,), name="ailicia-connect", daemon=True)
            self._thread.start()
            return True

    def take_grant(self) -> Optional[Grant]:
        """The grant of the last flow, once; None when there is none (or it was taken)."""
        with self._lock:
            grant, self._grant = self._grant, None
            return grant

    def wait(self, timeout: float, until: Optional[Callable[[ConnectState], bool]] = None) -> ConnectState:
        """Block until ``until(state)`` (default: no flow runs) or ``timeout``: for the CLI and tests only."""
        until = until or (lambda state: not state.running)
        with self._changed:
            self._changed.wait_for(lambda: until(self._state), timeout)
            return self._state

    def stop(self, timeout: float = 1.0) -> bool:
        """End any flow and refuse new ones; True when the thread ended within ``timeout``."""
        self._stopping.set()
        with self._lock:
            thread, sock = self._thread, self._socket
        _abort(sock)
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # -- the thread -----------------------------------------------------------------

    def _run(self, port: int) -> None:
        machine = Handshake(port=port, wait_s=self._wait_s)
        try:
            self._converse(machine, port)
        except Exception:  # a bug must still end the flow with a face, never a traceback
            machine.fail(ODD_ANSWER)
        if self._stopping.is_set() and not machine.done:
            machine.fail(STOPPED)
        if machine.grant is not None:
            register_secret(machine.grant.api_key.reveal())
        with self._lock:
            self._state = machine.state
            self._grant = machine.grant
            self._socket = None
            self._changed.notify_all()

    def _converse(self, machine: Handshake, port: int) -> None:
        try:
            import websocket
        except ImportError:
            machine.fail(NO_LIBRARY)
            return
        try:
            sock = self._open(f"ws://{self._host}:{port}", OPEN_TIMEOUT_S)
        except (ConnectionRefusedError, websocket.WebSocketTimeoutException, TimeoutError):
            machine.fail(NO_APP)
            return
        except (OSError, websocket.WebSocketException):
            machine.fail(NOT_THE_APP if not self._stopping.is_set() else STOPPED)
            return
        with self._lock:
            self._socket = sock
        try:
            if self._stopping.is_set():
                return
            sock.settimeout(POLL_S)
            self._send_all(sock, machine.open(self._clock()))
            self._publish(machine)
            while not machine.done and not self._stopping.is_set():
                try:
                    frame = sock.recv()
                except websocket.WebSocketTimeoutException:
                    machine.tick(self._clock())
                    continue
                self._send_all(sock, machine.receive(parse_message(frame), self._clock()))
                self._publish(machine)
        except (websocket.WebSocketException, OSError):  # closed by the app, or by stop()
            machine.fail(STOPPED if self._stopping.is_set() else DROPPED)
        finally:
            _close(sock, polite=not self._stopping.is_set())

    def _publish(self, machine: Handshake) -> None:
        if not machine.done:  # the final state goes out with the grant, in _run
            with self._lock:
                self._state = machine.state
                self._changed.notify_all()

    @staticmethod
    def _send_all(sock: Any, frames: List[str]) -> None:
        for frame in frames:
            sock.send(frame)


def _abort(sock: Any) -> None:
    """Wake a thread blocked in ``recv`` on ``sock`` (shut the socket down); never raises."""
    if sock is None:
        return
    try:
        sock.abort()
    except Exception:
        pass


def _close(sock: Any, *, polite: bool) -> None:
    try:
        if polite:
            sock.close(timeout=POLL_S)
        else:
            sock.shutdown()
    except Exception:
        pass
