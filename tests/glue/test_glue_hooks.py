"""Every OBS hook becomes exactly one domain event, and the right request to ai_licia."""

import threading

from conftest import CHANNEL, READY, Call, boot, calls, contents
from fake_obspython import EVENT

from ailicia_core.settings import DEFAULTS


def test_initial_scene_is_not_reported_but_a_later_switch_is(fake, script, api, spy):
    studio = boot(fake, script, **READY)
    events = spy()
    script.settle()
    assert calls(api) == []

    fake.switch_scene(studio.brb)
    script.settle()
    assert [type(e).__name__ for e in events.events] == ["SceneSwitched"]
    assert events.events[0].scene == "BRB"
    assert contents(api) == ["Streamer switched to the 'BRB' scene"]


def test_same_scene_again_is_not_a_switch(fake, script, api):
    studio = boot(fake, script, **READY)
    fake.switch_scene(studio.main)
    script.settle()
    assert calls(api) == []


def test_stream_start_reports_the_scene_and_joins(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    made = calls(api)
    assert Call("POST", f"/v1/streams/{CHANNEL}", None) in made
    assert contents(api) == ["Stream started. On air: the 'Main' scene"]
    assert len(made) == 2


def test_stream_stop_reports_and_leaves(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    api.calls.reset()
    fake.stop_stream()
    script.settle()
    made = calls(api)
    assert Call("DELETE", f"/v1/streams/{CHANNEL}", None) in made
    assert [c for c in contents(api) if c.startswith("Stream ended")]
    assert len(made) == 2


def test_a_failed_stream_start_joins_nothing_and_leaves_nothing(fake, script, api, spy):
    boot(fake, script, **READY)
    events = spy()
    fake.fail_stream_start()
    script.settle()
    assert events.events == []
    assert calls(api) == []


def test_recording_started_paused_resumed_stopped(fake, script, api, spy):
    boot(fake, script, **READY)
    events = spy()
    for event in (
        EVENT.RECORDING_STARTING,
        EVENT.RECORDING_STARTED,
        EVENT.RECORDING_PAUSED,
        EVENT.RECORDING_UNPAUSED,
        EVENT.RECORDING_STOPPING,
        EVENT.RECORDING_STOPPED,
    ):
        fake.fire(event)
    script.settle()
    assert [type(e).__name__ for e in events.events] == [
        "RecordingStarted",
        "RecordingPaused",
        "RecordingResumed",
        "RecordingStopped",
    ]
    sent = contents(api)
    assert sent[:3] == ["Streamer started recording", "Streamer paused the recording", "Streamer resumed the recording"]
    assert sent[3].startswith("Streamer stopped recording")


def test_a_recording_that_never_started_is_not_reported_stopped(fake, script, api):
    boot(fake, script, **READY)
    fake.fire(EVENT.RECORDING_STARTING)
    fake.fire(EVENT.RECORDING_STOPPED)
    script.settle()
    assert calls(api) == []


def test_items_of_the_program_scene_are_reported(fake, script, api):
    studio = boot(fake, script, **READY)
    fake.set_visible(studio.overlay, True)
    fake.set_visible(studio.camera, False)
    script.settle()
    assert contents(api) == [
        "'Overlay' is now shown on stream in the 'Main' scene",
        "'Camera' was hidden from the stream in the 'Main' scene",
    ]


def test_items_of_nested_scenes_and_groups_on_program_are_reported(fake, script, api, spy):
    studio = boot(fake, script, **READY)
    events = spy()
    fake.set_visible(studio.cam_frame, True)
    fake.set_visible(studio.health_bar, True)
    script.settle()
    assert [(e.scene, e.source, e.visible) for e in events.events] == [
        ("Webcam Scene", "Cam Frame", True),
        ("HUD Group", "Health Bar", True),
    ]
    assert len(contents(api)) == 2


def test_items_viewers_cannot_see_are_not_reported(fake, script, api, spy):
    studio = boot(fake, script, **READY)
    events = spy()
    fake.set_visible(studio.brb_text, True)  # BRB is not on program
    fake.set_visible(studio.webcam_in_main, False)  # the nested scene leaves the program output...
    script.settle()
    assert contents(api) == ["'Webcam Scene' was hidden from the stream in the 'Main' scene"]
    api.calls.reset()
    events.events.clear()
    fake.set_visible(studio.cam_frame, True)  # ...so its items are invisible to viewers
    script.settle()
    assert events.events == []
    assert calls(api) == []


def test_visibility_from_another_thread_is_reported(fake, script, api):
    studio = boot(fake, script, **READY)
    worker = threading.Thread(target=fake.set_visible, args=(studio.overlay, True))
    worker.start()
    worker.join(5)
    script.settle()
    assert contents(api) == ["'Overlay' is now shown on stream in the 'Main' scene"]


def test_mutes_are_reported_with_the_source_kind(fake, script, api, spy):
    studio = boot(fake, script, **READY)
    events = spy()
    fake.set_muted(studio.mic, True)
    fake.set_muted(studio.desktop, True)
    script.settle()
    assert [(e.source, e.muted, e.source_kind) for e in events.events] == [
        ("Mic", True, "pulse_input_capture"),
        ("Desktop Audio", True, "pulse_output_capture"),
    ]
    sent = contents(api)
    assert sent[0].startswith("Streamer muted their microphone ('Mic')")
    assert sent[1] == "Streamer muted the desktop audio ('Desktop Audio')"


def test_an_audio_source_added_later_is_watched_from_the_next_stream_start(fake, script, api):
    boot(fake, script, **READY)
    guitar = fake.add_input("Guitar", "pulse_input_capture", audio=True, video=False)
    fake.start_stream()
    fake.tick_timers()  # the stream start asked the source timer for a walk
    script.settle()
    api.calls.reset()
    fake.set_muted(guitar, True)
    script.settle()
    assert contents(api)[0].startswith("Streamer muted their microphone ('Guitar')")


def test_a_trigger_hotkey_asks_for_a_reaction_on_press_only(fake, script, api, spy):
    boot(fake, script, **READY)
    events = spy()
    fake.press_hotkey("ailicia_trigger_1", pressed=True)
    fake.press_hotkey("ailicia_trigger_1", pressed=False)
    script.settle()
    assert [type(e).__name__ for e in events.events] == ["TriggerPressed"]
    assert events.events[0].slot == 1
    assert contents(api, "/v1/events/generations") == [DEFAULTS["trigger_1_prompt"]]


def test_a_trigger_without_a_prompt_sends_nothing(fake, script, api):
    boot(fake, script, **READY)
    fake.press_hotkey("ailicia_trigger_5")
    script.settle()
    assert calls(api) == []


def test_loading_while_already_live_joins_and_a_later_stop_leaves(fake, script, api, spy):
    studio = fake_studio_live(fake)
    script.load(**READY)
    script.settle()
    assert calls(api) == [Call("POST", f"/v1/streams/{CHANNEL}", None)]
    events = spy()
    fake.switch_scene(studio)  # the same scene: not a switch
    fake.stop_stream()
    script.settle()
    assert [type(e).__name__ for e in events.events] == ["StreamStopped"]
    assert Call("DELETE", f"/v1/streams/{CHANNEL}", None) in calls(api)


def fake_studio_live(fake):
    main = fake.add_scene("Main")
    fake.switch_scene(main, fire=False)
    fake.streaming = True
    return main


def test_panel_buttons_test_join_and_leave(fake, script, api):
    boot(fake, script, **READY)
    script.properties()
    assert script.click("ailicia_test_connection") is True
    script.settle()
    assert script.click("ailicia_join_now") is True
    script.settle()
    assert script.click("ailicia_leave_now") is True
    script.settle()
    assert [(c.method, c.path) for c in calls(api)] == [
        ("GET", "/v1/characters"),
        ("POST", f"/v1/streams/{CHANNEL}"),
        ("DELETE", f"/v1/streams/{CHANNEL}"),
    ]
    script.click("ailicia_refresh_status")
    assert "Connected" in script.status()


def test_settings_changes_reach_the_running_engine(fake, script, api):
    studio = boot(fake, script, **READY)
    engine = script.engine
    script.update(ignored_scenes="BRB")
    fake.switch_scene(studio.brb)
    fake.switch_scene(studio.webcam_scene)
    script.settle()
    assert script.engine is engine
    assert contents(api) == ["Streamer switched to the 'Webcam Scene' scene"]
