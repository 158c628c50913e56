"""The dock's routes: one request handler (``http.server``) that checks, reads the engine and answers.

Every request passes :func:`.guard.refusal` first (Host, Origin, token). GETs serve
the pages in ``static/`` (the token written into their links), the state as JSON
and the event stream; POSTs run one of :data:`.controls.CONTROLS` after the rate
limit. Refusals are JSON ``{"ok": false, "error": code}`` with the status of
:data:`REFUSALS`. The handler reaches its :class:`.server.DockServer` as
``self.server.dock`` and never calls OBS.

Every request is answered, never dropped: a request that does not arrive whole within
:data:`.limits.REQUEST_DEADLINE_S` gets 408, a body over :data:`.limits.MAX_BODY_BYTES`
413, an over-long header 431, anything unreadable (deeply nested JSON included) 400,
and an unexpected fault 500. Static files are looked up by name in :data:`STATIC_FILES`,
a fixed list: the filesystem's path rules (``..``, ``D:x.js``, backslashes) never apply.
"""

from __future__ import annotations

import io
import json
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import parse_qs, quote, urlsplit

from . import guard
from .controls import CONTROLS
from .limits import MAX_BODY_BYTES, REQUEST_DEADLINE_S, WRITE_TIMEOUT_S
from .state import entry_state, full_state, status_state

STATIC_DIR = Path(__file__).with_name("static")
#: How often an event stream compares the status with what it last sent (the feed wakes it at once).
STATUS_POLL_S = 0.1
#: A comment line on idle streams, so a page that went away is noticed and its thread ends.
HEARTBEAT_S = 15.0
#: Kept for callers of the old name: the deadline of the whole request.
READ_TIMEOUT_S = REQUEST_DEADLINE_S

PAGES = {"/dock": "dock.html", "/overlay": "overlay.html"}
#: ``GET /static/<name>``: the only names served, each with its type. Nothing else is looked up.
STATIC_FILES = {
    "common.js": "text/javascript; charset=utf-8",
    "dock.css": "text/css; charset=utf-8",
    "dock.js": "text/javascript; charset=utf-8",
    "overlay.css": "text/css; charset=utf-8",
    "overlay.js": "text/javascript; charset=utf-8",
}
HTML_TYPE = "text/html; charset=utf-8"
#: The pages load only their own files and talk only to this server.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
REFUSALS = {
    "bad_host": 403,
    "bad_origin": 403,
    "bad_token": 403,
    "bad_request": 400,
    "unavailable": 404,
    "not_found": 404,
    "rate_limited": 429,
    "busy": 503,
    "too_large": 413,
    "timeout": 408,
    "internal": 500,
}


_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


def canned_refusal(code: str) -> bytes:
    """A whole HTTP answer refusing with ``code``, for a connection no handler will serve."""
    body = json.dumps({"ok": False, "error": code}).encode("ascii")
    status = REFUSALS.get(code, 400)
    head = (
        f"HTTP/1.0 {status} {_REASONS.get(status, 'Refused')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n"
    )
    if status == 503:
        head += "Retry-After: 1\r\n"
    return (head + "\r\n").encode("ascii") + body


#: What the request parser refused, as refusal codes.
_PARSER_ERRORS = {
    400: "bad_request",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "unsupported",
    505: "bad_version",
}


