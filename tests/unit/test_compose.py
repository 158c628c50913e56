"""compose(): the sentences ai_licia hears, and when she hears nothing."""

from __future__ import annotations

import pytest

from ailicia_core import events as ev
from ailicia_core.compose import ChangePresence, Notice, SendContext, SendGeneration, StreamState, compose
from ailicia_core.limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from ailicia_core.settings import parse_settings
from ailicia_core.text import ELLIPSIS, NAME_MAX_CHARS, api_length

IDLE = StreamState()
LIVE = StreamState(live=True, live_since=0.0, scene="Main")
NOW = 1000.0
HEBREW = "\u05e1\u05e6\u05e0\u05d4 \u05e8\u05d0\u05e9\u05d9\u05ea"  # right-to-left text
ARABIC = "\u0645\u0634\u0647\u062f"


def make(**values):
    return parse_settings({"api_key": "sk-test-1234", "channel": "mychannel", **values})


def run(event, settings=None, state=LIVE, now=NOW):
    return compose(event, settings if settings is not None else make(), state, now)


def only_context(actions) -> SendContext:
    [action] = actions
    assert isinstance(action, SendContext)
    return action


def contents(actions) -> list:
    return [a.content for a in actions if isinstance(a, (SendContext, SendGeneration))]


# --- scene switches --------------------------------------------------------------


def test_scene_switch_without_a_description():
    state, actions = run(ev.SceneSwitched("Just Chatting"))
    assert only_context(actions) == SendContext(
        content="Streamer switched to the 'Just Chatting' scene", event_type="GAME_EVENT", ttl=None, kind="scene"
    )
    assert state == StreamState(live=True, live_since=0.0, scene="Just Chatting")


def test_scene_switch_with_a_description():
    settings = make(scene_descriptions="Just Chatting = chatting with viewers\nBRB = away for a moment")
    _, actions = run(ev.SceneSwitched("Just Chatting"), settings)
    assert only_context(actions).content == "Streamer switched to the 'Just Chatting' scene — chatting with viewers"
    _, actions = run(ev.SceneSwitched("brb"), settings)
    assert only_context(actions).content == "Streamer switched to the 'brb' scene — away for a moment"


def test_switching_to_the_scene_already_on_air_sends_nothing():
    state, actions = run(ev.SceneSwitched("Main"))
    assert actions == ()
    assert state == LIVE


def test_an_ignored_scene_is_remembered_but_not_sent():
    settings = make(ignored_scenes="secret SCENE")
    state, actions = run(ev.SceneSwitched("Secret Scene"), settings)
    assert actions == ()
    assert state.scene == "Secret Scene"
    # Coming back from it is a real switch again.
    _, actions = run(ev.SceneSwitched("Main"), settings, state)
    assert only_context(actions).content == "Streamer switched to the 'Main' scene"


def test_scene_switches_while_offline_follow_only_when_live():
    state, actions = run(ev.SceneSwitched("Game"), state=IDLE)
    assert actions == () and state.scene == "Game" and not state.live
    _, actions = run(ev.SceneSwitched("Game"), make(only_when_live=False), IDLE)
    assert only_context(actions).content == "Streamer switched to the 'Game' scene"


def test_scene_switches_can_be_switched_off():
    state, actions = run(ev.SceneSwitched("Game"), make(send_scene_changes=False))
    assert actions == () and state.scene == "Game"


# --- stream start and end --------------------------------------------------------


def test_stream_start_names_the_scene_on_air_and_joins():
    settings = make(scene_descriptions="Starting Soon = countdown before the show")
    state, actions = run(ev.StreamStarted("Starting Soon"), settings, IDLE, now=50.0)
    assert actions == (
        SendContext(
            "Stream started. On air: the 'Starting Soon' scene — countdown before the show",
            "GAME_EVENT",
            None,
            "stream",
        ),
        ChangePresence(join=True, reason="the stream started"),
    )
    assert state == StreamState(live=True, live_since=50.0, scene="Starting Soon")


def test_stream_start_without_a_scene_uses_the_last_known_one():
    _, actions = run(ev.StreamStarted(), make(auto_join=False), StreamState(scene="Game"))
    assert only_context(actions).content == "Stream started. On air: the 'Game' scene"


def test_stream_start_does_not_name_an_ignored_or_unknown_scene():
    _, actions = run(ev.StreamStarted("Secret"), make(ignored_scenes="secret", auto_join=False), IDLE)
    assert only_context(actions).content == "Stream started"
    _, actions = run(ev.StreamStarted(), make(auto_join=False), IDLE)
    assert only_context(actions).content == "Stream started"


def test_a_duplicate_stream_start_does_nothing():
    state, actions = run(ev.StreamStarted("Other"), state=LIVE)
    assert actions == ()
    assert state is LIVE


