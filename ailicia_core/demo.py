"""The demo: a short stream session through the OBS script's engine, against a local sandbox.

:func:`run_demo` starts a :class:`~ailicia_core.sandbox.Sandbox` on loopback and an
:class:`~ailicia_core.engine.Engine` pointed at it, hands the engine the domain
events the OBS glue would build (:data:`SESSION`), and prints what OBS did next to
what the sandbox received. It needs no API key and no OBS.

Pacing uses :meth:`Engine.wait_idle` and :meth:`Sandbox.wait_for`, never a sleep;
the only pause is a short one between steps for reading, which ``fast`` removes.
The reaction window is 3 s instead of the real API's 25 s so the demo is quick.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, TextIO, Tuple

from . import events as ev
from .engine import Engine
from .sandbox import DEFAULT_API_KEY, RecordedRequest, Sandbox, SandboxConfig
from .sandbox.dashboard import serve as serve_dashboard

CHANNEL = "mychannel"
#: The sandbox's reaction window and the engine's cooldown (the real API: about 25 s).
WINDOW_S = 3
SCENE_DEBOUNCE_MS = 300
SCENE_DESCRIPTIONS = "Gameplay = Elden Ring, first attempt at the Margit boss fight"
#: Issue 13: a watched now-playing text source and a scene mapped to the sandbox's second character.
WATCHED_SOURCES = "Now Playing"
WATCH_DEBOUNCE_MS = 300
SCENE_CHARACTERS = "Late Night = Cozy Willow"
#: How long one step may take before the demo says it went wrong (the reaction window is the longest wait).
STEP_TIMEOUT_S = 15.0
#: Pause after each step so a reader can follow; ``fast`` skips it.
READING_PAUSE_S = 0.8
SHUTDOWN_TIMEOUT_S = 3.0
#: How long the demo's "streamer" takes to click Allow in the (sandbox's) ai_licia app.
CLICK_ALLOW_S = 0.3

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


@dataclass(frozen=True)
class Step:
    """One thing the streamer does in OBS, and how many requests ai_licia should receive for it."""

    did: str
    events: Tuple[Any, ...] = ()
    #: Instead of events: the panel's "Test connection" button.
    test_connection: bool = False
    expect: int = 1
    note: str = ""


SESSION: Tuple[Step, ...] = (
    Step("Panel: Test connection", test_connection=True, note="only tests the key; nothing reaches the stream"),
    Step(
        "Go live on 'Starting Soon'",
        (ev.StreamStarted(scene="Starting Soon"),),
        expect=2,
        note="asked into chat first, then told what is on air",
    ),
    Step("Scene: 'Gameplay'", (ev.SceneSwitched("Gameplay"),), note="your words for this scene, from the panel"),
    Step(
        "Scene: 'Just Chatting'",
        (ev.SceneSwitched("Just Chatting"),),
        note=f"sent after {SCENE_DEBOUNCE_MS} ms on air (debounce)",
    ),
    Step("Source 'Guest cam' shown", (ev.SourceVisibilityChanged("Just Chatting", "Guest cam", True),)),
    Step("Mic muted", (ev.AudioMuteChanged("Mic/Aux", True, "wasapi_input_capture"),)),
    Step("Hotkey trigger 1", (ev.TriggerPressed(1),), note="the first reaction goes at once"),
    Step(
        "Hotkey triggers 2 and 1, right after",
        (ev.TriggerPressed(2), ev.TriggerPressed(1)),
        note=f"held for the {WINDOW_S} s window, then sent together: no 429",
    ),
    Step(
        "Now playing: a new track",
        (ev.WatchedTextRead("Now Playing", "Lofi Chill Mix Vol 2"),),
        note=f"a watched text source (Tuna, Snip...): sent once unchanged for {WATCH_DEBOUNCE_MS} ms",
    ),
    Step(
        "Scene: 'Late Night'",
        (ev.SceneSwitched("Late Night"),),
        expect=2,
        note="mapped to the character Cozy Willow: made active once, then the scene is told",
    ),
    Step("Stream stops", (ev.StreamStopped(),), expect=2, note="told the stream ended, then asked to leave chat"),
)


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: ``ok`` when every step got its requests and every answer was a success."""

    ok: bool
    requests: Tuple[RecordedRequest, ...]
    status_text: str
    problem: str = ""


class DemoFailed(Exception):
    """A step did not get what it expected within :data:`STEP_TIMEOUT_S`."""


def run_demo(*, fast: bool = False, out: Optional[TextIO] = None, width: Optional[int] = None) -> DemoResult:
    """Play :data:`SESSION` and print it; returns what the sandbox received and the final status."""
    out = out if out is not None else sys.stdout
    table = Table(out, width or _terminal_width(), colour=_wants_colour(out))
    pause = 0.0 if fast else READING_PAUSE_S
    problem = ""
    baseline = 0
    sandbox = Sandbox(SandboxConfig(port=0, quiet=True, generation_window_s=WINDOW_S)).start()
    app = serve_dashboard(api_key=DEFAULT_API_KEY, channel=CHANNEL, grant_delay_s=CLICK_ALLOW_S)
    try:
        table.intro(sandbox.url)
        engine = Engine(unconnected_settings(sandbox.url, app.port))
        try:
            connect_with_app(engine, sandbox.url, table)
            listening = wait_listening(engine)  # issue 12: the key is known now, so the listener connects
            baseline = len(sandbox.requests)  # the listener's own character check is not part of the session
            play(engine, sandbox, table, pause)
            table.heard(wait_heard(engine, sandbox) if listening else None)
        except DemoFailed as exc:
            problem = str(exc)
        finally:
            engine.shutdown(SHUTDOWN_TIMEOUT_S)
        # Read after shutdown: the worker has published its last status by then.
        status_text = engine.status_text()
        received = tuple(sent(sandbox.requests[baseline:]))
    finally:
        app.stop()
        sandbox.stop()
    refused = [r for r in received if r.status is None or not 200 <= r.status < 300]
    if refused and not problem:
        problem = f"{len(refused)} request(s) were not accepted; see above."
    table.ending(received, status_text, problem)
    return DemoResult(ok=not problem, requests=received, status_text=status_text, problem=problem)


