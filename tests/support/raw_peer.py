"""Scripted raw-socket peers on 127.0.0.1:0 for hostile-input tests: HTTP streams and WebSocket apps.

:class:`ScriptedServer` accepts connections and hands each to a script,
``script(conn, head)``, on its own daemon thread, after reading the request head
(everything up to the blank line; ``head`` is None when the client sent nothing).
The script writes whatever bytes it likes. :meth:`ScriptedServer.stop` shuts every
connection and joins every thread; every loop of a script should check
:meth:`ScriptedServer.done` so that it ends too.

Helpers: :func:`http_head` (status line and headers), :func:`chunk` (one HTTP chunk),
:func:`sse_event` (one EventSub frame), :func:`ws_accept` (the 101 answer to a
WebSocket upgrade), :func:`ws_frame` (a server frame, any length field), and
:func:`ws_read_text` (one masked client frame).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Callable, List, Optional

from ailicia_core.sandbox.dashboard import accept_key

Script = Callable[[socket.socket, Optional[bytes]], None]


class ScriptedServer:
    """Runs ``script`` for every connection; counts connections and keeps each request head."""

    def __init__(self, script: Script, *, lifetime_s: float = 60.0) -> None:
        self._script = script
        self._ends_at = time.monotonic() + lifetime_s
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self.heads: List[bytes] = []
        self.connections = 0
        self.ended = 0  # connections whose script returned
        self._open: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="raw-peer-accept", daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def done(self) -> bool:
        return self._stopping.is_set() or time.monotonic() > self._ends_at

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._acceptor.join(5.0)
        for thread in list(self._threads):
            thread.join(5.0)
        self._listener.close()

    def wait_for(self, predicate: Callable[[ScriptedServer], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self), timeout))

    def _accept(self) -> None:
        while not self.done():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.5)
            with self._changed:
                self._open.append(conn)
                self.connections += 1
                self._changed.notify_all()
            thread = threading.Thread(target=self._serve, args=(conn,), name="raw-peer-conn", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = self._read_head(conn)
            if head is not None:
                with self._changed:
                    self.heads.append(head)
                    self._changed.notify_all()
            self._script(conn, head)
        except OSError:
            pass
        finally:
            with self._changed:
                self._open.remove(conn)
                self.ended += 1
                self._changed.notify_all()
            conn.close()

    def _read_head(self, conn: socket.socket) -> Optional[bytes]:
        data = b""
        while b"\r\n\r\n" not in data and not self.done():
            try:
                more = conn.recv(4096)
            except TimeoutError:
                continue
            if not more:
                return None
            data += more
        return data


def header_of(head: bytes, name: str) -> Optional[str]:
    """The value of header ``name`` in a request head (case-insensitive), or None."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def path_of(head: bytes) -> str:
    return head.split(b" ", 2)[1].decode("latin-1").split("?")[0]


def http_head(status: str = "200 OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


SSE_HEAD = http_head(Content_Type="text/event-stream", Transfer_Encoding="chunked", Cache_Control="no-cache")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_event(event_id: str, kind: str = "chat.ai_message", channel: str = "mychannel", **payload: object) -> bytes:
    body = {
        "id": event_id,
        "type": kind,
        "timestamp": "2026-01-01T00:00:00Z",
        "channel": {"id": f"ch_{channel}", "name": channel, "platform": "TWITCH"},
        "payload": payload,
    }
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(body)}\n\n".encode()


def ws_accept(head: bytes) -> bytes:
    """The 101 answer to the WebSocket upgrade in ``head``."""
    key = header_of(head, "Sec-WebSocket-Key") or ""
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode("ascii")


def ws_frame(payload: bytes, opcode: int = 0x1, fin: bool = True, length: Optional[int] = None) -> bytes:
    """A server frame (unmasked); ``length`` announces another length than the payload's."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        header = struct.pack("!BB", first, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


def ws_text(kind: str, **payload: object) -> bytes:
    return ws_frame(json.dumps({"type": kind, "payload": payload}).encode())


def ws_read_text(conn: socket.socket, done: Callable[[], bool]) -> Optional[dict]:
    """One masked text frame from the client, as JSON (None when the connection ended)."""

    def exactly(count: int) -> Optional[bytes]:
        data = b""
        while len(data) < count and not done():
            try:
                more = conn.recv(count - len(data))
            except TimeoutError:
                continue
            if not more:
                return None
            data += more
        return data if len(data) == count else None

    header = exactly(2)
    if header is None:
        return None
    size = header[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", exactly(2) or b"\0\0")[0]
    elif size == 127:
        size = struct.unpack("!Q", exactly(8) or b"\0" * 8)[0]
    mask = exactly(4) or b"\0\0\0\0"
    body = exactly(size) or b""
    text = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    try:
        return json.loads(text)
    except ValueError:
        return None
