"""Characters per scene: parsing, resolving names, compose, and the character lane in the worker (fake clock)."""

from __future__ import annotations

import re

import pytest
import requests
import responses

from ailicia_core import events as ev
from ailicia_core.characters import (
    Activate,
    AlreadyActive,
    UnknownCharacter,
    character_for_scene,
    decide,
    parse_scene_characters,
)
from ailicia_core.client import Character
from ailicia_core.compose import StreamState, SwitchCharacter, compose
from ailicia_core.retry_policy import MAX_CHARACTER_TRIES
from ailicia_core.settings import parse_settings
from tests.unit.fake_api import BASE, Clock, FakeApi, drive, make_engine

CHARACTERS = [
    {"id": "char_123", "name": "Captain Vibes", "description": "", "isActive": True},
    {"id": "char_456", "name": "Cozy Willow", "description": "", "isActive": False},
]
MAPPING = "Gameplay = Captain Vibes\nJust Chatting = cozy willow"
LIST = ("GET", "/v1/characters")
EVENTS = "/v1/events"


def put_path(character_id: str) -> str:
    return f"/v1/characters/{character_id}/active"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def api(clock):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeApi(mock, clock)
        mock.add_callback("PUT", re.compile(re.escape(BASE) + r"/v1/characters/[^/]+/active"), callback=fake._answer)
        fake.script(*LIST, *[(200, CHARACTERS)] * 20)
        yield fake


def puts(api):
    return [c.path for c in api.calls if c.method == "PUT"]


def gets(api):
    return [c for c in api.calls if (c.method, c.path) == LIST]


def engine_with(clock, **overrides):
    values = {"scene_characters": MAPPING, "scene_debounce_ms": 1500, **overrides}
    return make_engine(clock, **values)


# --- pure ----------------------------------------------------------------------------


def test_scene_characters_are_parsed_and_bad_lines_become_problems():
    pairs, problems = parse_scene_characters(["Gameplay = Captain Vibes", "BRB=Cozy Willow", "Oops", "gameplay = X"])
    assert pairs == (("Gameplay", "Captain Vibes"), ("BRB", "Cozy Willow"))
    assert [p.split(":")[0] for p in problems] == ["Characters per scene"] * 2
    assert "'Oops' is not 'Scene name = Character name'" in problems[0]
    assert "listed twice" in problems[1]
    settings = parse_settings({"api_key": "k-123456", "channel": "c", "scene_characters": "= nobody"})
    assert [p.key for p in settings.problems] == ["scene_characters"]


def test_a_scene_finds_its_character_exactly_then_in_any_case():
    pairs = (("Gameplay", "A"), ("gameplay", "B"), ("BRB", "C"))
    assert character_for_scene(pairs, "gameplay") == "B"
    assert character_for_scene(pairs, "GAMEPLAY") == "A"
    assert character_for_scene(pairs, "brb") == "C"
    assert character_for_scene(pairs, "Other") == ""


def test_decide_activates_skips_or_names_the_characters_that_exist():
    listed = [Character("char_123", "Captain Vibes", "", True), Character("char_456", "Cozy Willow", "", False)]
    assert decide(listed, "  COZY willow ") == Activate("char_456", "Cozy Willow")
    assert decide(listed, "captain vibes") == AlreadyActive("Captain Vibes")
    assert decide(listed, "Nobody") == UnknownCharacter("Nobody", ("Captain Vibes", "Cozy Willow"))


def test_compose_asks_for_the_mapped_character_on_a_switch_and_calls_it_off_on_an_unmapped_one():
    settings = parse_settings({"api_key": "k-123456", "channel": "c", "scene_characters": MAPPING})
    state = StreamState(scene="Intro")
    state, actions = compose(ev.SceneSwitched("Just Chatting"), settings, state, 0.0)
    assert SwitchCharacter("Just Chatting", "cozy willow") in actions
    _, actions = compose(ev.SceneSwitched("BRB"), settings, state, 1.0)
    assert SwitchCharacter("BRB", "") in actions
    _, actions = compose(ev.StreamStarted("Gameplay"), settings, StreamState(scene="Gameplay"), 2.0)
    assert SwitchCharacter("Gameplay", "Captain Vibes") in actions


def test_without_a_mapping_no_switch_is_composed():
    settings = parse_settings({"api_key": "k-123456", "channel": "c"})
    _, actions = compose(ev.SceneSwitched("Gameplay"), settings, StreamState(scene="Intro"), 0.0)
    assert not [a for a in actions if isinstance(a, SwitchCharacter)]


# --- the lane in the worker ------------------------------------------------------------


def test_a_mapped_scene_past_the_debounce_gets_exactly_one_put(clock, api):
    engine = engine_with(clock)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    engine.worker.run_once()
    assert puts(api) == []  # not before the scene debounce
    drive(engine, clock)
    assert puts(api) == [put_path("char_456")]
    engine.handle(ev.SceneSwitched("Gameplay"))
    engine.handle(ev.SceneSwitched("Just Chatting"))  # back within the debounce: Captain Vibes never asked
    drive(engine, clock)
    assert puts(api) == [put_path("char_456")]  # Cozy Willow is active already: no second PUT
    assert len(gets(api)) == 1  # the cached list served the second decision
    assert "ai_licia is now the character 'Cozy Willow' for the scene 'Just Chatting'." in engine.status_text()


