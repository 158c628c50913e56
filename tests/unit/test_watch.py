"""Watched sources, pure: parsing, sentences, limits, debounce and dedupe, and what compose makes of them."""

from __future__ import annotations

import pytest

from ailicia_core import events as ev
from ailicia_core.compose import SendContext, StreamState, compose
from ailicia_core.limits import CONTEXT_MAX_CHARS
from ailicia_core.settings import DEFAULTS, parse_settings
from ailicia_core.text import api_length
from ailicia_core.watch import (
    MAX_WATCHED_SOURCES,
    WatchedSource,
    WatchTracker,
    media_text,
    watch_sentence,
)

GOOD = {"api_key": "sk-test-1234", "channel": "mychannel"}
LIVE = StreamState(live=True, live_since=0.0, scene="Main")
IDLE = StreamState(scene="Main")


def make(**values):
    return parse_settings({**GOOD, **values})


def test_the_pinned_keys_have_their_types_and_defaults():
    assert DEFAULTS["watched_sources"] == "" and DEFAULTS["scene_characters"] == ""
    assert DEFAULTS["watch_debounce_ms"] == 2000
    for slot in range(1, 6):
        assert DEFAULTS[f"trigger_{slot}_name"] == ""
        assert DEFAULTS[f"trigger_{slot}_tts"] is False
    settings = make()
    assert settings.watch_debounce_ms == 2000 and settings.watched_sources == ()
    assert settings.trigger_tts == (False,) * 5 and settings.trigger_names == ("",) * 5


def test_watched_sources_are_parsed_with_optional_labels():
    settings = make(watched_sources="Now Playing\n  HUD = Race HUD \n# comment\n\nNotes=Production notes")
    assert settings.watched_sources == (
        WatchedSource("Now Playing"),
        WatchedSource("HUD", "Race HUD"),
        WatchedSource("Notes", "Production notes"),
    )
    assert settings.problems == ()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("= label", "has no source name"),
        ("HUD\nhud = again", "is listed twice"),
        ("\n".join(f"S{n}" for n in range(MAX_WATCHED_SOURCES + 2)), f"at most {MAX_WATCHED_SOURCES}"),
    ],
)
def test_bad_watched_lines_become_problems_in_plain_words(raw, words):
    settings = make(watched_sources=raw)
    assert [p.key for p in settings.problems] == ["watched_sources"]
    assert words in settings.problems[0].message
    assert not settings.problems[0].blocking


@pytest.mark.parametrize("raw", [12, None, "\x00", "=" * 5000, ["a"]])
def test_parsing_never_raises(raw):
    parse_settings({**GOOD, "watched_sources": raw, "scene_characters": raw, "watch_debounce_ms": raw})


def test_the_debounce_is_bounded():
    assert make(watch_debounce_ms=-5).watch_debounce_ms == 2000  # below the floor: the default, as for every number
    assert make(watch_debounce_ms=10**9).watch_debounce_ms == 60_000
    assert make(watch_debounce_ms="soon").watch_debounce_ms == 2000


@pytest.mark.parametrize(
    ("source", "text", "kind", "sentence"),
    [
        (WatchedSource("Now Playing"), "Lofi Chill Mix Vol 2", "text", "Now playing: Lofi Chill Mix Vol 2"),
        (WatchedSource("Tuna"), "Now playing: Song - Artist", "text", "Now playing: Song - Artist"),
        (WatchedSource("Text 3", "Background track"), "Lofi", "text", "Now playing: Lofi"),
        (WatchedSource("HUD", "Race HUD"), "Lap 5/12, tire wear 45%", "text", "Race HUD: Lap 5/12, tire wear 45%"),
        (WatchedSource("Notes"), "Giveaway at 9\n\nthen Q&A", "text", "Notes: Giveaway at 9 / then Q&A"),
        (WatchedSource("Playlist"), "Rainy Day by Chillhop", "media", "Now playing: Rainy Day by Chillhop"),
    ],
)
def test_the_sentence_names_the_label_or_says_now_playing(source, text, kind, sentence):
    assert watch_sentence(source, text, kind) == sentence


def test_media_text_uses_whatever_is_known():
    assert media_text("Rainy Day", "Chillhop") == "Rainy Day by Chillhop"
    assert media_text("", "Chillhop") == "Chillhop"
    assert media_text("Rainy\x00 Day", "") == "Rainy Day"


def test_the_tracker_debounces_and_reports_only_what_settled():
    tracker = WatchTracker()
    tracker.observe("HUD", "Lap 1", now=0.0)
    assert tracker.settle(1.9, debounce_s=2.0) == []
    assert tracker.due_at(2.0) == 2.0
    tracker.observe("HUD", "Lap 2", now=1.0)  # changed again within the debounce: the clock restarts
    assert tracker.settle(2.5, debounce_s=2.0) == []
    assert tracker.settle(3.0, debounce_s=2.0) == [("HUD", "Lap 2", "text", True)]
    assert tracker.due_at(2.0) is None


