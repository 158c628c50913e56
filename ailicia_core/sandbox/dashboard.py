"""The sandbox plays the ai_licia app: its local WebSocket, for "Connect with ai_licia".

:class:`Dashboard` serves ``ws://127.0.0.1:<port>`` (51743 like the app, 0 picks a
free port in tests) and answers an integration's ``hello`` with ``welcome``, its
``request_access`` with ``access_pending`` and, after ``grant_delay_s`` (the
streamer's click), ``access_granted`` with the sandbox's key and channel.

Fault switches (:data:`FAULTS`; :meth:`Dashboard.set_fault` changes them at runtime):

    ``deny``          ``access_denied`` with ``deny_reason`` (user_denied, timeout, not_ready)
    ``signed_out``    ``welcome`` without ``integration.auth`` (and ``not_ready`` if asked anyway)
    ``rate_limited``  ``error`` ``rate_limited`` for the request
    ``no_answer``     ``access_pending``, then nothing: the streamer never clicks
    ``drop``          ``access_pending``, then the connection closes

As in the app, one request per ``clientId`` may be pending: a second one gets
``error`` ``request_pending``. Frames are encoded and decoded by websocket-client's
``ABNF`` and ``frame_buffer`` (no hand-written framing); the upgrade handshake is
RFC 6455's few lines. What arrives is kept in :attr:`Dashboard.received` (type and
payload, the key never in it, since clients do not send one); the output lines say
what happened, never the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

from ..connect import DENY_REASONS

DEFAULT_DASHBOARD_PORT = 51743
FAULTS = ("", "deny", "signed_out", "rate_limited", "no_answer", "drop")
CAPABILITIES = ("integration.auth", "events", "state")
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HANDSHAKE_BYTES = 8192
_ACCEPT_POLL_S = 0.2


@dataclass(frozen=True)
class DashboardConfig:
    """How the stand-in app behaves. ``fault`` is one of :data:`FAULTS` ("" answers as the app does)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_DASHBOARD_PORT
    api_key: str = "sandbox-key"
    channel: str = "mychannel"
    fault: str = ""
    deny_reason: str = "user_denied"
    #: How long the "streamer" takes to click Allow.
    grant_delay_s: float = 0.2
    quiet: bool = False


def serve(**config: Any) -> Dashboard:
    """A started :class:`Dashboard` on a free port, quiet unless told: for tests and the demo."""
    return Dashboard(DashboardConfig(**{"port": 0, "quiet": True, **config})).start()


def accept_key(client_key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1((client_key + _WS_GUID).encode("ascii")).digest()).decode("ascii")


def _check(config: DashboardConfig) -> DashboardConfig:
    if config.fault not in FAULTS:
        raise ValueError(f"fault must be one of {', '.join(f or '(none)' for f in FAULTS)}")
    if config.deny_reason not in DENY_REASONS:
        raise ValueError(f"deny_reason must be one of {', '.join(DENY_REASONS)}")
    if not 0 <= config.port <= 65535:
        raise ValueError("port must be 0..65535 (0 picks a free port)")
    return config


