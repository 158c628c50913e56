"""Generation ``features`` (a trigger's "speak it aloud"): composed, paced apart, sent in the body; the PUT path."""

from __future__ import annotations

import pytest

from ailicia_core import errors as err
from ailicia_core import events as ev
from ailicia_core.client import character_path, generation_body
from ailicia_core.compose import SendGeneration, StreamState, compose
from ailicia_core.pacing import GenerationPacer
from ailicia_core.settings import parse_settings

GOOD = {"api_key": "sk-test-1234", "channel": "mychannel"}


def test_a_trigger_with_tts_composes_the_tts_feature():
    settings = parse_settings({**GOOD, "trigger_2_tts": True})
    _, spoken = compose(ev.TriggerPressed(2), settings, StreamState(), 0.0)
    _, silent = compose(ev.TriggerPressed(1), settings, StreamState(), 0.0)
    assert spoken == (SendGeneration(settings.trigger_prompt(2), "GAME_EVENT", (("tts", True),)),)
    assert silent == (SendGeneration(settings.trigger_prompt(1), "GAME_EVENT", ()),)


def test_presses_with_other_features_are_never_merged():
    pacer = GenerationPacer(25)
    pacer.add("Roast me", "GAME_EVENT", features=(("tts", True),))
    pacer.add("Hype", "GAME_EVENT")
    pacer.add("Roast me", "GAME_EVENT")  # same prompt, no tts: its own entry
    first = pacer.take(0.0)
    assert (first.content, first.features) == ("Roast me", (("tts", True),))
    pacer.sent(0.0)
    second = pacer.take(25.0)
    assert (second.content, second.features) == ("Hype / Roast me", ())


def test_the_body_carries_only_the_flags_the_api_knows():
    body = generation_body("mychannel", "Go", "GAME_EVENT", {"tts": True, "web_search": False, "bogus": True})
    assert body == {
        "eventType": "GAME_EVENT",
        "data": {"channelName": "mychannel", "content": "Go", "features": {"tts": True, "web_search": False}},
    }
    assert "features" not in generation_body("mychannel", "Go", "GAME_EVENT", None)["data"]


def test_the_character_path_is_escaped_and_never_a_dot_segment():
    assert character_path("char_123") == "/v1/characters/char_123/active"
    assert character_path("a/b c") == "/v1/characters/a%2Fb%20c/active"
    with pytest.raises(err.NotFoundError):
        character_path("..")
