"""A live session in one real OBS, started once for this module.

The tests run in file order and share OBS and the sandbox: the happy path, an
outage, a scene-collection switch plus Reload Scripts, a stream start that fails,
then the quit. Each test brings OBS into the state it needs (live or not), so
one failing test does not hide the others.
"""

from __future__ import annotations

import pytest
from e2e_support import (
    TRIGGER_PROMPTS,
    Scenario,
    Traffic,
    content,
    context_with,
    is_context,
    is_generation,
    is_join,
    is_leave,
    log_problems,
    memory_leaks,
    open_scenario,
)
from obs_harness import (
    COLLECTION_B,
    SCENE_GAMEPLAY,
    SCENE_JUST_CHATTING,
    SOURCE_MUSIC,
    SOURCE_WEBCAM,
    TRIGGER_KEYS,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

COOLDOWN_S = 3.0  # generation_cooldown_s in e2e_support.ailicia_settings, and the sandbox window
ITEM = "Game Capture"  # top level in Gameplay
#: A top-level item of each scene: only items of the program scene reach viewers (and ai_licia).
ITEM_IN = {SCENE_GAMEPLAY: ITEM, SCENE_JUST_CHATTING: SOURCE_WEBCAM}


@pytest.fixture(scope="module")
def live(real_obs: None, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    with open_scenario(tmp_path_factory.mktemp("obs-live")) as scenario:
        yield scenario


def ensure_live(live: Scenario) -> None:
    """Stream, with ai_licia joined, and the traffic settled."""
    traffic = Traffic(live.sandbox)
    if not live.obs.state()["streaming"]:
        live.obs.start_streaming()
        traffic.wait(is_join, what="a join after stream start")
    traffic.settle(quiet_s=0.8)


def assert_log_clean(live: Scenario) -> None:
    problems = log_problems(live.obs.log_text(), live.secrets)
    assert not problems, "OBS log:\n" + "\n".join(problems)


def test_happy_path(live: Scenario) -> None:
    obs, traffic = live.obs, Traffic(live.sandbox)

    obs.start_streaming()
    traffic.wait(is_join, what="a join (POST /v1/streams/mychannel)")
    traffic.wait(context_with("Stream started", SCENE_JUST_CHATTING), what="context naming the scene on air")

    obs.switch_scene(SCENE_GAMEPLAY)
    traffic.wait(context_with("switched", SCENE_GAMEPLAY), what="context naming the new scene")

    obs.set_visible(SCENE_GAMEPLAY, ITEM, False)
    traffic.wait(context_with(ITEM, "hidden"), what="context: source hidden")
    obs.set_visible(SCENE_GAMEPLAY, ITEM, True)
    traffic.wait(context_with(ITEM, "shown"), what="context: source shown")

    obs.set_muted(SOURCE_MUSIC, True)
    traffic.wait(context_with(f"muted the audio source '{SOURCE_MUSIC}'"), what="context: muted")
    obs.set_muted(SOURCE_MUSIC, False)
    traffic.wait(context_with(f"unmuted the audio source '{SOURCE_MUSIC}'"), what="context: unmuted")

    obs.start_recording()
    traffic.wait(context_with("started recording"), what="context: recording started")
    obs.pause_recording(True)
    traffic.wait(context_with("paused the recording"), what="context: recording paused")
    obs.pause_recording(False)
    traffic.wait(context_with("resumed the recording"), what="context: recording resumed")
    obs.stop_recording()
    traffic.wait(context_with("stopped recording"), what="context: recording stopped")

    # Four presses inside one cooldown: the first goes at once, the other three
    # (slot 1 again among them) wait and go together when the window opens.
    presses = Traffic(live.sandbox)
    keys = [TRIGGER_KEYS[1], TRIGGER_KEYS[2], TRIGGER_KEYS[3], TRIGGER_KEYS[1]]
    for key in keys:
        obs.press_hotkey(key)
    generations = presses.wait(is_generation, count=2, timeout=COOLDOWN_S + 8, what="two generations")
    assert [content(g) for g in generations] == [
        TRIGGER_PROMPTS[1],
        " / ".join([TRIGGER_PROMPTS[2], TRIGGER_PROMPTS[3], TRIGGER_PROMPTS[1]]),
    ], "every press must be in exactly one generation"
    assert all(g.status == 200 for g in generations), presses.describe()
    assert generations[1].t - generations[0].t >= COOLDOWN_S - 0.05, "the second generation came inside the cooldown"

    obs.stop_streaming()
    traffic.wait(is_leave, what="a leave (DELETE /v1/streams/mychannel)")
    traffic.wait(context_with("Stream ended"), what="context: stream ended")

    assert len(traffic.matching(is_join)) == 1 and len(traffic.matching(is_leave)) == 1, traffic.describe()
    assert all(r.status in (200, 202) and r.auth == "auth ok" for r in traffic.all()), traffic.describe()
    assert_log_clean(live)


def test_outage_then_recovery(live: Scenario) -> None:
    ensure_live(live)
    live.sandbox.set_faults(fail_first=2)
    traffic = Traffic(live.sandbox)

    live.obs.switch_scene(SCENE_JUST_CHATTING if live.obs.state()["scene"] != SCENE_JUST_CHATTING else SCENE_GAMEPLAY)
    scene = live.obs.state()["scene"]
    delivered = traffic.wait(
        lambda r: context_with("switched", scene)(r) and r.status == 200,
        timeout=20,
        what="the scene context, delivered after the outage",
    )

    statuses = [r.status for r in traffic.all()]
    assert statuses[:2] == [503, 503], traffic.describe()
    assert len(delivered) == 1, traffic.describe()
    assert_log_clean(live)


def _one_request_per_event(live: Scenario) -> None:
    """Each OBS event once: exactly one request each, even after a settle period."""
    obs = live.obs
    target = SCENE_GAMEPLAY if obs.state()["scene"] != SCENE_GAMEPLAY else SCENE_JUST_CHATTING
    assert live.sandbox.wait_for_generation_window(timeout=COOLDOWN_S + 2)
    traffic = Traffic(live.sandbox)

    item = ITEM_IN[target]
    obs.switch_scene(target)
    obs.set_visible(target, item, False)
    obs.set_visible(target, item, True)
    obs.set_muted(SOURCE_MUSIC, True)
    obs.press_hotkey(TRIGGER_KEYS[2])

    expected = {
        "scene switch": context_with("switched", target),
        "hide": context_with(item, "hidden"),
        "show": context_with(item, "shown"),
        "mute": context_with(f"muted the audio source '{SOURCE_MUSIC}'"),
        "hotkey": is_generation,
    }
    for what, predicate in expected.items():
        traffic.wait(predicate, what=what)
    traffic.settle(quiet_s=1.0)  # a duplicate handler's request would arrive in this window
    counts = {what: len(traffic.matching(predicate)) for what, predicate in expected.items()}
    assert counts == dict.fromkeys(expected, 1), traffic.describe()
    assert len(traffic.all()) == len(expected), traffic.describe()
    unmuting = Traffic(live.sandbox)
    obs.set_muted(SOURCE_MUSIC, False)
    unmuting.wait(context_with("unmuted"), what="context: unmuted")


def test_collection_switch_and_reload_keep_one_request_per_event(live: Scenario) -> None:
    ensure_live(live)

    switching = Traffic(live.sandbox)
    live.obs.switch_collection(COLLECTION_B)
    switching.settle(quiet_s=1.0)
    assert not switching.matching(is_leave), (
        "a collection switch made ai_licia leave a live stream:\n" + switching.describe()
    )
    assert len(switching.matching(is_join)) <= 1, switching.describe()
    _one_request_per_event(live)

    reloading = Traffic(live.sandbox)
    live.obs.reload_scripts()
    reloading.settle(quiet_s=1.0)
    assert not reloading.matching(is_leave), (
        "Reload Scripts made ai_licia leave a live stream:\n" + reloading.describe()
    )
    assert len(reloading.matching(is_join)) <= 1, reloading.describe()
    _one_request_per_event(live)

    assert_log_clean(live)


def test_failed_stream_start_joins_nothing(live: Scenario) -> None:
    obs = live.obs
    if obs.state()["streaming"]:
        leaving = Traffic(live.sandbox)
        obs.stop_streaming()
        leaving.wait(is_leave, what="a leave")
    Traffic(live.sandbox).settle(quiet_s=0.5)
    obs.rtmp.stop()  # nothing listens any more: OBS cannot connect

    traffic = Traffic(live.sandbox)
    mark = obs.event_mark()
    obs.driver.call("stream_start")
    obs.wait_event("STREAMING_STOPPED", since=mark)
    events = obs.events_since(mark)
    assert "STREAMING_STARTING" in events and "STREAMING_STARTED" not in events, events
    assert traffic.stays_below(lambda r: True, 1, seconds=1.5), "a failed start sent:\n" + traffic.describe()
    assert not obs.state()["streaming"]


def test_quit_exits_cleanly(live: Scenario) -> None:
    result = live.obs.quit("close")  # the main window closed, as a click on its close button
    assert result.clean, result
    log = live.obs.log_text()
    assert not log_problems(log, live.secrets), log_problems(log, live.secrets)
    # OBS counts 1 leak whenever a Python script ran, and 29.0.2 leaks one more per
    # scene-collection switch (test_harness.py checks both with stand-in scripts).
    assert memory_leaks(log) == live.obs.expected_leaks, "more than OBS's own leaks: leaked references"
    brackets = live.obs.callback_brackets()
    assert brackets, "the timing probes recorded nothing"
    worst = max(brackets, key=lambda b: b["held_us"])
    print(
        f"quit -> exit {result.exit_code} in {result.seconds:.2f} s; frontend callback max "
        f"{worst['held_us'] / 1000:.2f} ms ({worst['event']}) over {len(brackets)} events"
    )
    for event, stats in live.obs.callback_summary().items():
        print(f"  {event:28} n={stats['count']:<3} median {stats['median_ms']:.3f} ms  max {stats['max_ms']:.3f} ms")
    assert worst["held_us"] < 50_000, worst
    assert not [r for r in live.sandbox.requests if is_context(r) and r.status == 429]