def demo_settings(base_url: str) -> dict:
    """The OBS panel's settings for the demo: the sandbox's key and channel, short waits."""
    return {
        "api_key": DEFAULT_API_KEY,
        "channel": CHANNEL,
        "api_base_url": base_url,
        "scene_debounce_ms": SCENE_DEBOUNCE_MS,
        "generation_cooldown_s": WINDOW_S,
        "scene_descriptions": SCENE_DESCRIPTIONS,
        "watched_sources": WATCHED_SOURCES,
        "watch_debounce_ms": WATCH_DEBOUNCE_MS,
        "scene_characters": SCENE_CHARACTERS,
    }


def unconnected_settings(base_url: str, app_port: int) -> dict:
    """The demo's settings before "Connect with ai_licia": no key, no channel; the app on ``app_port``."""
    settings = {k: v for k, v in demo_settings(base_url).items() if k not in ("api_key", "channel")}
    return {**settings, "dashboard_ws_port": app_port}


def connect_with_app(engine: Engine, base_url: str, table: Table) -> None:
    """The first step, as a streamer does it: "Connect with ai_licia", Allow in the app; no key is typed."""
    engine.connect_with_app()
    state = engine.connector.wait(STEP_TIMEOUT_S)
    grant = engine.take_connect_grant()
    if grant is None:
        table.connected(engine.connect_text() or "no answer from the ai_licia app")
        raise DemoFailed(f"'Connect with ai_licia' did not get a key from the sandbox's app ({state.outcome}).")
    engine.reconfigure({**demo_settings(base_url), "api_key": grant.api_key.reveal(), "channel": grant.channel})
    table.connected(engine.connect_text())


def play(engine: Engine, sandbox: Sandbox, table: Table, pause: float) -> None:
    """Hand each step's events to ``engine`` and print the step once the sandbox has its requests."""
    started = time.time()
    table.header()
    for step in SESSION:
        before = len(sent(sandbox.requests))
        if step.test_connection:
            engine.test_connection()
        for event in step.events:
            engine.handle(event)
        wanted = before + step.expect
        # The sandbox records a request just after answering it, so the engine can be
        # idle a moment before the record exists: wait for both.
        if not (
            sandbox.wait_for(lambda seen, n=wanted: len(sent(seen)) >= n, STEP_TIMEOUT_S)
            and engine.wait_idle(STEP_TIMEOUT_S)
        ):
            table.step(step, sent(sandbox.requests)[before:], started)
            raise DemoFailed(
                f"'{step.did}': ai_licia's sandbox did not receive the {step.expect} request(s) "
                f"expected within {STEP_TIMEOUT_S:g} s."
            )
        table.step(step, sent(sandbox.requests)[before:], started)
        if pause:
            threading.Event().wait(pause)  # for the reader only; --fast skips it


# --- what ai_licia said back (issue 12: her live events) ---------------------------------


def sent(requests: Sequence[RecordedRequest]) -> List[RecordedRequest]:
    """What the engine sent: without the listener's stream (its character check comes before the steps)."""
    return [r for r in requests if r.path != "/v1/eventsub/stream"]


def wait_listening(engine: Engine) -> bool:
    """Wait until the listener is connected and has read the active character (that GET is not a step)."""
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while time.monotonic() < deadline:
        status = engine.status()
        if status.listener_state == "connected" and status.character:
            return True
        engine.activity.wait_since(engine.activity.cursor, 0.05)
    return False


def wait_heard(engine: Engine, sandbox: Sandbox) -> List[Any]:
    """Her chat messages heard so far, once there is one per accepted reaction (or the step timeout)."""
    wanted = sum(1 for r in sandbox.requests if r.path == "/v1/events/generations" and r.status == 200)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        entries, cursor = engine.activity.since(0)
        said = [e for e in entries if e.kind == "ai_message"]
        if len(said) >= wanted or time.monotonic() >= deadline:
            return said
        engine.activity.wait_since(cursor, 0.1)


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

    def intro(self, url: str) -> None:
        self._print(self._bold("ai_licia-obs demo") + ": a short stream, played through the engine of the OBS script.")
        self._wrapped(f"ai_licia is played by a local sandbox ({url}): no API key, no OBS needed.")
        self._wrapped(f"Reactions are paced to one per {WINDOW_S} s here; the real API allows one per 25 s.")
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
        """issue 12: what ai_licia said back, from her live events (None: the listener never connected)."""
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
        self._print("Next: put the script in OBS (see install.md), or try your own key and channel:")
        self._print("  python -m ailicia_core connect        (with the ai_licia app open: no key to copy)")
        self._print("  python -m ailicia_core check --help")

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
        print(line, file=self.out, flush=True)

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


def _terminal_width() -> int:
    return shutil.get_terminal_size((MAX_WIDTH, 24)).columns


def _wants_colour(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _can_encode(out: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(out, "encoding", None) or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