def test_the_tracker_deduplicates_and_ignores_blank_text():
    tracker = WatchTracker()
    tracker.observe("Song", "A", 0.0)
    assert tracker.settle(2.0, 2.0) == [("Song", "A", "text", True)]
    tracker.observe("Song", "B", 3.0)
    tracker.observe("Song", "A", 3.5)  # A -> B -> A inside the debounce: nothing new
    assert tracker.settle(10.0, 2.0) == []
    tracker.observe("Song", "", 11.0)  # the source went blank
    assert tracker.settle(20.0, 2.0) == []
    tracker.observe("Song", "A", 21.0)  # and came back with the same track
    assert tracker.settle(30.0, 2.0) == []
    tracker.observe("Song", "C", 31.0)
    assert tracker.settle(33.0, 2.0) == [("Song", "C", "text", False)]


def test_several_sources_settle_in_the_order_they_changed():
    tracker = WatchTracker()
    tracker.observe("B", "b", 1.0)
    tracker.observe("A", "a", 0.5)
    assert [s for s, *_ in tracker.settle(5.0, 0.0)] == ["A", "B"]


def test_compose_sends_a_settled_reading_as_context_when_live():
    settings = make(watched_sources="HUD = Race HUD")
    _, actions = compose(ev.WatchedSourceSettled("HUD", "Lap 5/12"), settings, LIVE, 0.0)
    assert actions == (SendContext("Race HUD: Lap 5/12", "GAME_EVENT", None, "watch"),)


def test_compose_finds_the_label_in_any_case():
    settings = make(watched_sources="Race Hud = HUD")
    _, actions = compose(ev.WatchedSourceSettled("race hud", "Lap 1"), settings, LIVE, 0.0)
    assert actions[0].content == "HUD: Lap 1"


def test_only_when_live_holds_the_newest_reading_back_until_the_stream_starts():
    settings = make(watched_sources="Now Playing\nHUD")
    state, actions = compose(ev.WatchedSourceSettled("Now Playing", "Song A"), settings, IDLE, 0.0)
    assert actions == ()
    state, _ = compose(ev.WatchedSourceSettled("Now Playing", "Song B"), settings, state, 1.0)
    state, _ = compose(ev.WatchedSourceSettled("HUD", "Lap 1"), settings, state, 2.0)
    state, actions = compose(ev.StreamStarted("Main"), settings, state, 3.0)
    watch = [a.content for a in actions if isinstance(a, SendContext) and a.kind == "watch"]
    assert watch == ["Now playing: Song B", "HUD: Lap 1"]
    assert state.held_watch == ()
    _, again = compose(ev.StreamStopped(), settings, state, 4.0)
    assert not [a for a in again if getattr(a, "kind", "") == "watch"]


def test_with_only_when_live_off_readings_go_out_while_offline():
    settings = make(watched_sources="HUD", only_when_live=False)
    _, actions = compose(ev.WatchedSourceSettled("HUD", "Lap 1"), settings, IDLE, 0.0)
    assert [a.content for a in actions] == ["HUD: Lap 1"]


def test_the_master_switch_silences_watched_sources():
    settings = make(watched_sources="HUD", enabled=False)
    _, actions = compose(ev.WatchedSourceSettled("HUD", "Lap 1"), settings, LIVE, 0.0)
    assert actions == ()


@pytest.mark.parametrize("text", ["x" * 5000, "\U0001f3b5" * 800, "Lap\n" * 2000])
def test_a_huge_text_fits_the_context_limit(text):
    settings = make(watched_sources="HUD = " + "L" * 900)
    _, (action,) = compose(ev.WatchedSourceSettled("HUD", text), settings, LIVE, 0.0)
    assert 0 < api_length(action.content) <= CONTEXT_MAX_CHARS


def test_after_a_reload_while_live_the_first_reading_is_not_sent_again():
    settings = make(watched_sources="Now Playing")
    reloaded = StreamState(live=True, live_since=None, scene="Main")  # StreamAlreadyLive: loaded mid-stream
    _, actions = compose(ev.WatchedSourceSettled("Now Playing", "Song A", first=True), settings, reloaded, 0.0)
    assert actions == ()
    _, actions = compose(ev.WatchedSourceSettled("Now Playing", "Song B"), settings, reloaded, 1.0)
    assert [a.content for a in actions] == ["Now playing: Song B"]
    _, actions = compose(ev.WatchedSourceSettled("Now Playing", "Song A", first=True), settings, LIVE, 0.0)
    assert [a.content for a in actions] == ["Now playing: Song A"]  # the stream started after the load
