"""What the dock shows and what its controls do, against a recording stand-in for the engine."""

from __future__ import annotations

import pytest

from ailicia_core import commands as cmd
from ailicia_core import events as ev
from ailicia_core.activity import ActivityFeed
from ailicia_core.dock.controls import CONTROLS, TEXT_MAX_CHARS
from ailicia_core.dock.state import full_state, status_state, trigger_name
from ailicia_core.settings import parse_settings
from ailicia_core.status import Status, render_dock_line


class RecordingEngine:
    """The Engine methods the dock uses; records what it was asked."""

    def __init__(self, **settings):
        self.settings = parse_settings(settings)
        self.activity = ActivityFeed()
        self.handled = []
        self.called = []
        self.automatic_paused = False
        self.snapshot = Status(
            live=True,
            in_chat=True,
            queued_generations=2,
            next_generation_in_s=12.4,
            paused_reason="The key was rejected.",
            active_character="Licia",
        )

    def status(self):
        return self.snapshot

    def handle(self, event):
        self.handled.append(event)

    def submit(self, command):
        self.called.append(command)

    def pause_automatic(self):  # what the dock's pause button is shown for
        self.called.append("pause_automatic")


def test_status_state_carries_what_the_dock_header_shows():
    state = status_state(RecordingEngine())
    assert state["live"] is True and state["in_chat"] is True
    assert state["active_character"] == "Licia"
    assert state["paused"] is True and state["paused_reason"] == "The key was rejected."
    assert (state["reactions_waiting"], state["next_reaction_in_s"]) == (2, 12)
    assert "Paused: The key was rejected." in state["lines"]
    assert state["can_pause"] is True and state["can_connect"] is False


def test_triggers_show_a_default_name_and_a_prompt_preview_until_names_exist():
    state = status_state(RecordingEngine(trigger_1_prompt="x" * 200, trigger_4_prompt=""))
    first, fourth = state["triggers"][0], state["triggers"][3]
    assert first["name"] == "Trigger 1" and first["ready"] and len(first["prompt"]) <= 60
    assert fourth == {"slot": 4, "name": "Trigger 4", "prompt": "", "ready": False}


def test_a_trigger_name_getter_is_used_once_settings_have_one():
    settings = parse_settings({})

    class Named:
        def __getattr__(self, name):
            return getattr(settings, name)

        def trigger_name(self, slot):
            return f"Hype {slot}\n"

    assert trigger_name(Named(), 2) == "Hype 2"


def test_the_connect_button_appears_only_when_the_engine_can_connect():
    engine = RecordingEngine()
    engine.connect_with_app = lambda: None
    assert status_state(engine)["can_connect"] is True


def test_full_state_sends_the_latest_entries_oldest_first_with_the_cursor():
    engine = RecordingEngine()
    for n in range(60):
        engine.activity.add(1000.0 + n, "context", f"line {n}", "sent")
    state = full_state(engine)
    assert state["cursor"] == 60
    assert [e["content"] for e in state["activity"]][:1] == ["line 10"]
    assert set(state["activity"][0]) >= {"seq", "at", "time", "kind", "content", "outcome", "detail"}


def test_trigger_control_presses_the_slot():
    engine = RecordingEngine()
    assert CONTROLS["trigger"](engine, {"slot": 3}) is None
    assert engine.handled == [ev.TriggerPressed(3)]


@pytest.mark.parametrize("body", [{}, {"slot": 0}, {"slot": 6}, {"slot": "1"}, {"slot": True}, {"slot": 1.5}])
def test_trigger_control_refuses_a_bad_slot(body):
    engine = RecordingEngine()
    assert CONTROLS["trigger"](engine, body) == "bad_request"
    assert engine.handled == []


def test_context_and_reaction_controls_hand_cleaned_text_to_the_engine():
    engine = RecordingEngine()
    assert CONTROLS["context"](engine, {"text": "  Boss fight\nin 5  "}) is None
    assert CONTROLS["reaction"](engine, {"text": "We won!"}) is None
    assert engine.handled == [ev.ManualContext("Boss fight in 5"), ev.ManualGeneration("We won!")]


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": "x" * (TEXT_MAX_CHARS + 1)}])
def test_text_controls_refuse_empty_or_overlong_text(body):
    engine = RecordingEngine()
    assert CONTROLS["context"](engine, body) == "bad_request"
    assert CONTROLS["reaction"](engine, body) == "bad_request"
    assert engine.handled == []


@pytest.mark.parametrize(
    "name, command",
    [
        ("join", cmd.JoinNow()),
        ("leave", cmd.LeaveNow()),
        ("test", cmd.TestConnection()),
        ("pause", cmd.PauseAutomatic()),
        ("resume", cmd.ResumeAutomatic()),
    ],
)
def test_button_controls_submit_their_typed_command(name, command):
    engine = RecordingEngine()
    assert CONTROLS[name](engine, {}) is None
    assert engine.called == [command]


def test_connect_is_unavailable_until_the_engine_has_it():
    assert CONTROLS["connect"](RecordingEngine(), {}) == "unavailable"


def test_the_panel_line_for_a_port_in_use_says_the_fix():
    assert render_dock_line("port_in_use", 51744) == (
        "Port 51744 is in use by another program: change dock_port in Advanced."
    )
    assert "51744" in render_dock_line("running", 51744)
    assert render_dock_line("failed", 80)
