"""Glue: watched text, from-file text and VLC sources; named triggers and their panel rows (stand-in obspython)."""

from __future__ import annotations

import os
import threading

from conftest import READY, boot, calls, contents

from tests.support.waiting import wait_for


def watched_events(recorded):
    return [e for e in recorded.events if type(e).__name__.startswith("Watched")]


def no_reads_held(fake) -> bool:
    """Reading sources left no reference behind (signal connections hold weak ones while loaded)."""
    held = fake.refs.outstanding()
    return all(held.get(kind, 0) == 0 for kind in ("source", "data", "calldata"))


def test_one_timer_reads_at_most_a_second_apart_while_loaded_and_none_after_unload(fake, script):
    boot(fake, script, **READY, watched_sources="Song")
    assert script.module.WATCH_INTERVAL_MS <= 1000
    for _ in range(20):
        script.reload()
    assert fake.timers == [(script.glue.tick.callback, script.module.TICK_MS)]  # the script's one timer, once
    script.unload()
    assert fake.timers == []
    assert fake.refs.outstanding() == {}


def test_a_text_source_change_is_handed_over_once(fake, script, spy):
    boot(fake, script, **READY, watched_sources="Race HUD = HUD")
    hud = fake.add_text_source("Race HUD", "text_ft2_source_v2", text="Lap 4/12")
    recorded = spy()
    fake.tick_timers()
    fake.tick_timers()
    hud.settings.values["text"] = "Lap 5/12, tire wear 45%"
    fake.tick_timers()
    fake.tick_timers()
    names = [(type(e).__name__, e.source, e.text) for e in watched_events(recorded)]
    assert names == [
        ("WatchedTextRead", "Race HUD", "Lap 4/12"),
        ("WatchedTextRead", "Race HUD", "Lap 5/12, tire wear 45%"),
    ]
    assert no_reads_held(fake)


def test_a_gdi_text_source_reading_from_a_file_hands_over_its_path_not_its_text(fake, script, spy, monkeypatch):
    boot(fake, script, **READY, watched_sources="Now Playing")
    fake.add_text_source(
        "Now Playing", "text_gdiplus_v2", text="ignored", read_from_file=True, file="/tmp/tuna/current_song.txt"
    )
    recorded = spy()
    on_obs_thread = threading.current_thread()

    def no_io_here(*args, **kwargs):
        if threading.current_thread() is on_obs_thread:
            raise AssertionError("file I/O on the OBS thread")
        return real_stat(*args, **kwargs)

    real_stat = os.stat
    monkeypatch.setattr(os, "stat", no_io_here)
    fake.tick_timers()
    monkeypatch.undo()
    assert not [line for line in fake.log_lines() if "ai_licia-obs could not" in line]  # obs_callback logs a raise
    (event,) = watched_events(recorded)
    assert type(event).__name__ == "WatchedFileNamed" and event.path == "/tmp/tuna/current_song.txt"


def test_a_freetype_text_source_reading_from_a_file_uses_its_own_setting_names(fake, script, spy):
    boot(fake, script, **READY, watched_sources="Song")
    fake.add_text_source("Song", "text_ft2_source", text="x", from_file=True, text_file="/tmp/snip.txt")
    recorded = spy()
    fake.tick_timers()
    (event,) = watched_events(recorded)
    assert type(event).__name__ == "WatchedFileNamed" and event.path == "/tmp/snip.txt"


def test_a_vlc_source_gives_title_and_artist_through_get_metadata(fake, script, spy):
    boot(fake, script, **READY, watched_sources="Playlist")
    vlc = fake.add_vlc_source("Playlist", title="Lofi Chill Mix Vol 2", artist="Chillhop")
    recorded = spy()
    fake.tick_timers()
    vlc.metadata["title"] = "Rainy Day"
    fake.tick_timers()
    got = [(e.title, e.artist) for e in watched_events(recorded)]
    assert got == [("Lofi Chill Mix Vol 2", "Chillhop"), ("Rainy Day", "Chillhop")]
    assert vlc.procs.calls == 4  # title and artist, per tick
    assert no_reads_held(fake)  # every calldata destroyed, every source released


def test_a_missing_source_and_an_unreadable_kind_get_a_status_hint(fake, script):
    boot(fake, script, **READY, watched_sources="Ghost\nCamera")
    fake.tick_timers()
    script.properties()
    status = wait_for(lambda: "Camera" in script.engine.status_text() and script.engine.status_text())
    assert "there is no source called 'Ghost'" in status
    assert "'Camera' is a v4l2_input source, which shows no text to read" in status
    fake.add_text_source("Ghost", text="Back")
    fake.tick_timers()
    assert wait_for(lambda: "Ghost" not in script.engine.status_text())


def test_a_settled_text_reaches_ai_licia_as_context(fake, script, api):
    boot(fake, script, **READY, watched_sources="Now Playing", watch_debounce_ms=0)
    fake.add_text_source("Now Playing", text="Lofi Chill Mix Vol 2")
    fake.tick_timers()
    assert wait_for(lambda: "Now playing: Lofi Chill Mix Vol 2" in contents(api)), contents(api)


def test_sources_taken_off_the_list_are_no_longer_read(fake, script, spy):
    boot(fake, script, **READY, watched_sources="A\nB")
    fake.add_text_source("A", text="a")
    fake.add_text_source("B", text="b")
    fake.tick_timers()
    script.update(watched_sources="A")
    recorded = spy()
    fake.find_source("B").settings.values["text"] = "b2"
    fake.tick_timers()
    assert watched_events(recorded) == []
    assert set(script.glue.watched.readings) == {"A"}


def test_a_named_trigger_shows_its_name_in_the_hotkey_list_and_keeps_its_hotkey_name(fake, script):
    boot(fake, script, **READY, trigger_2_name="Roast me")
    hotkey = fake.hotkey_named("ailicia_trigger_2")
    assert hotkey.description == "ai_licia: Roast me"
    assert fake.hotkey_named("ailicia_trigger_1").description.startswith("ai_licia: trigger 1 — ")
    script.update(trigger_2_name="  Roast   me harder ")
    assert fake.hotkey_named("ailicia_trigger_2").description == "ai_licia: Roast me harder"


def test_a_trigger_with_tts_asks_for_speech(fake, script, api):
    boot(fake, script, **READY, trigger_1_tts=True)
    fake.press_hotkey("ailicia_trigger_1")
    script.settle()
    (generation,) = [c for c in calls(api) if c.path == "/v1/events/generations"]
    assert generation.body["data"]["features"] == {"tts": True}


def test_the_panel_has_the_new_settings(fake, script):
    boot(fake, script, **READY)
    props = script.properties()
    for name in ("watched_sources", "watch_debounce_ms", "scene_characters"):
        assert props.find(name) is not None, name
    for slot in range(1, 6):
        assert props.find(f"trigger_{slot}_name") is not None
        assert props.find(f"trigger_{slot}_tts").kind == "bool"