def test_stream_end_says_how_long_it_lasted_and_leaves():
    started, _ = run(ev.StreamStarted("Main"), state=IDLE, now=100.0)
    state, actions = run(ev.StreamStopped(), state=started, now=100.0 + 2 * 3600 + 13 * 60 + 20)
    assert actions == (
        SendContext("Stream ended after 2 h 13 min", "GAME_EVENT", None, "stream"),
        ChangePresence(join=False, reason="the stream ended"),
    )
    assert not state.live and state.live_since is None and state.scene == "Main"


def test_stream_end_is_sent_even_with_only_when_live():
    # The stream was live until this very event.
    _, actions = run(ev.StreamStopped(), make(only_when_live=True, auto_leave=False), LIVE, now=90.0)
    assert only_context(actions).content == "Stream ended after 1 min"


def test_a_stream_stop_while_not_live_does_nothing():
    state, actions = run(ev.StreamStopped(), state=IDLE)
    assert actions == () and state is IDLE


def test_a_stream_already_live_at_load_joins_without_a_sentence_and_claims_no_duration():
    state, actions = run(ev.StreamAlreadyLive("Game"), state=IDLE, now=5000.0)
    assert actions == (ChangePresence(join=True, reason="the stream is already live"),)
    assert state.live and state.scene == "Game"
    _, actions = run(ev.StreamStopped(), state=state, now=5300.0)
    assert actions[0] == SendContext("Stream ended", "GAME_EVENT", None, "stream")
    # And a second "already live" changes nothing.
    again, actions = run(ev.StreamAlreadyLive("Game"), state=state)
    assert actions == () and again is state


@pytest.mark.parametrize(
    ("values", "start", "stop"),
    [
        ({}, [SendContext, ChangePresence], [SendContext, ChangePresence]),
        ({"auto_join": False}, [SendContext], [SendContext, ChangePresence]),
        ({"auto_leave": False}, [SendContext, ChangePresence], [SendContext]),
        ({"auto_join": False, "auto_leave": False}, [SendContext], [SendContext]),
        ({"send_stream_state": False}, [ChangePresence], [ChangePresence]),
        ({"send_stream_state": False, "auto_join": False, "auto_leave": False}, [], []),
        ({"enabled": False}, [], []),
    ],
)
def test_stream_toggles(values, start, stop):
    settings = make(**values)
    state, actions = run(ev.StreamStarted("Main"), settings, IDLE, now=0.0)
    assert [type(a) for a in actions] == start
    assert state.live  # the state follows OBS whatever is sent
    state, actions = run(ev.StreamStopped(), settings, state, now=60.0)
    assert [type(a) for a in actions] == stop
    assert not state.live


# --- recording -------------------------------------------------------------------


def test_recording_sentences():
    state, actions = run(ev.RecordingStarted(), now=100.0)
    assert only_context(actions) == SendContext("Streamer started recording", "GAME_EVENT", None, "recording")
    assert state.recording and state.recording_since == 100.0
    state, actions = run(ev.RecordingPaused(), state=state, now=200.0)
    assert only_context(actions).content == "Streamer paused the recording"
    state, actions = run(ev.RecordingResumed(), state=state, now=300.0)
    assert only_context(actions).content == "Streamer resumed the recording"
    state, actions = run(ev.RecordingStopped(), state=state, now=100.0 + 45 * 60)
    assert only_context(actions).content == "Streamer stopped recording after 45 min"
    assert not state.recording and state.recording_since is None


def test_a_recording_stop_without_a_known_start_has_no_duration():
    _, actions = run(ev.RecordingStopped())
    assert only_context(actions).content == "Streamer stopped recording"


@pytest.mark.parametrize(
    "event", [ev.RecordingStarted(), ev.RecordingStopped(), ev.RecordingPaused(), ev.RecordingResumed()]
)
def test_recording_gating(event):
    assert run(event, make(send_recording_state=False))[1] == ()
    assert run(event, make(), IDLE)[1] == ()
    assert run(event, make(enabled=False))[1] == ()
    assert len(run(event, make(only_when_live=False), IDLE)[1]) == 1


def test_recording_state_is_tracked_even_when_nothing_is_sent():
    state, actions = run(ev.RecordingStarted(), make(send_recording_state=False), now=10.0)
    assert actions == () and state.recording and state.recording_since == 10.0


# --- sources ---------------------------------------------------------------------


def test_source_shown_and_hidden():
    _, actions = run(ev.SourceVisibilityChanged("Main", "Webcam", True))
    assert only_context(actions) == SendContext(
        "'Webcam' is now shown on stream in the 'Main' scene", "GAME_EVENT", None, "source"
    )
    _, actions = run(ev.SourceVisibilityChanged("Main", "Webcam", False))
    assert only_context(actions).content == "'Webcam' was hidden from the stream in the 'Main' scene"
    _, actions = run(ev.SourceVisibilityChanged("", "Webcam", False))
    assert only_context(actions).content == "'Webcam' was hidden from the stream"


