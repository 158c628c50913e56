"""Settings: channel normalization, the API address rule, numbers, the key and its secrecy."""

from __future__ import annotations

import pytest

from ailicia_core.limits import DEFAULT_BASE_URL, DEFAULT_EVENT_TYPE
from ailicia_core.settings import (
    DEFAULTS,
    NUMBER_BOUNDS,
    ApiKey,
    Problem,
    Settings,
    check_base_url,
    normalize_channel,
    parse_settings,
)

KEY = "sk-live-9f8e7d6c5b4a"
GOOD = {"api_key": KEY, "channel": "mychannel"}


def problems_for(settings: Settings, key: str) -> list:
    return [p for p in settings.problems if p.key == key]


# --- channel ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("mychannel", "mychannel"),
        ("  mychannel \t\n", "mychannel"),
        ("#mychannel", "mychannel"),
        ("@mychannel", "mychannel"),
        ("@ #MyChannel", "mychannel"),
        ("# # # # # # # # # # Name", "name"),
        ("MyChannel", "mychannel"),
        ("MYCHANNEL", "mychannel"),
        ("https://twitch.tv/MyChannel", "mychannel"),
        ("https://www.twitch.tv/MyChannel/", "mychannel"),
        ("http://twitch.tv/MyChannel", "mychannel"),
        ("twitch.tv/x/videos", "x"),
        ("www.twitch.tv/X?x=1", "x"),
        ("m.twitch.tv/Some_One", "some_one"),
        ("  https://twitch.tv/MyChannel#chat ", "mychannel"),
        ("#https://twitch.tv/X", "x"),
        ("https://twitch.tv/", ""),
        ("", ""),
        ("   ", ""),
        ("\t\n", ""),
        (None, ""),
    ],
)
def test_normalize_channel(raw, expected):
    assert normalize_channel(raw) == expected


@pytest.mark.parametrize("raw", ["   ", "", "#", "@", "https://twitch.tv/", None])
def test_an_empty_channel_is_a_blocking_problem(raw):
    settings = parse_settings({**GOOD, "channel": raw})
    assert settings.channel == ""
    [problem] = problems_for(settings, "channel")
    assert problem.blocking
    assert not settings.is_configured


def test_a_pasted_channel_url_is_normalized_in_settings():
    settings = parse_settings({**GOOD, "channel": " https://www.twitch.tv/MyChannel?x=1 "})
    assert settings.channel == "mychannel"
    assert problems_for(settings, "channel") == []


def test_an_odd_channel_blocks_sending_and_is_never_echoed():
    # What lands in the channel box is sometimes the API key: never send it in a URL or quote it.
    settings = parse_settings({**GOOD, "channel": "my channel!"})
    assert settings.channel == "my channel!"
    [problem] = problems_for(settings, "channel")
    assert problem.blocking
    assert "my channel!" not in problem.message
    assert not settings.is_configured


