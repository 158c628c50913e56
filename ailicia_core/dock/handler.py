"""The dock's routes: one request handler (``http.server``) that checks, reads the engine and answers.

Every request passes :func:`.guard.refusal` first (Host, Origin, token). GETs serve
the pages in ``static/`` (the token written into their links), the state as JSON
and the event stream; POSTs run one of :data:`.controls.CONTROLS` after the rate
limit. Refusals are JSON ``{"ok": false, "error": code}`` with the status of
:data:`REFUSALS`. The handler reaches its :class:`.server.DockServer` as
``self.server.dock`` and never calls OBS.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Dict, Optional
from urllib.parse import parse_qs, quote, urlsplit

from . import guard
from .controls import CONTROLS
from .state import entry_state, full_state, status_state

STATIC_DIR = Path(__file__).with_name("static")
#: How often an event stream compares the status with what it last sent (the feed wakes it at once).
STATUS_POLL_S = 0.1
#: A comment line on idle streams, so a page that went away is noticed and its thread ends.
HEARTBEAT_S = 15.0
#: Longest POST body read.
MAX_BODY_BYTES = 4096
#: Socket timeout for reading a request, so a silent client cannot hold a thread.
READ_TIMEOUT_S = 5.0

PAGES = {"/dock": "dock.html", "/overlay": "overlay.html"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
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
}


class DockHandler(BaseHTTPRequestHandler):
    server: Any  # the dock's ThreadingHTTPServer; ``server.dock`` is its DockServer
    server_version = "ailicia-dock"
    sys_version = ""
    timeout = READ_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.server.dock.opened(self.connection)

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
        self._send(200, CONTENT_TYPES[".html"], body)

    def _static(self, name: str) -> None:
        suffix = Path(name).suffix
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in CONTENT_TYPES:
            return self._refuse("not_found")
        try:
            body = _read_static(name)
        except OSError:
            return self._refuse("not_found")
        self._send(200, CONTENT_TYPES[suffix], body)

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
        if body is None:
            return self._refuse("bad_request")
        wait = dock.take_press()
        if wait > 0:
            return self._refuse("rate_limited", retry_after=wait)
        problem = control(dock.engine, body)
        if problem:
            return self._refuse(problem)
        self._json(200, {"ok": True})

    def _body(self) -> Optional[Dict[str, Any]]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return body if isinstance(body, dict) else None

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
    return (STATIC_DIR / name).read_bytes()
