"""The sandbox's HTTP plumbing: a server that stops at once, and a handler that reads bounded bodies."""

from __future__ import annotations

import select
import selectors
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Optional, Protocol, Sequence, Tuple
from urllib.parse import urlsplit

from .. import __version__
from .config import IDLE_CONNECTION_TIMEOUT_S, MAX_BODY_BYTES, NO_ANSWER, Answer, Incoming, SandboxConfig
from .rules import authenticate, channel_of, parse_json


class Sandbox(Protocol):
    """What the wire asks of the sandbox (:class:`ailicia_core.sandbox.server.Sandbox`), which builds it."""

    def current(self) -> SandboxConfig: ...
    def arrived(self) -> None: ...
    def answer(self, req: Incoming) -> Answer: ...
    def finished(self, req: Incoming, status: Optional[int]) -> None: ...
    def connection_opened(self, sock: socket.socket) -> bool: ...
    def connection_closed(self, sock: socket.socket) -> None: ...


class Server(ThreadingHTTPServer):
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
    server: Server

    def setup(self) -> None:
        super().setup()
        self._accepted = self.server.sandbox.connection_opened(self.connection)

    def handle(self) -> None:
        if self._accepted:
            super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox.connection_closed(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the sandbox prints its own, key-free line per request

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        req = self._read_request(sandbox.current().api_keys)
        if req is None:
            return
        sandbox.arrived()
        answer = NO_ANSWER
        try:
            answer = sandbox.answer(req)
        finally:
            # Recorded before the answer leaves: a client holding its answer finds it in .requests.
            sandbox.finished(req, answer.status)
        if answer.status is None:
            self.close_connection = True
        elif answer.stream is not None:
            self._send_stream(answer)
        else:
            self._send(answer)

    def _read_request(self, api_keys: Sequence[str]) -> Incoming | None:
        """The request with its body; None after answering a body the sandbox will not read."""
        t = time.time()
        if self.headers.get("Transfer-Encoding"):
            self._send(Answer(411, close=True))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(Answer(400 if length < 0 else 413, close=True))
            return None
        raw = self.rfile.read(length) if length else b""
        body, is_json = parse_json(raw)
        auth, api_key = authenticate(self.headers.get("Authorization"), api_keys)
        path = urlsplit(self.path).path
        query = urlsplit(self.path).query
        return Incoming(self.command, path, auth, api_key, body, is_json, channel_of(path, body), t, query=query)

    def _send(self, answer: Answer) -> None:
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

    def _send_stream(self, answer: Answer) -> None:
        """A chunked answer written by ``answer.stream`` until it returns; then the connection closes."""
        self.close_connection = True
        self.send_response(answer.status or 200)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def client_gone() -> bool:
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
            except (OSError, ValueError):
                return True

        try:
            if answer.stream(write, self.headers, client_gone):
                write_end = b"0\r\n\r\n"  # a clean end; a drop leaves the body unfinished, as a cut would
                self.wfile.write(write_end)
        except OSError:
            pass  # the client went away
