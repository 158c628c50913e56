"""Glue: the panel picks ``caption_source`` and watched sources from lists of the sources OBS has.

The names come from the source timer's walk (OBS 29 can deadlock when the UI thread walks the
sources: the stand-in records any walk outside a timer as a problem, and the ``script`` fixture
fails on any). The persisted keys keep their string values: the lists only help to fill them.
"""

from __future__ import annotations

import fake_obspython as fo
from conftest import READY, boot


def items(script, name: str) -> list:
    return list(script.props.find(name).extra["items"])


def add_sources(fake) -> None:
    fake.add_text_source("Race HUD", "text_gdiplus_v2", text="Lap 1")
    fake.add_vlc_source("Music Player", title="Rainy Day")
    fake.add_text_source("alerts text")  # sorted whatever the case


def test_the_caption_list_offers_the_text_sources_and_still_takes_typing(fake, script):
    boot(fake, script, **READY)
    add_sources(fake)
    fake.tick_timers()  # no walk was asked for: the list keeps what the last walk saw
    script.properties()
    caption = script.props.find("caption_source")
    assert caption.kind == "list" and caption.parent.top().find("ailicia_live_events") is not None
    assert caption.extra["combo_type"] == fo.OBS_COMBO_TYPE_EDITABLE
    assert caption.extra["combo_format"] == fo.OBS_COMBO_FORMAT_STRING
    assert items(script, "caption_source") == [("BRB Text", "BRB Text")]
    fake.tick_timers()  # building the panel asked for a walk: it runs on the timer
    script.click("ailicia_refresh_status")
    assert items(script, "caption_source") == [(n, n) for n in ("alerts text", "BRB Text", "Race HUD")]
    # A typed name that no source has yet stays the setting, as a plain string.
    script.modify("caption_source", "Captions (not made yet)")
    assert script.data.values["caption_source"] == "Captions (not made yet)"
    assert script.glue.settings.caption_source == "Captions (not made yet)"


def test_the_watched_list_offers_text_and_vlc_sources_under_a_prompt(fake, script):
    boot(fake, script, **READY)
    add_sources(fake)
    script.glue.request_source_walk()
    fake.tick_timers()
    script.properties()
    picker = script.props.find("ailicia_add_watched")
    assert picker.extra["combo_type"] == fo.OBS_COMBO_TYPE_LIST  # a pick adds a line at once: no half-typed names
    assert picker.parent is script.props.find("watched_sources").parent
    assert items(script, "ailicia_add_watched") == [
        ("Add a watched source…", ""),
        ("alerts text", "alerts text"),
        ("BRB Text", "BRB Text"),
        ("Race HUD", "Race HUD"),
        ("Music Player", "Music Player"),
    ]
    assert ("Camera", "Camera") not in items(script, "ailicia_add_watched")  # a webcam shows no text


def test_a_pick_adds_a_line_to_the_watched_sources_text_and_applies_it(fake, script):
    boot(fake, script, **READY, watched_sources="Now Playing = Song\n")
    add_sources(fake)
    script.glue.request_source_walk()
    fake.tick_timers()
    script.properties()
    assert script.modify("ailicia_add_watched", "Race HUD") is True  # OBS redraws the panel
    assert script.data.values["watched_sources"] == "Now Playing = Song\nRace HUD"
    assert script.data.values["ailicia_add_watched"] == ""  # the list shows its prompt again
    assert [e.name for e in script.glue.settings.watched_sources] == ["Now Playing", "Race HUD"]
    # A name already listed (with or without a label) is not added twice; the prompt itself adds nothing.
    script.modify("ailicia_add_watched", "Now Playing")
    script.modify("ailicia_add_watched", "")
    assert script.data.values["watched_sources"] == "Now Playing = Song\nRace HUD"
    fake.tick_timers()
    assert "Race HUD" in script.glue.watched.readings  # the timer reads the new line


def test_a_pick_into_an_empty_box_is_the_only_line(fake, script):
    boot(fake, script, **READY)
    script.properties()
    script.modify("ailicia_add_watched", "BRB Text")
    assert script.data.values["watched_sources"] == "BRB Text"


def test_renamed_and_deleted_sources_leave_the_lists_at_the_next_walk(fake, script):
    studio = boot(fake, script, **READY)
    fake.destroy_source(studio.brb_text.source)
    fake.add_text_source("Ticker")
    script.properties()  # asks for a walk; never walks itself
    assert items(script, "caption_source") == [("BRB Text", "BRB Text")]
    fake.tick_timers()
    script.click("ailicia_refresh_status")
    assert items(script, "caption_source") == [("Ticker", "Ticker")]


def test_the_panel_builds_with_empty_lists_before_any_walk(fake, script):
    script.load(**READY)  # OBS start-up: no scene yet, the timers wait for FINISHED_LOADING
    script.properties()
    assert items(script, "caption_source") == []
    assert items(script, "ailicia_add_watched") == [("Add a watched source…", "")]
