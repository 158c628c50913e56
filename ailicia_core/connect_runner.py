"""Connect with ai_licia, the part that talks: one :class:`~ailicia_core.connect.Handshake` at a time.

:class:`ConnectRunner` opens ``ws://127.0.0.1:<port>`` with ``websocket-client``
(imported only here and only when a flow starts, so the rest of the package works
without it), feeds every frame to the pure handshake on its own daemon thread, and
leaves the grant in a mailbox. Nothing here logs a frame or puts one in an exception.

Whatever the program on the port sends, the flow keeps its bounds
(:mod:`~ailicia_core.limits`, read with :mod:`~ailicia_core.bounded`):

- the socket is opened here and held by a :class:`~ailicia_core.bounded.Cut`, so
  :meth:`ConnectRunner.stop` cuts it at any point, the handshake included, and the
  handshake's answer must come within one deadline, however slowly it trickles;
- every byte read goes through a :class:`~ailicia_core.bounded.Budget`: a frame
  announcing more than :data:`~ailicia_core.limits.APP_WS_MAX_FRAME_BYTES` is refused
  before its payload is read, the flow reads at most
  :data:`~ailicia_core.limits.APP_WS_MAX_FLOW_BYTES` in all (endless continuations, a
  ping flood), and the flow's deadline is checked at every read, so frames that keep
  coming (pings answered inside ``websocket-client``) cannot hold it past its time.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, List, Optional

from . import limits as lim
from .bounded import Budget, Cut, Stopped, TooLarge, TooLate
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
    TIMED_OUT,
    ConnectState,
    Grant,
    Handshake,
    parse_message,
)
from .logsafe import register_secret


def _open_app(host: str, port: int, timeout: float, cut: Cut) -> Any:
    """A WebSocket to the app over a socket opened here, so that ``cut`` holds it from the first byte."""
    import websocket  # websocket-client; imported here so the rest of the package works without it

    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    raw = socket.socket(family, kind, proto)
    cut.adopt(raw)
    try:
        raw.settimeout(timeout)
        raw.connect(address)
        return websocket.create_connection(f"ws://{host}:{port}", timeout=timeout, socket=raw, enable_multithread=True)
    except BaseException:
        raw.close()
        raise


def _bound(ws: Any, budget: Budget) -> None:
    """Every read of ``ws`` under ``budget``, and frames over the cap refused from their announced length.

    It wraps two methods of ``websocket-client``'s frame reader (1.x: ``frame_buffer.recv``
    and ``recv_length``); without them (a stand-in in tests) only the poll loop's checks hold.
    """
    frames = getattr(ws, "frame_buffer", None)
    recv = getattr(frames, "recv", None)
    recv_length = getattr(frames, "recv_length", None)
    if not callable(recv) or not callable(recv_length):
        return

    def bounded_recv(size: int) -> bytes:
        budget.check()
        data = recv(size)
        budget.take(len(data))
        return data

    def capped_length() -> None:
        recv_length()
        if (getattr(frames, "length", 0) or 0) > lim.APP_WS_MAX_FRAME_BYTES:
            raise TooLarge(f"a frame over {lim.APP_WS_MAX_FRAME_BYTES} bytes")

    frames.recv = bounded_recv
    frames.recv_length = capped_length


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
        self._open = open_socket  # None: the real socket, held by a Cut
        self._host = host
        self._lock = threading.Lock()  # guards everything below; never held across socket calls
        self._state = ConnectState(wait_s=wait_s)
        self._grant: Optional[Grant] = None
        self._thread: Optional[threading.Thread] = None
        self._socket: Any = None
        self._cut: Optional[Cut] = None
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
            thread, sock, cut = self._thread, self._socket, self._cut
        if cut is not None:
            cut.cut()
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
        cut = Cut("ailicia-connect-deadline")
        with self._lock:
            self._cut = cut
        if self._stopping.is_set():
            cut.cut()
        try:
            self._converse_on(machine, port, cut, websocket)
        finally:
            with self._lock:
                self._cut = None
            cut.close()

    def _converse_on(self, machine: Handshake, port: int, cut: Cut, websocket: Any) -> None:
        cut.arm(lim.APP_WS_HANDSHAKE_DEADLINE_S)  # opening and the handshake's answer, whole
        try:
            if self._open is not None:
                sock = self._open(f"ws://{self._host}:{port}", OPEN_TIMEOUT_S)
            else:
                sock = _open_app(self._host, port, OPEN_TIMEOUT_S, cut)
        except (ConnectionRefusedError, websocket.WebSocketTimeoutException, TimeoutError):
            machine.fail(NO_APP if not cut.fired else NOT_THE_APP if cut.expired else STOPPED)
            return
        except (OSError, websocket.WebSocketException):
            machine.fail(NOT_THE_APP if not self._stopping.is_set() else STOPPED)
            return
        # A backstop on real time: whatever happens inside websocket-client, the socket goes at the deadline.
        cut.arm(self._wait_s + lim.APP_WS_HANDSHAKE_DEADLINE_S)
        with self._lock:
            self._socket = sock
        try:
            if self._stopping.is_set():
                return
            sock.settimeout(POLL_S)
            self._send_all(sock, machine.open(self._clock()))
            budget = Budget(max_bytes=lim.APP_WS_MAX_FLOW_BYTES, deadline_s=self._wait_s, cut=cut, clock=self._clock)
            _bound(sock, budget)
            self._publish(machine)
            while not machine.done and not self._stopping.is_set():
                try:
                    frame = sock.recv()
                except websocket.WebSocketTimeoutException:
                    machine.tick(self._clock())
                    continue
                self._send_all(sock, machine.receive(parse_message(frame), self._clock()))
                self._publish(machine)
        except TooLate:  # frames kept coming past the deadline
            machine.tick(self._clock())
            machine.fail(TIMED_OUT)
        except TooLarge:  # a frame, or a flow, far larger than a grant: not the app
            machine.fail(NOT_THE_APP)
        except Stopped:
            machine.fail(STOPPED if self._stopping.is_set() else DROPPED)
        except (websocket.WebSocketException, OSError, ValueError):  # closed by the app, or by stop()
            machine.fail(STOPPED if self._stopping.is_set() else DROPPED)
        finally:
            _close(sock, polite=not self._stopping.is_set() and not cut.fired)

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
