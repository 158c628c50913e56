"""The fault table, part 2: bad input from the streamer, over real HTTP on loopback.

Settings pasted wrong (empty, ``#name``, URLs, http to another host, odd numbers)
and scene or source names no API expects (emoji, CJK, right-to-left, quotes,
newlines, 2,000 characters). Each case checks what the sandbox received (never a
400 or 422 for our own content), what the panel says, and that nothing was sent
where nothing should be. The harness is in ``test_faults.py``.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from ailicia_core import events as ev
from ailicia_core.limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from ailicia_core.sandbox import Sandbox, utf16_length
from ailicia_core.settings import NUMBER_BOUNDS
from ailicia_core.text import clean_text
from tests.integration.test_faults import (
    CHANNEL,
    EVENTS,
    GENERATIONS,
    STREAM,
    Lab,
    ScriptedApi,
    SendSpy,
    contents,
    lab_session,
    new_sandbox,
    of,
)


@pytest.fixture
def lab(caplog: pytest.LogCaptureFixture) -> Iterator[Lab]:
    yield from lab_session(caplog)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = new_sandbox()
    yield box
    box.stop()


#: Every line the panel can show starts with one of these; a name with a line break must not add another.
PANEL_LINE_STARTS = (
    "Switched off",
    "Needs attention",
    "Connection",
    "Connected",
    "Cannot test",
    "Paused",
    "Dry run",
    "Live.",
    "Not live.",
    "Reactions waiting",
    "Next reaction",
    "Context waiting",
    "Context dropped",
    "Last problem",
    "Last success",
    # A lane held back, and a delivery thread that ended unexpectedly
    "Context paused for",
    "Reactions paused for",
    "Joining and leaving chat paused for",
    "Character changes paused for",
    "The delivery thread stopped",
)


def assert_panel_lines_are_whole(text: str) -> None:
    for line in text.splitlines():
        assert line.startswith(PANEL_LINE_STARTS), f"a stray line in the panel: {line!r}"


# --- key and channel ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"api_key": ""}, "Paste your ai_licia API key"),
        ({"api_key": "  \t "}, "Paste your ai_licia API key"),
        ({"api_key": "Bearer "}, "Paste your ai_licia API key"),
        ({"channel": ""}, "Enter your channel name"),
        ({"channel": " \n "}, "Enter your channel name"),
        ({"channel": "#"}, "Enter your channel name"),
    ],
    ids=["empty key", "whitespace key", "Bearer and no key", "empty channel", "whitespace channel", "only #"],
)
def test_an_empty_key_or_channel_sends_nothing_and_says_what_to_fill_in(lab, sandbox, overrides, words):
    engine = lab.engine(sandbox.url, **overrides)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.ManualContext("Hello"))
    engine.handle(ev.ManualGeneration("React"))
    engine.test_connection()
    engine.join_now()
    final = lab.settle(engine)
    assert sandbox.requests == []
    assert f"Needs attention: {words}" in final
    assert engine.status().connection.startswith("Cannot test yet: ")
    assert words in engine.status().last_error  # the button press said why nothing happened


@pytest.mark.parametrize(
    "pasted",
    [
        "#MyChannel",
        "@mychannel",
        "https://www.twitch.tv/MyChannel",
        "twitch.tv/MyChannel/videos",
        "MyChannel",
        "  @#MyChannel \n",
    ],
)
def test_a_channel_pasted_as_a_handle_or_url_reaches_the_right_channel(lab, sandbox, pasted):
    engine = lab.engine(sandbox.url, channel=pasted)
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    assert "Needs attention" not in final
    assert [(r.method, r.path, r.status) for r in sandbox.requests] == [("POST", STREAM, 200), ("POST", EVENTS, 200)]
    assert {r.channel for r in sandbox.requests} == {CHANNEL}
    assert sandbox.joined_channels == {CHANNEL}


# --- the API address ------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["http://api.getailicia.com", "http://192.168.1.20:8787", "ftp://127.0.0.1"])
def test_an_address_that_is_not_https_to_another_host_is_refused_before_any_request(lab, monkeypatch, address):
    sends = SendSpy(monkeypatch)
    engine = lab.engine(address)
    engine.test_connection()
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.ManualGeneration("React"))
    final = lab.settle(engine)
    assert sends.calls == [], "a request left for an address that was refused"
    assert "Needs attention: The API address must" in final


@pytest.mark.parametrize("suffix", ["/", "///"])
def test_an_address_with_a_trailing_slash_works(lab, sandbox, suffix):
    engine = lab.engine(sandbox.url + suffix)
    engine.test_connection()
    engine.handle(ev.StreamStarted("Intro"))
    final = lab.settle(engine)
    assert [(r.path, r.status) for r in sandbox.requests] == [("/v1/characters", 200), (STREAM, 200), (EVENTS, 200)]
    assert "Connected: ai_licia accepted the key" in final


def test_an_address_with_a_path_keeps_the_path_in_front_of_every_request(lab):
    api = ScriptedApi(prefix="/ailicia/proxy")
    try:
        engine = lab.engine(api.url)
        engine.test_connection()
        engine.handle(ev.StreamStarted("Intro"))
        engine.handle(ev.ManualGeneration("React"))
        lab.settle(engine)
        engine.handle(ev.StreamStopped())
        final = lab.settle(engine)
        assert sorted(r.path for r in api.received) == sorted(
            "/ailicia/proxy" + p for p in ("/v1/characters", STREAM, EVENTS, GENERATIONS, EVENTS, STREAM)
        )
        assert {r.status for r in api.received} <= {200, 202}
        assert "Connected: ai_licia accepted the key" in engine.status().connection
        assert "ai_licia was asked to leave chat." in final
    finally:
        api.close()


def test_an_address_with_a_wrong_path_points_at_the_address_not_the_channel(lab, sandbox):
    engine = lab.engine(sandbox.url + "/api")
    engine.test_connection()
    connection = lab.settle(engine)
    assert [(r.path, r.status) for r in sandbox.requests] == [("/api/v1/characters", 404)]
    assert "Connection test failed" in connection
    # GET /v1/characters names no channel: a 404 there means the address is wrong.
    assert "check the channel" not in connection.lower() and "API address" in connection


# --- numbers ----------------------------------------------------------------------------------


def test_negative_numbers_fall_back_to_defaults_and_never_make_a_zero_second_loop(lab, sandbox):
    engine = lab.engine(
        sandbox.url, only_when_live=False, generation_cooldown_s=-5, scene_debounce_ms=-1, context_ttl_s=-30
    )
    engine.handle(ev.ManualGeneration("First"))
    engine.handle(ev.ManualContext("No ttl"))
    lab.wait_for_status(engine, "Sent context: No ttl")
    engine.handle(ev.ManualGeneration("Second"))
    waiting = lab.wait_for_status(engine, "Reactions waiting: 1 (next in")
    assert "Needs attention: Generation cooldown s cannot be below 1; using 25." in waiting
    assert "Needs attention: Scene debounce ms cannot be below 0; using 1500." in waiting
    assert "Needs attention: Context ttl s cannot be below 0; using 0." in waiting
    # The second press waits for the cooldown instead of going at once (or earning a 429).
    assert [(r.body["data"]["content"], r.status) for r in of(sandbox.requests, "POST", GENERATIONS)] == [
        ("First", 200)
    ]
    assert "ttl" not in of(sandbox.requests, "POST", EVENTS)[0].body["data"]


def test_huge_and_unreadable_numbers_are_clamped_to_their_bounds(lab, sandbox):
    engine = lab.engine(
        sandbox.url,
        only_when_live=False,
        generation_cooldown_s=10**100,
        scene_debounce_ms="1e309",
        context_ttl_s=10**12,
    )
    engine.handle(ev.ManualContext("Lasts a week at most"))
    engine.handle(ev.ManualGeneration("First"))
    lab.wait_for_status(engine, "Sent context: Lasts a week at most")  # it goes after the reaction
    engine.handle(ev.ManualGeneration("Second"))
    waiting = lab.wait_for_status(engine, "Reactions waiting: 1 (next in 1 h")  # waits, visibly, for the 3600 s
    longest_ttl = NUMBER_BOUNDS["context_ttl_s"][1]
    assert f"Needs attention: Context ttl s cannot be above {longest_ttl}; using {longest_ttl}." in waiting
    assert "Needs attention: Generation cooldown s cannot be above 3600; using 3600." in waiting
    assert "Needs attention: Scene debounce ms must be a whole number; using 1500." in waiting
    ttl = of(sandbox.requests, "POST", EVENTS)[0].body["data"]["ttl"]
    assert isinstance(ttl, int) and longest_ttl - 60 <= ttl <= longest_ttl
    assert contents(sandbox.requests, GENERATIONS) == ["First"]


# --- names and prompts ---------------------------------------------------------------------------

NAMES = {
    "emoji": "🎮 Gaming 🔥 Zone 👩‍💻",
    "CJK": "游戏场景・ゲーム画面・게임 화면",
    "right-to-left": "مشهد اللعب \u202eevil\u202c שלום",
    "quotes": "He said \"hi\" & 'bye' `tick` \\ back",
    "newlines": "Line one\nLine two\r\nthree\tfour",
    "2000 chars": "Long scene name " * 125,
    "2000 emoji": "😀" * 2000,
    "lone surrogate": "half \ud83d pair",
    "controls": "bell\x07 null\x00 esc\x1b[31m red",
}


@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_odd_scene_and_source_names_arrive_whole_and_within_the_limit(lab, sandbox, name):
    engine = lab.engine(sandbox.url, only_when_live=False)
    engine.handle(ev.SceneSwitched(name))
    engine.handle(ev.SourceVisibilityChanged(name, name, True))
    engine.handle(ev.AudioMuteChanged(name, True, "pulse_input_capture"))
    final = lab.settle(engine)
    sent = of(sandbox.requests, "POST", EVENTS)
    assert [r.status for r in sent] == [200, 200, 200], "the API refused our own content"
    start = clean_text(name)[:12]
    for request in sent:
        content = request.body["data"]["content"]
        assert utf16_length(content) <= CONTEXT_MAX_CHARS
        assert "\n" not in content and "\r" not in content
        assert start in content
    assert_panel_lines_are_whole(final)


@pytest.mark.parametrize(
    "how, prompt",
    [
        ("hotkey", "🎉" * 200 + " hype " * 40),
        ("hotkey", "長いプロンプト" * 150),
        ("hotkey", "x" * 301),
        ("typed", "Say hi to everyone " * 40),
    ],
    ids=["emoji", "CJK", "301 chars", "typed"],
)
def test_prompts_over_300_characters_are_cut_to_fit_and_accepted(lab, sandbox, how, prompt):
    engine = lab.engine(sandbox.url, only_when_live=False, trigger_1_prompt=prompt)
    engine.handle(ev.TriggerPressed(1) if how == "hotkey" else ev.ManualGeneration(prompt))
    final = lab.settle(engine)
    sent = of(sandbox.requests, "POST", GENERATIONS)
    assert [r.status for r in sent] == [200]
    content = sent[0].body["data"]["content"]
    assert utf16_length(content) <= GENERATION_MAX_CHARS and content.endswith("…")
    assert_panel_lines_are_whole(final)