# --- API address -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.getailicia.com", "https://api.getailicia.com"),
        ("https://api.getailicia.com/", "https://api.getailicia.com"),
        ("  https://api.getailicia.com//  ", "https://api.getailicia.com"),
        ("https://proxy.example.com/ailicia", "https://proxy.example.com/ailicia"),
        ("https://proxy.example.com/ailicia/", "https://proxy.example.com/ailicia"),
        ("https://api.example.com:8443", "https://api.example.com:8443"),
        ("https://10.0.0.5", "https://10.0.0.5"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.5.5.5", "http://127.5.5.5"),
        ("http://localhost:8765/", "http://localhost:8765"),
        ("http://LOCALHOST", "http://LOCALHOST"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
)
def test_usable_api_addresses(raw, expected):
    assert check_base_url(raw) == (expected, None)
    settings = parse_settings({**GOOD, "api_base_url": raw})
    assert settings.api_base_url == expected
    assert problems_for(settings, "api_base_url") == []


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_an_empty_api_address_means_the_real_api(raw):
    assert check_base_url(raw) == (DEFAULT_BASE_URL, None)
    assert parse_settings({**GOOD, "api_base_url": raw}).api_base_url == DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("http://api.getailicia.com", "https://"),
        ("http://example.com:8080", "https://"),
        ("http://10.0.0.5", "https://"),
        ("http://192.168.1.20:8765", "https://"),
        ("http://172.16.0.1", "https://"),
        ("http://[fe80::1]", "https://"),
        ("http://127.0.0.1.example.com", "https://"),
        ("ftp://api.getailicia.com", "https://"),
        ("api.getailicia.com", "https://"),
        ("not a url", "https://"),
        ("https://", "https://"),
        ("https:///v1", "https://"),
        ("https://api.getailicia.com?x=1", "'?'"),
        ("https://api.getailicia.com/#frag", "'#'"),
        ("https://user:pw@api.getailicia.com", "user name or password"),
        ("https://user@api.getailicia.com", "user name or password"),
        ("https://api.getailicia.com:99999", "not a valid URL"),
        ("https://api.getailicia.com:port", "not a valid URL"),
        ("https://api.getailicia.com:0", "not a valid URL"),
        ("https://[::1", "not a valid URL"),
        ("https://exa mple.com", "not a valid URL"),
        ("https://a..b", "not a valid URL"),
        ("https://ho$t.com", "not a valid URL"),
    ],
)
def test_unusable_api_addresses_are_blocking_problems(raw, words):
    _, problem = check_base_url(raw)
    assert problem is not None and words in problem
    settings = parse_settings({**GOOD, "api_base_url": raw})
    [found] = problems_for(settings, "api_base_url")
    assert found.blocking and found.message == problem
    assert not settings.is_configured


# --- numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("generation_cooldown_s", "25", 25),
        ("generation_cooldown_s", " 40 ", 40),
        ("generation_cooldown_s", 30.9, 30),
        ("scene_debounce_ms", "2000", 2000),
        ("scene_debounce_ms", 0, 0),
        ("context_ttl_s", "90", 90),
        ("context_ttl_s", "1e3", 1000),
    ],
)
def test_numbers_in_range_are_used_without_problems(key, raw, expected):
    settings = parse_settings({**GOOD, key: raw})
    assert getattr(settings, key) == expected
    assert problems_for(settings, key) == []


@pytest.mark.parametrize(
    ("key", "raw", "expected", "words"),
    [
        ("generation_cooldown_s", -5, 25, "below 1"),
        ("generation_cooldown_s", 0, 25, "below 1"),
        ("generation_cooldown_s", "-1", 25, "below 1"),
        ("generation_cooldown_s", 10**9, 3600, "above 3600"),
        ("generation_cooldown_s", "abc", 25, "whole number"),
        ("generation_cooldown_s", 10**400, 25, "whole number"),
        ("generation_cooldown_s", float("inf"), 25, "whole number"),
        ("generation_cooldown_s", float("nan"), 25, "whole number"),
        ("generation_cooldown_s", [], 25, "whole number"),
        ("scene_debounce_ms", -1, 1500, "below 0"),
        ("scene_debounce_ms", 10**7, 60_000, "above 60000"),
        ("context_ttl_s", -30, 0, "below 0"),
        ("context_ttl_s", "-1", 0, "below 0"),
        ("context_ttl_s", "1e12", 7 * 24 * 3600, "above"),
    ],
)
def test_numbers_out_of_range_are_clamped_or_defaulted_with_a_problem(key, raw, expected, words):
    # Too high clamps to the highest; too low or unreadable falls back to the default.
    settings = parse_settings({**GOOD, key: raw})
    assert getattr(settings, key) == expected
    [problem] = problems_for(settings, key)
    assert words in problem.message and str(expected) in problem.message
    assert not problem.blocking
    assert settings.is_configured


def test_every_number_has_bounds_and_its_default_lies_within_them():
    for key, (low, high) in NUMBER_BOUNDS.items():
        assert low <= DEFAULTS[key] <= high