def test_an_already_active_character_is_not_put_again(clock, api):
    engine = engine_with(clock)
    engine.handle(ev.SceneSwitched("Gameplay"))
    drive(engine, clock)
    assert puts(api) == [] and len(gets(api)) == 1


def test_a_switch_superseded_within_the_debounce_is_never_sent(clock, api):
    engine = engine_with(clock)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    clock.t += 1.0
    engine.handle(ev.SceneSwitched("BRB"))  # unmapped: calls the waiting switch off
    drive(engine, clock)
    assert puts(api) == [] and gets(api) == []


def test_an_unknown_character_names_the_ones_that_exist(clock, api):
    engine = engine_with(clock, scene_characters="Gameplay = Nobody")
    engine.handle(ev.SceneSwitched("Gameplay"))
    drive(engine, clock)
    assert puts(api) == []
    status = engine.status_text()
    assert "There is no character called 'Nobody' for the scene 'Gameplay'." in status
    assert "Characters you have: 'Captain Vibes', 'Cozy Willow'." in status


def test_a_miss_refreshes_the_cached_list(clock, api):
    engine = engine_with(clock, scene_characters="Gameplay = New One")
    engine.test_connection()
    drive(engine, clock)
    assert len(gets(api)) == 1
    api._scripts[LIST].clear()  # the streamer created "New One" since the test
    api.script(*LIST, (200, CHARACTERS + [{"id": "char_789", "name": "New One", "description": "", "isActive": False}]))
    api.calls.clear()
    engine.handle(ev.SceneSwitched("Gameplay"))
    drive(engine, clock)
    assert len(gets(api)) == 1 and puts(api) == [put_path("char_789")]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (403, "refused to switch to the character 'Cozy Willow' (403)"),
        (404, "no longer knows the character 'Cozy Willow' (404)"),
    ],
)
def test_403_and_404_get_plain_words_and_are_not_retried(clock, api, status, words):
    api.script("PUT", put_path("char_456"), status)
    engine = engine_with(clock)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert puts(api) == [put_path("char_456")]
    assert words in engine.status_text()


def test_a_context_backoff_never_holds_a_switch(clock, api):
    api.script("POST", EVENTS, *[503] * 6)
    engine = engine_with(clock, only_when_live=False, scene_debounce_ms=0)
    engine.handle(ev.ManualContext("this one fails for a while"))
    engine.worker.run_once()  # 503: context backs off
    context_lane = engine.worker.delivery.lanes["context"]
    assert context_lane.blocked(clock.t)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    engine.worker.run_once()
    engine.worker.run_once()
    assert puts(api) == [put_path("char_456")]
    assert context_lane.blocked(clock.t)  # context still waiting out its backoff


def test_a_failing_switch_backs_off_on_its_own_and_gives_up(clock, api):
    api.script("PUT", put_path("char_456"), *[requests.ConnectionError("down")] * MAX_CHARACTER_TRIES)
    engine = engine_with(clock, only_when_live=False)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert len(puts(api)) == MAX_CHARACTER_TRIES
    assert "Could not switch to the character 'cozy willow'" in engine.status_text()
    engine.handle(ev.ManualContext("context is not slowed down"))
    engine.worker.run_once()
    assert api.contents()[-1] == "context is not slowed down"


def test_a_401_on_a_switch_pauses_sending(clock, api):
    api.script("PUT", put_path("char_456"), 401)
    engine = engine_with(clock)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert "Paused: ai_licia rejected the API key" in engine.status_text()


def test_test_connection_lists_the_character_names(clock, api):
    engine = engine_with(clock)
    engine.test_connection()
    drive(engine, clock)
    assert "Characters: Captain Vibes (active), Cozy Willow." in engine.status_text()


def test_dry_run_sends_no_put_and_says_what_it_would_do(clock, api, caplog):
    caplog.set_level("INFO", logger="ailicia")
    engine = engine_with(clock, dry_run=True)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert api.calls == []
    assert "Dry run: would send PUT /v1/characters/cozy%20willow/active" in caplog.messages
    assert "Dry run: the character 'cozy willow' would be made active for the scene 'Just Chatting'." in (
        engine.status_text()
    )


def test_an_accepted_switch_is_the_active_character_in_every_line_of_the_status(clock, api):
    engine = engine_with(clock, only_when_live=False)
    engine.test_connection()
    drive(engine, clock)
    engine.hearing.character_switched("Captain Vibes")  # as heard at connect: the character before the switch
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert puts(api) == [put_path("char_456")]
    text = engine.status_text()
    assert "Active character: Cozy Willow." in text
    assert "Characters: Captain Vibes, Cozy Willow (active)." in text
    assert "active: Cozy Willow" in text and "Captain Vibes (active)" not in text
    assert engine.status().active_character == "Cozy Willow"


def test_a_refused_switch_leaves_the_active_character_as_it_was(clock, api):
    api.script("PUT", put_path("char_456"), 403)
    engine = engine_with(clock, only_when_live=False)
    engine.test_connection()
    drive(engine, clock)
    engine.handle(ev.SceneSwitched("Just Chatting"))
    drive(engine, clock)
    assert "Captain Vibes (active)" in engine.status_text()
    assert engine.status().active_character == "Captain Vibes"