class Dashboard:
    """A loopback stand-in for the ai_licia app's WebSocket. ``start()`` serves; ``stop()`` ends it all."""

    def __init__(self, config: Optional[DashboardConfig] = None) -> None:
        self._config = _check(config or DashboardConfig())
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: List[Tuple[str, Dict[str, Any]]] = []
        self._pending: Dict[str, int] = {}  # clientId -> open requests
        self._connections: set = set()
        self._threads: List[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener: Optional[socket.socket] = None

    # -- start and stop ---------------------------------------------------------------

    def start(self) -> Dashboard:
        import websocket  # noqa: F401  (fail here, in words, rather than in a connection thread)

        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET6 if ":" in self._config.host else socket.AF_INET)
        if os.name != "nt":
            # A restart right after a connection (its port in TIME_WAIT) must bind again at once. Windows
            # allows that already, and there the option would let another program share the port.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._config.host, self._config.port))
        listener.listen(8)
        listener.settimeout(_ACCEPT_POLL_S)
        self._listener = listener
        self._spawn(self._accept_loop, "ailicia-sandbox-dashboard")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Close the listener and every connection; returns within about ``timeout``."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()  # ends grant delays
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn)
        for thread in list(self._threads):
            thread.join(timeout / max(1, len(self._threads)))
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- what tests and the command line read ---------------------------------------------

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the dashboard is not started")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self._config.host}:{self.port}"

    @property
    def config(self) -> DashboardConfig:
        return self._config

    @property
    def received(self) -> List[Tuple[str, Dict[str, Any]]]:
        """Every message received so far, oldest first, as (type, payload)."""
        with self._lock:
            return list(self._received)

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Wait until ``count`` messages of type ``kind`` arrived; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(1 for k, _ in self._received if k == kind) >= count, timeout)

    def set_fault(self, fault: str = "", **changes: Any) -> None:
        """Change the fault (and ``deny_reason``, ``grant_delay_s``) while serving."""
        with self._changed:
            self._config = _check(replace(self._config, fault=fault, **changes))

    # -- serving --------------------------------------------------------------------------

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self._connections.add(conn)
            self._spawn(self._serve, "ailicia-sandbox-dashboard-conn", conn)

    def _serve(self, conn: socket.socket) -> None:
        import websocket

        held: List[str] = []  # clientIds with a request pending on this connection
        try:
            conn.settimeout(None)
            if not self._handshake(conn):
                return
            frames = websocket.ABNF  # noqa: N806
            # websocket-client reads frames only through its private frame_buffer (no public reader for a server side).
            reader = websocket._abnf.frame_buffer(conn.recv, False)  # noqa: SLF001
            while not self._stopping.is_set():
                frame = reader.recv_frame()
                if frame.opcode == frames.OPCODE_CLOSE:
                    _send(conn, b"", frames.OPCODE_CLOSE)
                    return
                if frame.opcode == frames.OPCODE_PING:
                    _send(conn, frame.data, frames.OPCODE_PONG)
                elif frame.opcode == frames.OPCODE_TEXT and not self._answer(conn, frame.data, held):
                    return
        except (OSError, ValueError, websocket.WebSocketException):
            return  # the client went away, or stop() shut the socket
        finally:
            with self._changed:
                for client_id in held:
                    self._pending[client_id] -= 1
                self._connections.discard(conn)
            _shutdown(conn)
            conn.close()

    def _handshake(self, conn: socket.socket) -> bool:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(1024)
            if not chunk or len(request) > _MAX_HANDSHAKE_BYTES:
                return False
            request += chunk
        headers = {}
        for line in request.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not key or "websocket" not in headers.get("upgrade", "").lower():
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode("ascii")
        )
        return True

    def _answer(self, conn: socket.socket, data: Any, held: List[str]) -> bool:
        """Answer one text message; False to close the connection."""
        try:
            message = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
            kind, payload = str(message.get("type")), message.get("payload") or {}
        except (ValueError, AttributeError):
            kind, payload = "(not JSON)", {}
        with self._changed:
            self._received.append((kind, dict(payload) if isinstance(payload, dict) else {}))
            self._changed.notify_all()
            config = self._config
        self._say(f"dashboard: {kind} from {payload.get('clientId', '?') if isinstance(payload, dict) else '?'}")
        if kind == "hello":
            capabilities = [c for c in CAPABILITIES if not (config.fault == "signed_out" and c == "integration.auth")]
            _send_json(conn, "welcome", {"capabilities": capabilities})
            return True
        if kind != "request_access":
            _send_json(conn, "error", {"code": "missing_hello", "message": "Send hello first."})
            return True
        return self._request(conn, config, str(payload.get("clientId", "")), held)

    def _request(self, conn: socket.socket, config: DashboardConfig, client_id: str, held: List[str]) -> bool:
        if config.fault == "signed_out":
            _send_json(conn, "error", {"code": "not_ready", "message": "Sign in to ai_licia first."})
            return True
        if config.fault == "rate_limited":
            _send_json(conn, "error", {"code": "rate_limited", "message": "Too many requests."})
            return True
        with self._changed:
            if self._pending.get(client_id, 0) > 0:
                busy = True
            else:
                busy = False
                self._pending[client_id] = self._pending.get(client_id, 0) + 1
                held.append(client_id)
        if busy:
            _send_json(conn, "error", {"code": "request_pending", "message": "A request is already waiting."})
            return True
        request_id = f"req-{len(self._received)}"
        _send_json(conn, "access_pending", {"requestId": request_id})
        if config.fault == "drop":
            return False
        with self._changed:  # the streamer thinks it over; stop() ends the wait
            if config.fault == "no_answer":
                self._changed.wait_for(self._stopping.is_set)
                return False
            self._changed.wait_for(self._stopping.is_set, config.grant_delay_s)
        if self._stopping.is_set():
            return False
        if config.fault == "deny":
            _send_json(conn, "access_denied", {"requestId": request_id, "reason": config.deny_reason})
            self._say(f"dashboard: denied ({config.deny_reason})")
        else:
            _send_json(
                conn,
                "access_granted",
                {
                    "requestId": request_id,
                    "apiKey": config.api_key,
                    "scopes": ["rest.full"],
                    "channelName": config.channel,
                },
            )
            self._say(f"dashboard: access granted for #{config.channel} (key sent, not shown)")
        with self._changed:
            self._pending[client_id] -= 1
            held.remove(client_id)
        return True

    def _say(self, line: str) -> None:
        if not self._config.quiet:
            try:
                print("".join(c if c.isprintable() else "?" for c in line), flush=True)
            except (OSError, ValueError):
                pass


def _send(conn: socket.socket, data: bytes, opcode: int) -> None:
    import websocket

    conn.sendall(websocket.ABNF(fin=1, opcode=opcode, mask_value=0, data=data).format())


def _send_json(conn: socket.socket, kind: str, payload: Dict[str, Any]) -> None:
    import websocket

    _send(conn, json.dumps({"type": kind, "payload": payload}).encode("utf-8"), websocket.ABNF.OPCODE_TEXT)


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