def test_source_sentence_uses_the_scene_description():
    settings = make(scene_descriptions="Main = the main camera view")
    _, actions = run(ev.SourceVisibilityChanged("Main", "Poll", True), settings)
    assert only_context(actions).content == "'Poll' is now shown on stream in the 'Main' scene — the main camera view"


@pytest.mark.parametrize(
    ("values", "state"),
    [
        ({"ignored_sources": "WEBCAM"}, LIVE),
        ({"ignored_scenes": "main"}, LIVE),
        ({"send_source_visibility": False}, LIVE),
        ({"enabled": False}, LIVE),
        ({}, IDLE),
    ],
)
def test_source_gating(values, state):
    new_state, actions = run(ev.SourceVisibilityChanged("Main", "Webcam", True), make(**values), state)
    assert actions == () and new_state is state


def test_source_changes_offline_are_sent_without_only_when_live():
    _, actions = run(ev.SourceVisibilityChanged("Main", "Webcam", True), make(only_when_live=False), IDLE)
    assert len(actions) == 1


# --- audio -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "muted", "expected"),
    [
        ("wasapi_input_capture", True, "Streamer muted their microphone ('Mic'): viewers cannot hear them right now"),
        ("pulse_input_capture", False, "Streamer unmuted their microphone ('Mic'): viewers can hear them again"),
        (
            "coreaudio_input_capture",
            True,
            "Streamer muted their microphone ('Mic'): viewers cannot hear them right now",
        ),
        ("wasapi_output_capture", True, "Streamer muted the desktop audio ('Mic')"),
        ("pulse_output_capture", False, "Streamer unmuted the desktop audio ('Mic')"),
        ("ffmpeg_source", True, "Streamer muted the audio source 'Mic'"),
        ("", False, "Streamer unmuted the audio source 'Mic'"),
    ],
)
def test_mute_sentences(kind, muted, expected):
    _, actions = run(ev.AudioMuteChanged("Mic", muted, kind))
    assert only_context(actions) == SendContext(expected, "GAME_EVENT", None, "audio")


@pytest.mark.parametrize(
    ("values", "state"),
    [
        ({"ignored_sources": "mic"}, LIVE),
        ({"send_mute_changes": False}, LIVE),
        ({"enabled": False}, LIVE),
        ({}, IDLE),
    ],
)
def test_mute_gating(values, state):
    assert run(ev.AudioMuteChanged("Mic", True, "wasapi_input_capture"), make(**values), state)[1] == ()


# --- explicit requests -----------------------------------------------------------


def test_a_trigger_sends_its_prompt_as_a_generation():
    settings = make(trigger_2_prompt="Roast my aim", event_type="CHAT_TRIGGER")
    state, actions = run(ev.TriggerPressed(2), settings)
    assert actions == (SendGeneration("Roast my aim", "CHAT_TRIGGER"),)
    assert state is LIVE


def test_a_trigger_is_sent_offline_too():
    # Hotkeys are explicit: only_when_live does not apply.
    _, actions = run(ev.TriggerPressed(1), make(trigger_1_prompt="Hype!", only_when_live=True), IDLE)
    assert actions == (SendGeneration("Hype!", "GAME_EVENT"),)


@pytest.mark.parametrize("slot", [4, 0, 6, 99])
def test_a_trigger_without_a_prompt_gives_a_notice(slot):
    _, actions = run(ev.TriggerPressed(slot))
    [notice] = actions
    assert isinstance(notice, Notice)
    assert f"Hotkey trigger {slot} has no prompt" in notice.message


def test_a_trigger_while_switched_off_gives_only_a_notice():
    _, actions = run(ev.TriggerPressed(1), make(enabled=False))
    assert actions == (Notice("Hotkey trigger 1 ignored: ai_licia-obs is switched off."),)


def test_manual_requests_are_always_sent():
    for settings in (make(), make(enabled=False), make(only_when_live=True)):
        _, actions = run(ev.ManualContext("  BRB in 2 min\n"), settings, IDLE)
        assert actions == (SendContext("BRB in 2 min", "GAME_EVENT", None, "manual"),)
        _, actions = run(ev.ManualGeneration("Say hi"), settings, IDLE)
        assert actions == (SendGeneration("Say hi", "GAME_EVENT"),)


@pytest.mark.parametrize("text", ["", "  \n ", "\x1b", "\x00\x07 \x7f"])
def test_empty_manual_requests_send_nothing(text):
    assert run(ev.ManualContext(text))[1] == ()
    assert run(ev.ManualGeneration(text))[1] == ()


