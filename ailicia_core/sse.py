"""A byte-level Server-Sent Events decoder (WHATWG HTML, "Server-sent events", event-stream interpretation).

Feed it the bytes of one HTTP response in whatever chunks the network delivers;
it returns the events completed so far. The rules that trip implementations:

- Lines end with CR, LF or CRLF. A CR that ends one chunk ends the line at once;
  an LF that starts the next chunk is then the second half of that CRLF, not an
  empty line (``requests``' ``iter_lines`` gets this wrong and dispatches early).
- One UTF-8 BOM is stripped at the very start of the stream, even when it arrives
  split across chunks. Lines are decoded as UTF-8 one by one (bad bytes become
  U+FFFD), never with ``str.splitlines`` (which also splits on U+2028).
- ``:`` starts a comment. ``field: value`` loses exactly one space after the
  colon; a line without a colon is a field with an empty value. ``data`` lines
  join with ``\\n``; an event without data is not dispatched. ``id`` persists
  across events (an ``id`` holding NUL is ignored); ``retry`` counts only when it
  is all ASCII digits.
- A half-received event (or line) when the stream ends is discarded: the decoder
  only dispatches on a blank line, and :meth:`SseDecoder.feed` keeps no promise
  about what never completed.

Bounds: a line longer than ``max_line_bytes`` or an event whose data grows past
``max_event_bytes`` is skipped whole (through its blank line) and counted in
:attr:`SseDecoder.oversized`; the rest of a long line is dropped as it comes, never
buffered, so memory stays bounded (by the line cap plus one fed chunk) whatever the
server sends. The id is kept as the rules say; whether it is safe to send back is
the listener's call (:func:`safe_event_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional

from .limits import EVENTSUB_MAX_EVENT_BYTES, EVENTSUB_MAX_ID_CHARS, EVENTSUB_MAX_LINE_BYTES

BOM = b"\xef\xbb\xbf"
#: Longest line kept, in bytes (an EventSub envelope is a few hundred).
MAX_LINE_BYTES = EVENTSUB_MAX_LINE_BYTES
#: Largest ``data`` of one event, in bytes.
MAX_EVENT_BYTES = EVENTSUB_MAX_EVENT_BYTES

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its type (``message`` when none was given), data, and the last event id."""

    event: str
    data: str
    id: str = ""


class SseDecoder:
    """Turns the bytes of one event stream into :class:`SseEvent` values. Not thread-safe: one reader.

    ``last_event_id`` seeds the id (the one sent as ``Last-Event-ID`` when
    reconnecting); :attr:`retry_ms` is the last valid ``retry`` seen, or None.
    """

    def __init__(
        self, *, last_event_id: str = "", max_line_bytes: int = MAX_LINE_BYTES, max_event_bytes: int = MAX_EVENT_BYTES
    ) -> None:
        self.last_event_id = last_event_id
        self.retry_ms: Optional[int] = None
        #: Lines and events skipped because they were too large.
        self.oversized = 0
        self._max_line = max(1, max_line_bytes)
        self._max_event = max(1, max_event_bytes)
        self._buffer = bytearray()
        self._at_start = True  # the BOM may still come
        self._skip_lf = False  # the last chunk ended in CR: an LF first is its other half
        self._skipping_line = False  # inside a line that is too long
        self._event_poisoned = False  # the current event lost a line: it must not dispatch
        self._event_type = ""
        self._data: List[str] = []
        self._data_bytes = 0

    def feed(self, chunk: bytes) -> List[SseEvent]:
        """Take the next bytes of the stream; return the events they completed, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if self._skipping_line:  # inside a line too long to keep: drop bytes up to its end, never buffer them
            end = _LINE_END.search(chunk)
            if end is None:
                return []
            self._skipping_line = False
            self._skip_lf = end.group() == b"\r" and end.end() == len(chunk)
            chunk = chunk[end.end() :]
        self._buffer += chunk
        if self._at_start:
            if len(self._buffer) < len(BOM) and BOM.startswith(bytes(self._buffer)):
                return []  # could still be a BOM split across chunks
            if self._buffer.startswith(BOM):
                del self._buffer[: len(BOM)]
            self._at_start = False
        events: List[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == b"\r" and match.end() == len(self._buffer):
                self._skip_lf = True  # a CR at the very end: the LF may come in the next chunk
            self._take_line(bytes(self._buffer[start : match.start()]), events)
            start = match.end()
        del self._buffer[:start]
        if len(self._buffer) > self._max_line:
            self._buffer.clear()
            self._start_skipping()
        return events

    def _start_skipping(self) -> None:
        if not self._skipping_line:
            self.oversized += 1
        self._skipping_line = True
        self._event_poisoned = True

    def _take_line(self, raw: bytes, events: List[SseEvent]) -> None:
        if self._skipping_line:
            self._skipping_line = False  # the end of the long line: the next one is whole again
            return
        if len(raw) > self._max_line:
            self._start_skipping()
            self._skipping_line = False
            return
        if not raw:
            self._dispatch(events)
            return
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            return  # a comment: a keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._field(name, value)

    def _field(self, name: str, value: str) -> None:
        if name == "event":
            self._event_type = value
        elif name == "data":
            self._data_bytes += len(value) + 1
            if self._data_bytes > self._max_event:
                if not self._event_poisoned:
                    self.oversized += 1
                self._event_poisoned = True
                self._data.clear()
            elif not self._event_poisoned:
                self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry_ms = int(value)

    def _dispatch(self, events: List[SseEvent]) -> None:
        if self._data and not self._event_poisoned:
            events.append(
                SseEvent(event=self._event_type or "message", data="\n".join(self._data), id=self.last_event_id)
            )
        self._event_type = ""
        self._data = []
        self._data_bytes = 0
        self._event_poisoned = False


def decode_all(stream: bytes, **limits: int) -> List[SseEvent]:
    """Every event of a complete ``stream`` (what is left after the last blank line is discarded)."""
    return SseDecoder(**limits).feed(stream)


def safe_event_id(value: str, max_chars: int = EVENTSUB_MAX_ID_CHARS) -> str:
    """``value`` when it can go back as a ``Last-Event-ID`` header as is, else "".

    Safe means printable ASCII (no control character, nothing an HTTP library would
    refuse or encode), no leading or trailing space (``id:  42`` keeps one after the
    rules remove the first) and at most ``max_chars`` long.
    """
    if not value or len(value) > max_chars or value != value.strip(" "):
        return ""
    if not all(" " <= ch <= "~" for ch in value):
        return ""
    return value