# --- the key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [KEY, f"  {KEY}\n", f"Bearer {KEY}", f"bearer   {KEY}", f" BEARER {KEY} ", f"Bearer\t{KEY}"],
)
def test_usable_keys(raw):
    settings = parse_settings({**GOOD, "api_key": raw})
    assert settings.api_key.reveal() == KEY
    assert problems_for(settings, "api_key") == []
    assert settings.is_configured


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "Paste your ai_licia API key"),
        ("   ", "Paste your ai_licia API key"),
        (None, "Paste your ai_licia API key"),
        ("Bearer ", "Paste your ai_licia API key"),
        ("Bearer", "Paste your ai_licia API key"),
        ("sk-live 9f8e7d", "spaces or line breaks"),
        ("sk-live\n9f8e7d", "spaces or line breaks"),
        ("sk-live\x009f8e7d", "spaces or line breaks"),
        ("sk-live-\u20ac9f8e7d", "characters an API key cannot have"),
    ],
)
def test_unusable_keys_are_blocking_problems(raw, words):
    settings = parse_settings({**GOOD, "api_key": raw})
    assert not settings.api_key
    [problem] = problems_for(settings, "api_key")
    assert problem.blocking and words in problem.message
    assert not settings.is_configured


def test_a_rejected_key_is_not_echoed_in_its_problem():
    settings = parse_settings({**GOOD, "api_key": "sk-live 9f8e7d6c5b4a"})
    assert "9f8e7d6c5b4a" not in " ".join(p.message for p in settings.problems)


def test_an_empty_mapping_lists_what_is_missing():
    settings = parse_settings({})
    assert {p.key for p in settings.problems if p.blocking} == {"api_key", "channel"}
    assert parse_settings(None).problems == settings.problems


# --- secrets ---------------------------------------------------------------------


def test_the_key_never_shows_in_repr_or_str():
    settings = parse_settings(GOOD)
    assert settings.api_key.reveal() == KEY
    for shown in (
        repr(settings),
        str(settings),
        repr(settings.api_key),
        str(settings.api_key),
        f"{settings.api_key}",
        repr(settings.connection_key),
    ):
        assert KEY not in shown
    assert str(settings.api_key) == "ApiKey(<set>)"
    assert str(ApiKey("")) == "ApiKey(<empty>)"


def test_api_keys_compare_by_value():
    assert ApiKey(KEY) == ApiKey(KEY)
    assert ApiKey(KEY) != ApiKey(KEY + "x")
    assert ApiKey(KEY) != KEY
    assert parse_settings(GOOD).connection_key == parse_settings(dict(GOOD)).connection_key
    assert parse_settings(GOOD).connection_key != parse_settings({**GOOD, "api_key": "other-key"}).connection_key


# --- scene descriptions ----------------------------------------------------------


def test_scene_descriptions_are_parsed():
    settings = parse_settings(
        {
            **GOOD,
            "scene_descriptions": (
                "Just Chatting = chatting with viewers\n"
                "  BRB=the streamer is away for a moment  \n"
                "\n"
                "# a comment line\n"
                "A=B = the scene called A=B\n"
                "Game = playing = winning\n"
            ),
        }
    )
    assert settings.scene_descriptions == (
        ("Just Chatting", "chatting with viewers"),
        ("BRB", "the streamer is away for a moment"),
        ("A=B", "the scene called A=B"),
        ("Game", "playing = winning"),
    )
    assert problems_for(settings, "scene_descriptions") == []
    assert settings.describe_scene("Just Chatting") == "chatting with viewers"
    assert settings.describe_scene("just chatting") == "chatting with viewers"
    assert settings.describe_scene("A=B") == "the scene called A=B"
    assert settings.describe_scene("Unknown") == ""


def test_an_exact_scene_match_wins_over_a_case_insensitive_one():
    settings = parse_settings({**GOOD, "scene_descriptions": "game = lower\nGame = exact"})
    assert settings.describe_scene("Game") == "exact"
    assert settings.describe_scene("game") == "lower"
    assert settings.describe_scene("GAME") == "lower"


