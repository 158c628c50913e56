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

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, TextIO, Tuple

from . import events as ev
from .demo_table import Step, Table, terminal_width, wants_colour
from .engine import Engine
from .sandbox import DEFAULT_API_KEY, RecordedRequest, Sandbox, SandboxConfig
from .sandbox.dashboard import serve as serve_dashboard

CHANNEL = "mychannel"
#: The sandbox's reaction window and the engine's cooldown (the real API: about 25 s).
WINDOW_S = 3
SCENE_DEBOUNCE_MS = 300
SCENE_DESCRIPTIONS = "Gameplay = Elden Ring, first attempt at the Margit boss fight"
#: A watched now-playing text source and a scene mapped to the sandbox's second character.
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
    import websocket  # noqa: F401 (the app's stand-in needs it: missing, the command says so before anything starts)

    out = out if out is not None else sys.stdout
    table = Table(out, width or terminal_width(), colour=wants_colour(out))
    pause = 0.0 if fast else READING_PAUSE_S
    problem = ""
    baseline = 0
    sandbox = Sandbox(SandboxConfig(port=0, quiet=True, generation_window_s=WINDOW_S)).start()
    app = serve_dashboard(api_key=DEFAULT_API_KEY, channel=CHANNEL, grant_delay_s=CLICK_ALLOW_S)
    try:
        table.intro(sandbox.url, WINDOW_S)
        engine = Engine(unconnected_settings(sandbox.url, app.port))
        try:
            connect_with_app(engine, sandbox.url, table)
            listening = wait_listening(engine)  # the key is known now, so the listener connects
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


# --- what ai_licia said back (her live events) -------------------------------------------


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
