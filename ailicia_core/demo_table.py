"""The demo's printing: two columns, what OBS did and what ai_licia received (split from demo.py)."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, TextIO, Tuple

from .sandbox import RecordedRequest


@dataclass(frozen=True)
class Step:
    """One thing the streamer does in OBS, and how many requests ai_licia should receive for it."""

    did: str
    events: Tuple[Any, ...] = ()
    #: Instead of events: the panel's "Test connection" button.
    test_connection: bool = False
    expect: int = 1
    note: str = ""


#: The demo is laid out for this width and never wider; narrower terminals get narrower columns.
MAX_WIDTH = 100
MIN_WIDTH = 72
LEFT_WIDTH = 28
GAP = "   "
LABEL_WIDTH = 9
#: Columns before a request's text in the right column: time, status and label.
PREFIX_WIDTH = 6 + 2 + 3 + 2 + LABEL_WIDTH + 1
#: Notes start under the label.
NOTE_INDENT = 6 + 2 + 3 + 2


# --- printing --------------------------------------------------------------------------


class Table:
    """Prints the demo as two columns: what OBS did, and what ai_licia received."""

    def __init__(self, out: TextIO, width: int, *, colour: bool) -> None:
        self.out = out
        self.width = max(MIN_WIDTH, min(MAX_WIDTH, width)) - 1  # never touch the last column
        self.left = LEFT_WIDTH if self.width >= 90 else 22
        self.right = self.width - self.left - len(GAP)
        self.colour = colour
        self.rule = "─" if _can_encode(out, "─↳…—") else "-"
        self.arrow = "↳" if self.rule == "─" else "->"

    def intro(self, url: str, window_s: float) -> None:
        self._print(self._bold("ai_licia-obs demo") + ": a short stream, played through the engine of the OBS script.")
        self._wrapped(f"ai_licia is played by a local sandbox ({url}): no API key, no OBS needed.")
        self._wrapped(f"Reactions are paced to one per {window_s:g} s here; the real API allows one per 25 s.")
        self._print("")

    def connected(self, words: str) -> None:
        """The "Connect with ai_licia" step, before the session."""
        self._print(self._bold("Panel: Connect with ai_licia") + " (the ai_licia app asks you; the demo clicks Allow)")
        self._wrapped(f"{self.arrow} {words} The key was never shown or copied.", indent=2)
        self._print("")

    def header(self) -> None:
        self._print(self._bold("OBS did".ljust(self.left) + GAP + "ai_licia received"))
        self._print(self._dim(self.rule * self.left + GAP + self.rule * self.right))

    def step(self, step: Step, received: Sequence[RecordedRequest], started: float) -> None:
        left = _wrap(step.did, self.left)
        right: List[str] = []
        for request in received:
            right.extend(self._request_lines(request, started))
        if not received:
            right.append(self._bad("(nothing arrived)"))
        if step.note:
            note = _wrap(f"{self.arrow} {step.note}", self.right, first_indent=NOTE_INDENT, indent=NOTE_INDENT + 2)
            right.extend(self._dim(line) for line in note)
        for index in range(max(len(left), len(right))):
            cell = left[index] if index < len(left) else ""
            other = right[index] if index < len(right) else ""
            self._print((cell.ljust(self.left) + GAP + other).rstrip())

    def heard(self, said: Optional[Sequence[Any]]) -> None:
        """What ai_licia said back, from her live events (None: the listener never connected)."""
        self._print("")
        self._print(self._bold("ai_licia said (heard back over her live events):"))
        if said is None:
            self._wrapped(self._bad("(the live events did not connect)"), indent=2)
        elif not said:
            self._wrapped(self._bad("(nothing yet)"), indent=2)
        for entry in said or ():
            self._wrapped(f'"{entry.content}"', indent=2)

    def ending(self, received: Sequence[RecordedRequest], status_text: str, problem: str) -> None:
        self._print("")
        accepted = sum(1 for r in received if r.status is not None and 200 <= r.status < 300)
        too_many = sum(1 for r in received if r.status == 429)
        summary = (
            f"ai_licia received {len(received)} requests; {accepted} accepted, {too_many} refused as too many (429)."
        )
        self._wrapped(self._bad(summary) if problem else self._good(summary))
        if problem:
            self._wrapped(self._bad(f"The demo did not go as planned: {problem}"))
        self._print("")
        self._print(self._bold("Status, as the OBS panel shows it:"))
        for line in status_text.splitlines():
            self._wrapped(line, indent=2)
        self._print("")
        self._print("Next: put the script in OBS (see install.md) and click 'Connect with ai_licia' in its panel,")
        self._print("or try your own key (from your ai_licia dashboard) and channel here:")
        self._print("  export AILICIA_API_KEY=...   then   python -m ailicia_core check")
        self._print("  python -m ailicia_core --help")

    def _request_lines(self, request: RecordedRequest, started: float) -> List[str]:
        """``" 0.8 s  200  context   "text…"``, the text wrapped under itself."""
        label, content, is_text = _describe(request)
        seconds = f"{max(0.0, request.t - started):4.1f} s"
        status = "---" if request.status is None else str(request.status)
        shown = f'"{content}"' if is_text else content
        lines = _wrap(shown, self.right - PREFIX_WIDTH)
        first = (
            self._dim(seconds.rjust(6))
            + "  "
            + self._status(request.status, status)
            + "  "
            + label.ljust(LABEL_WIDTH)
            + " "
        )
        body = [first + (lines[0] if is_text else self._dim(lines[0]))]
        body.extend(" " * (PREFIX_WIDTH + (1 if is_text else 0)) + line for line in lines[1:])
        return body

    # --- plumbing

    def _print(self, line: str) -> None:
        try:
            print(line, file=self.out, flush=True)
        except UnicodeEncodeError:  # a console that cannot show a character (cp1252): a '?' instead
            encoding = getattr(self.out, "encoding", None) or "ascii"
            print(line.encode(encoding, "replace").decode(encoding), file=self.out, flush=True)

    def _wrapped(self, text: str, indent: int = 0) -> None:
        for line in _wrap(text, self.width, first_indent=indent, indent=indent):
            self._print(line)

    def _style(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour and text else text

    def _bold(self, text: str) -> str:
        return self._style("1", text)

    def _dim(self, text: str) -> str:
        return self._style("2", text)

    def _good(self, text: str) -> str:
        return self._style("32", text)

    def _bad(self, text: str) -> str:
        return self._style("31", text)

    def _status(self, code: Optional[int], text: str) -> str:
        return self._good(text) if code is not None and 200 <= code < 300 else self._bad(text)


def _describe(request: RecordedRequest) -> Tuple[str, str, bool]:
    """(label, what to show, whether it is text ai_licia was given) for one request."""
    data = request.body.get("data") if isinstance(request.body, dict) else None
    content = data.get("content") if isinstance(data, dict) else None
    labels = {"/v1/events": "context", "/v1/events/generations": "reaction", "/v1/characters": "key test"}
    label = labels.get(request.path) or {"POST": "join", "DELETE": "leave"}.get(request.method, request.method)
    if request.path.startswith("/v1/characters/"):
        label = "character"
    if isinstance(content, str):
        return label, content, True
    return label, f"{request.method} {request.path}", False


def _wrap(text: str, width: int, *, first_indent: int = 0, indent: int = 0) -> List[str]:
    """``text`` broken into lines of at most ``width`` characters, breaking long words only when needed."""
    return textwrap.wrap(
        text, width=width, initial_indent=" " * first_indent, subsequent_indent=" " * indent, break_on_hyphens=False
    ) or [" " * first_indent]


def terminal_width() -> int:
    return shutil.get_terminal_size((MAX_WIDTH, 24)).columns


def wants_colour(out: TextIO) -> bool:
    """Colour only on a terminal that shows it: not with NO_COLOR or TERM=dumb, not into a file or a pipe,
    and on Windows only once the console has accepted escape codes (else they show as ``←[1m``)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    try:
        if not (isatty and isatty()):
            return False
    except (ValueError, OSError):  # a closed stream
        return False
    if sys.platform == "win32":
        return _windows_escape_codes(out)
    return True


#: SetConsoleMode's flag that makes a Windows 10 console read escape codes instead of showing them.
ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004


def _windows_escape_codes(out: TextIO, kernel32: Any = None) -> bool:
    """True once the console behind ``out`` reads escape codes (switched on here if needed), else False."""
    try:
        import ctypes

        if kernel32 is None:
            import msvcrt

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            handle = msvcrt.get_osfhandle(out.fileno())  # type: ignore[attr-defined]
        else:
            handle = out.fileno()
        mode = ctypes.c_uint32()
        if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
            return False  # not a console (a pipe, or a terminal Windows does not know)
        if mode.value & ENABLE_VIRTUAL_TERMINAL_PROCESSING:
            return True
        return bool(kernel32.SetConsoleMode(handle, mode.value | ENABLE_VIRTUAL_TERMINAL_PROCESSING))
    except (ImportError, AttributeError, OSError, ValueError):
        return False


def _can_encode(out: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(out, "encoding", None) or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