@pytest.mark.parametrize("line", ["just words", "= no scene", "Scene =", "Scene =   ", "=", "Scene - words"])
def test_bad_scene_description_lines_become_problems(line):
    settings = parse_settings({**GOOD, "scene_descriptions": f"Good = fine\n{line}\nOther = also fine"})
    assert settings.scene_descriptions == (("Good", "fine"), ("Other", "also fine"))
    [problem] = problems_for(settings, "scene_descriptions")
    assert line.strip()[:20] in problem.message
    assert not problem.blocking


# --- ignore lists ----------------------------------------------------------------


def test_ignore_lists_are_case_insensitive():
    settings = parse_settings(
        {
            **GOOD,
            "ignored_scenes": "Secret Scene\n  BRB  \n\n# comment\nStraße",
            "ignored_sources": "Webcam\nALERTS",
        }
    )
    for scene in ("Secret Scene", "secret scene", "SECRET SCENE", " brb ", "Brb", "STRASSE", "strasse"):
        assert settings.is_scene_ignored(scene), scene
    for scene in ("Secret", "Main", "# comment", ""):
        assert not settings.is_scene_ignored(scene), scene
    for source in ("webcam", "WEBCAM", "Alerts", "alerts"):
        assert settings.is_source_ignored(source), source
    assert not settings.is_source_ignored("Webcam 2")
    assert not settings.is_source_ignored("Secret Scene")


# --- the rest --------------------------------------------------------------------


def test_defaults():
    settings = parse_settings(GOOD)
    assert settings.api_base_url == DEFAULT_BASE_URL
    assert settings.event_type == DEFAULT_EVENT_TYPE
    assert settings.generation_cooldown_s == 25
    assert settings.scene_debounce_ms == 1500
    assert settings.context_ttl_s == 0
    assert settings.enabled and settings.only_when_live and settings.auto_join and settings.auto_leave
    assert not settings.dry_run
    assert settings.problems == ()
    assert settings.is_configured


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (False, False),
        (0, False),
        ("false", False),
        ("off", False),
        (" No ", False),
        (True, True),
        (1, True),
        ("true", True),
        ("on", True),
        ("YES", True),
        ("maybe", True),
        ([], True),
    ],
)
def test_flags_read_bools_numbers_and_words(raw, expected):
    # "enabled" defaults to True, so unreadable values keep True.
    assert parse_settings({**GOOD, "enabled": raw}).enabled is expected


def test_none_values_take_defaults():
    settings = parse_settings({**GOOD, "enabled": None, "event_type": None, "generation_cooldown_s": None})
    assert settings.enabled is True
    assert settings.event_type == DEFAULT_EVENT_TYPE
    assert settings.generation_cooldown_s == 25
    assert settings.problems == ()


def test_event_type_is_trimmed_and_a_blank_one_is_the_default():
    assert parse_settings({**GOOD, "event_type": "  IRL_EVENT "}).event_type == "IRL_EVENT"
    assert parse_settings({**GOOD, "event_type": "   "}).event_type == DEFAULT_EVENT_TYPE


def test_trigger_prompts():
    settings = parse_settings(
        {**GOOD, "trigger_1_prompt": "  Hype!  ", "trigger_2_prompt": None, "trigger_5_prompt": "Last"}
    )
    assert settings.trigger_prompt(1) == "Hype!"
    assert settings.trigger_prompt(2) == DEFAULTS["trigger_2_prompt"]
    assert settings.trigger_prompt(4) == ""
    assert settings.trigger_prompt(5) == "Last"
    assert settings.trigger_prompt(0) == "" and settings.trigger_prompt(6) == ""


def test_problems_are_plain_values():
    problem = Problem("channel", "Enter your channel name.", blocking=True)
    assert problem == Problem("channel", "Enter your channel name.", blocking=True)
    with pytest.raises(AttributeError):
        problem.blocking = False  # type: ignore[misc]
