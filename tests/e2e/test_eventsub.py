"""Hearing ai_licia back in real OBS: her words in a FreeType 2 Text source, drops, quitting, 50 reloads.

The sandbox (in this process) writes ``chat.ai_message`` frames to the script's
EventSub stream; the driver records each update of the "Title" text source
(FreeType 2, ``text_ft2_source_v2``) through its ``update`` signal.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_support import (
    Scenario,
    Traffic,
    ailicia_lines,
    distinctive_key,
    is_generation,
    is_join,
    log_problems,
    memory_leaks,
    open_scenario,
)
from obs_harness import TRIGGER_KEYS, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CAPTION = "Title"
CLEAR_S = 2
SHOWN_WITHIN_S = 1.0
QUIT_WITHIN_S = 3.0  # the bound from the quit to OBS's exit
RELOADS = 50


@pytest.fixture
def captioned(real_obs: None, tmp_path: Path) -> Scenario:
    settings = {"caption_source": CAPTION, "caption_clear_s": CLEAR_S}
    with open_scenario(tmp_path, settings=settings, sandbox={"ai_message_delay_s": 0.1}) as scenario:
        assert scenario.sandbox.wait_for_eventsub_streams(1, timeout=15), "the script never opened the stream"
        scenario.obs.watch_text(CAPTION)
        yield scenario


def say_and_wait(scenario: Scenario, words: str, *, timeout: float = SHOWN_WITHIN_S + 4) -> float:
    """Have the sandbox say ``words``; returns seconds from the write to the caption being set in OBS."""
    obs = scenario.obs
    mark = len(obs.text_updates(CAPTION))
    written = time.time()
    scenario.sandbox.say(words)
    shown_at, _ = obs.wait_text(CAPTION, lambda t: t == words, since=mark, timeout=timeout, what=repr(words))
    return shown_at - written


def test_her_words_show_within_a_second_and_clear(captioned: Scenario) -> None:
    obs = captioned.obs
    latency = say_and_wait(captioned, "Hello from the sandbox, chat!")
    print(f"caption set {latency * 1000:.0f} ms after the sandbox wrote the frame")
    assert latency < SHOWN_WITHIN_S
    mark = len(obs.text_updates(CAPTION))
    cleared_at, _ = obs.wait_text(CAPTION, lambda t: t == "", since=mark, timeout=CLEAR_S + 3, what="the clear")
    shown_at = obs.text_updates(CAPTION)[mark - 1][0]
    assert CLEAR_S - 0.2 <= cleared_at - shown_at, "cleared too early"
    said = [line for line in ailicia_lines(obs.log_text()) if "ai_licia said:" in line]
    assert len(said) == 1 and "Hello from the sandbox, chat!" in said[0], said


def test_live_presence_and_character_are_confirmed_and_a_hotkey_reaction_comes_back_as_her_words(
    captioned: Scenario,
) -> None:
    """The whole loop: presence and character from the server's own events, a hotkey as her words."""
    obs, sandbox = captioned.obs, captioned.sandbox
    traffic = Traffic(sandbox)
    obs.start_streaming()
    traffic.wait(is_join, what="the join at stream start")

    def said(needle: str) -> bool:
        return any(needle in line for line in ailicia_lines(obs.log_text()))

    wait_until(lambda: said("Live events: ai_licia is in chat (confirmed by ai_licia)."), 10, "system.join heard")
    assert said("Active character: Captain Vibes"), ailicia_lines(obs.log_text())
    mark = len(obs.text_updates(CAPTION))
    obs.press_hotkey(TRIGGER_KEYS[1])
    traffic.wait(is_generation, what="the reaction")
    _, text = obs.wait_text(
        CAPTION, lambda t: t.startswith("(sandbox) ai_licia reacts:"), since=mark, what="her reaction in the caption"
    )
    assert "E2E prompt one" in text


def test_survives_the_sandbox_dropping_the_stream(captioned: Scenario) -> None:
    sandbox = captioned.sandbox
    say_and_wait(captioned, "before the drop")
    assert sandbox.drop_eventsub_streams() == 1
    assert sandbox.wait_for_eventsub_streams(1, timeout=15, connects=2), "no reconnect after the drop"
    assert sandbox.eventsub_connects[-1]["last_event_id"].startswith("evt_")
    say_and_wait(captioned, "after the drop")


def test_quitting_with_the_stream_open_stays_within_budget(captioned: Scenario) -> None:
    obs, sandbox = captioned.obs, captioned.sandbox
    assert sandbox.eventsub_streams == 1
    result = obs.quit()
    print(f"quit with the EventSub stream open: exit {result.exit_code} after {result.seconds:.2f} s")
    assert result.clean, result
    assert result.seconds < QUIT_WITHIN_S, result
    assert sandbox.wait_for_eventsub_streams(0, timeout=5, exactly=True), "the stream outlived OBS"
    log = obs.log_text()
    assert not log_problems(log, captioned.secrets), log_problems(log, captioned.secrets)
    assert memory_leaks(log) == obs.expected_leaks


def test_fifty_reloads_leave_one_listener(captioned: Scenario) -> None:
    obs, sandbox = captioned.obs, captioned.sandbox
    for _ in range(RELOADS):
        obs.reload_scripts()
    connects = len(sandbox.eventsub_connects)
    print(f"{RELOADS} x Reload Scripts: {connects} stream connections in all")
    assert connects >= RELOADS + 1
    # Every unloaded listener closed its connection: the sandbox ends up with exactly one open stream.
    assert sandbox.wait_for_eventsub_streams(1, timeout=10, exactly=True), f"{sandbox.eventsub_streams} open"
    obs.watch_text(CAPTION)  # the driver was reloaded too
    say_and_wait(captioned, "one listener, one caption")
    updates = [t for _, t in obs.text_updates(CAPTION)]
    assert updates.count("one listener, one caption") == 1


@pytest.fixture
def wrong_key(real_obs: None, tmp_path: Path) -> Scenario:
    with open_scenario(tmp_path, script_key=distinctive_key("wrong")) as scenario:
        yield scenario


def test_a_wrong_key_is_refused_at_load_and_nothing_is_sent(wrong_key: Scenario) -> None:
    obs, sandbox = wrong_key.obs, wrong_key.sandbox
    assert sandbox.wait_for(lambda reqs: any(r.path == "/v1/eventsub/stream" and r.status == 401 for r in reqs), 15)
    traffic = Traffic(sandbox, listener=True)
    obs.start_streaming()
    obs.press_hotkey(TRIGGER_KEYS[1])
    obs.stop_streaming()
    assert traffic.stays_below(lambda r: True, 1, seconds=1.5), traffic.describe()
    result = obs.quit()
    assert result.clean, result
    said = ailicia_lines(obs.log_text())
    assert any("rejected the API key" in line and "(401)" in line for line in said), said
    assert not log_problems(obs.log_text(), wrong_key.secrets)