def test_a_prompt_of_control_characters_counts_as_no_prompt():
    _, actions = run(ev.TriggerPressed(1), make(trigger_1_prompt="\x1b\x07"))
    [notice] = actions
    assert isinstance(notice, Notice) and "has no prompt" in notice.message


def test_switched_off_silences_everything_automatic():
    settings = make(enabled=False)
    for event in (
        ev.SceneSwitched("Game"),
        ev.StreamStarted("Game"),
        ev.StreamAlreadyLive("Game"),
        ev.RecordingStarted(),
        ev.SourceVisibilityChanged("Main", "Cam", True),
        ev.AudioMuteChanged("Mic", True, "wasapi_input_capture"),
    ):
        for state in (IDLE, LIVE):
            assert run(event, settings, state)[1] == (), event
    assert run(ev.StreamStopped(), settings, LIVE)[1] == ()


def test_an_unknown_event_changes_nothing():
    state, actions = run(object())  # type: ignore[arg-type]
    assert actions == () and state is LIVE


# --- ttl and event type ----------------------------------------------------------


def test_ttl_comes_from_context_ttl_s():
    _, actions = run(ev.SceneSwitched("Game"), make(context_ttl_s=90))
    assert only_context(actions).ttl == 90
    _, actions = run(ev.SceneSwitched("Game"), make(context_ttl_s="0"))
    assert only_context(actions).ttl is None


def test_event_type_is_passed_through():
    settings = make(event_type="IRL_EVENT", context_ttl_s=30)
    _, actions = run(ev.StreamStarted("Main"), settings, IDLE)
    assert [a.event_type for a in actions if isinstance(a, SendContext)] == ["IRL_EVENT"]
    _, actions = run(ev.ManualGeneration("go"), settings)
    assert actions == (SendGeneration("go", "IRL_EVENT"),)


# --- awkward names and long text -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Cam\nFront\r\nWide", "Cam Front Wide"),
        ('Bob\'s "Best" Scene', 'Bob\'s "Best" Scene'),
        (HEBREW, HEBREW),
        (f"{ARABIC} 2", f"{ARABIC} 2"),
        ("tab\tand\x00nul", "tab andnul"),
        ("", "(unnamed)"),
    ],
)
def test_awkward_names_are_cleaned_into_one_line(name, shown):
    _, actions = run(ev.SceneSwitched(name), state=StreamState(live=True, scene="Other"))
    assert only_context(actions).content == f"Streamer switched to the '{shown}' scene"
    _, actions = run(ev.SourceVisibilityChanged("Main", name, True))
    assert only_context(actions).content.startswith(f"'{shown}' is now shown")


def test_a_2000_character_name_is_shortened_and_the_sentence_fits():
    name = "N" * 2000
    _, actions = run(ev.SceneSwitched(name))
    content = only_context(actions).content
    assert api_length(content) <= CONTEXT_MAX_CHARS
    quoted = content.split("'")[1]
    assert quoted.endswith(ELLIPSIS) and api_length(quoted) <= NAME_MAX_CHARS
    _, actions = run(ev.SourceVisibilityChanged(name, name, True))
    assert api_length(only_context(actions).content) <= CONTEXT_MAX_CHARS


def test_a_huge_scene_description_is_cut_inside_the_context_limit():
    settings = make(scene_descriptions="Main = " + "very long words " * 100)
    _, actions = run(ev.SceneSwitched("Main"), settings, StreamState(live=True))
    content = only_context(actions).content
    assert content.startswith("Streamer switched to the 'Main' scene — very long words")
    assert content.endswith(ELLIPSIS) and api_length(content) <= CONTEXT_MAX_CHARS


@pytest.mark.parametrize("prompt", ["p" * 301, "Hype " * 100, "\U0001f525" * 151, "\u5b57" * 400])
def test_prompts_over_300_characters_are_shortened(prompt):
    _, actions = run(ev.TriggerPressed(1), make(trigger_1_prompt=prompt))
    [generation] = actions
    assert isinstance(generation, SendGeneration)
    assert generation.content.endswith(ELLIPSIS)
    assert api_length(generation.content) <= GENERATION_MAX_CHARS
    _, actions = run(ev.ManualGeneration(prompt))
    assert api_length(contents(actions)[0]) <= GENERATION_MAX_CHARS


def test_a_prompt_of_exactly_300_characters_is_sent_whole():
    prompt = "q" * 300
    _, actions = run(ev.TriggerPressed(1), make(trigger_1_prompt=prompt))
    assert actions == (SendGeneration(prompt, "GAME_EVENT"),)


def test_manual_context_over_700_characters_is_shortened():
    _, actions = run(ev.ManualContext("c" * 701))
    content = only_context(actions).content
    assert content == "c" * 699 + ELLIPSIS