class _DeadlineReader(io.RawIOBase):
    """Reads a socket until one fixed moment: every read gets only the time left, so a trickle ends too."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self.expired = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self.expired = True
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            self.expired = True
            raise
        finally:
            self._sock.settimeout(WRITE_TIMEOUT_S)


class DockHandler(BaseHTTPRequestHandler):
    server: Any  # the dock's HTTPServer (a thread per admitted connection); ``server.dock`` is its DockServer
    server_version = "ailicia-dock"
    sys_version = ""
    timeout = WRITE_TIMEOUT_S
    _answered = False

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket stays open: it is read through the deadline reader instead
        self._reader = _DeadlineReader(self.connection, time.monotonic() + REQUEST_DEADLINE_S)
        self.rfile = io.BufferedReader(self._reader)
        self.server.dock.opened(self.connection)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, OSError):
            self.close_connection = True  # a request cut short: answered below when still possible
        except Exception:  # a fault of ours must still end in an answer, not a dropped connection
            self.close_connection = True
            if not self._answered:
                self._send_raw(canned_refusal("internal"))
        if self._reader.expired and not self._answered:
            self._send_raw(canned_refusal("timeout"))

    def send_response(self, code: int, message: Optional[str] = None) -> None:
        self._answered = True
        super().send_response(code, message)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """The parser's refusals (400, 414, 431, 501, 505) as JSON like every other, always with headers."""
        self.close_connection = True
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.0"  # an HTTP/0.9 answer would be the bare body
        self._json(code, {"ok": False, "error": _PARSER_ERRORS.get(code, "bad_request")})

    def _send_raw(self, data: bytes) -> None:
        self._answered = True
        try:
            self.connection.settimeout(0.5)  # best effort: a client that does not read is not waited for
            self.connection.sendall(data)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the page went away mid-answer
        finally:
            self.server.dock.closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines hold the token; nothing about them is worth a Script Log line

    # --- GET ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        given = parse_qs(parts.query).get("token", [None])[0]
        refused = self.server.dock.refusal(self, given)
        if refused:
            return self._refuse(refused)
        path = parts.path
        if path in PAGES:
            return self._page(PAGES[path])
        if path.startswith("/static/"):
            return self._static(path[len("/static/") :])
        if path == "/api/state":
            return self._json(200, full_state(self.server.dock.engine))
        if path == "/api/events":
            return self._events()
        return self._refuse("not_found")

    def _page(self, name: str) -> None:
        token = quote(self.server.dock.token, safe="")
        body = _read_static(name).replace(b"__TOKEN__", token.encode("ascii"))
        self._send(200, HTML_TYPE, body)

    def _static(self, name: str) -> None:
        content_type = STATIC_FILES.get(name)  # an exact name from the list, or nothing
        if content_type is None:
            return self._refuse("not_found")
        try:
            body = _read_static(name)
        except OSError:
            return self._refuse("not_found")
        self._send(200, content_type, body)

    def _events(self) -> None:
        dock = self.server.dock
        if not dock.claim_stream():
            return self._refuse("busy")
        try:
            self.send_response(200)
            self._headers("text/event-stream; charset=utf-8")
            self.end_headers()
            self._stream(self._last_event_id())
        except OSError:
            pass  # the page closed the stream, or the server stopped
        finally:
            dock.release_stream()
            self.close_connection = True

    def _stream(self, cursor: Optional[int]) -> None:
        dock = self.server.dock
        engine = dock.engine
        if cursor is None or cursor > engine.activity.cursor:  # first visit, or a new engine since (reload)
            state = full_state(engine)
            self._event("state", state, state["cursor"])
            cursor, status = state["cursor"], state["status"]
        else:
            status = None
        quiet_since = time.monotonic()
        while not dock.stopping.is_set():
            entries, new_cursor = engine.activity.wait_since(cursor, STATUS_POLL_S)
            if entries:
                self._event("activity", [entry_state(e) for e in entries], new_cursor)
                quiet_since = time.monotonic()
            cursor = new_cursor
            current = status_state(engine)
            if current != status:
                self._event("status", current)
                status, quiet_since = current, time.monotonic()
            if time.monotonic() - quiet_since >= HEARTBEAT_S:
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
                quiet_since = time.monotonic()

    def _event(self, name: str, data: Any, event_id: Optional[int] = None) -> None:
        lines = [f"event: {name}", f"data: {json.dumps(data, ensure_ascii=True)}"]
        if event_id is not None:
            lines.append(f"id: {event_id}")
        self.wfile.write(("\n".join(lines) + "\n\n").encode("ascii"))
        self.wfile.flush()

    def _last_event_id(self) -> Optional[int]:
        raw = self.headers.get("Last-Event-ID")
        try:
            return max(0, int(raw)) if raw is not None else None
        except ValueError:
            return None

    # --- POST -----------------------------------------------------------------------------------

    def do_POST(self) -> None:
        dock = self.server.dock
        refused = dock.refusal(self, self.headers.get(guard.TOKEN_HEADER))
        if refused:
            return self._refuse(refused)
        path = urlsplit(self.path).path
        control = CONTROLS.get(path[len("/api/control/") :]) if path.startswith("/api/control/") else None
        if control is None:
            return self._refuse("not_found")
        body = self._body()
        if isinstance(body, str):
            return self._refuse(body)
        wait = dock.take_press()
        if wait > 0:
            return self._refuse("rate_limited", retry_after=wait)
        problem = control(dock.engine, body)
        if problem:
            return self._refuse(problem)
        self._json(200, {"ok": True})

    def _body(self) -> Any:
        """The JSON object sent, or the refusal code: ``too_large`` (413) or ``bad_request`` (400)."""
        if self.headers.get("Transfer-Encoding"):
            return "bad_request"  # controls are a few bytes: a length is always given
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:  # also a number too long to convert
            return "bad_request"
        if length > MAX_BODY_BYTES:
            return "too_large"
        if length < 0:
            return "bad_request"
        raw = self.rfile.read(length) if length else b"{}"
        if len(raw) != length:
            return "bad_request"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # deeply nested JSON is a RecursionError
            return "bad_request"
        return body if isinstance(body, dict) else "bad_request"

    # --- answering --------------------------------------------------------------------------------

    def _refuse(self, code: str, retry_after: float = 0.0) -> None:
        status = REFUSALS.get(code, 400)
        extra = {"Retry-After": str(max(1, int(retry_after + 0.999)))} if code == "rate_limited" else {}
        self._json(status, {"ok": False, "error": code}, extra)

    def _json(self, status: int, data: Any, extra: Optional[Dict[str, str]] = None) -> None:
        self._send(status, "application/json", json.dumps(data, ensure_ascii=True).encode("ascii"), extra)

    def _send(self, status: int, content_type: str, body: bytes, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self._headers(content_type, extra)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _headers(self, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_header("Content-Type", content_type)
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)


def _read_static(name: str) -> bytes:
    """The bytes of one of :data:`STATIC_FILES` or :data:`PAGES` (names from those lists only)."""
    return (STATIC_DIR / name).read_bytes()
