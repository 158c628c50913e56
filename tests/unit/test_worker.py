"""The delivery worker with a fake clock: order, debounce, backoff, pauses, pacing, overflow."""

from __future__ import annotations

import pytest
import requests

from ailicia_core import events as ev
from ailicia_core import worker as worker_module
from ailicia_core.backoff import BASE_DELAY_S, MAX_DELAY_S
from ailicia_core.decide import MAX_RATE_LIMITED_TRIES
from ailicia_core.settings import parse_settings
from tests.unit.fake_api import ALREADY, KEY, TIMED_OUT, drive, live_engine, make_engine

EVENTS = "/v1/events"
GENERATIONS = "/v1/events/generations"
STREAM = "/v1/streams/mychannel"


# --- order and debounce ---------------------------------------------------------------


def test_context_events_go_out_in_the_order_they_happened(clock, api):
    engine = live_engine(clock, api)
    engine.handle(ev.SceneSwitched("A"))
    engine.handle(ev.SourceVisibilityChanged("A", "Webcam", False))
    engine.handle(ev.AudioMuteChanged("Mic", True, "pulse_input_capture"))
    engine.handle(ev.RecordingStarted())
    drive(engine, clock)
    contents = api.contents()
    assert len(contents) == 4
    assert "'A' scene" in contents[0]
    assert "Webcam" in contents[1]
    assert "microphone" in contents[2]
    assert "recording" in contents[3]


def test_a_scene_superseded_within_the_debounce_is_never_sent(clock, api):
    engine = live_engine(clock, api, scene_debounce_ms=1500)
    engine.handle(ev.SceneSwitched("Flicked past"))
    clock.t += 1.0
    engine.handle(ev.SceneSwitched("Stayed on"))
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'Stayed on' scene"]


def test_a_scene_that_stays_past_the_debounce_is_sent_when_the_debounce_ends(clock, api):
    engine = live_engine(clock, api, scene_debounce_ms=1500)
    switched_at = clock.t
    engine.handle(ev.SceneSwitched("First"))
    drive(engine, clock)
    clock.t += 5
    engine.handle(ev.SceneSwitched("Second"))
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'First' scene", "Streamer switched to the 'Second' scene"]
    assert api.calls[0].t == pytest.approx(switched_at + 1.5)


def test_context_behind_a_debounced_scene_keeps_its_place(clock, api):
    engine = live_engine(clock, api, scene_debounce_ms=1000)
    engine.handle(ev.SceneSwitched("Gameplay"))
    engine.handle(ev.SourceVisibilityChanged("Gameplay", "Webcam", True))
    drive(engine, clock)
    assert [("Gameplay" in c, "Webcam" in c) for c in api.contents()] == [(True, False), (True, True)]


# --- failures and backoff --------------------------------------------------------------


def test_503s_back_off_exponentially_then_the_event_arrives(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 503, 503, 503)
    start = clock.t
    engine.handle(ev.SceneSwitched("After outage"))
    drive(engine, clock)
    times = [c.t - start for c in api.calls]
    # rng() == 0 gives the fixed half of each equal-jitter delay: 0.5, 1, 2 s.
    assert times == pytest.approx([0, BASE_DELAY_S / 2, BASE_DELAY_S / 2 + 1.0, BASE_DELAY_S / 2 + 3.0])
    assert api.contents()[-1] == "Streamer switched to the 'After outage' scene"
    assert "problem" not in engine.status().last_error or engine.status().last_success


def test_backoff_delay_is_capped_and_jittered():
    from ailicia_core.backoff import Backoff

    low, high = Backoff(lambda: 0.0), Backoff(lambda: 0.999)
    assert low.delay_for(50) == pytest.approx(MAX_DELAY_S / 2)
    assert high.delay_for(50) <= MAX_DELAY_S
    assert low.delay_for(3) < high.delay_for(3)


def test_an_outage_holds_all_sending_back_together_no_storm(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, *[503] * 4)
    for n in range(20):
        engine.handle(ev.SourceVisibilityChanged("Intro", f"Source {n}", True))
    drive(engine, clock)
    # Only the head of the queue is tried during the outage: 4 failures, then 20 successes.
    assert len(api.calls) == 24
    assert len(api.contents()) == 24 and api.contents()[-1].startswith("'Source 19'")


def test_a_context_event_gives_up_after_the_bounded_number_of_tries(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, *[503] * worker_module.MAX_CONTEXT_TRIES)
    engine.handle(ev.SceneSwitched("Doomed"))
    engine.handle(ev.SceneSwitched("Next"))
    drive(engine, clock)
    contents = api.contents()
    assert contents.count("Streamer switched to the 'Doomed' scene") == worker_module.MAX_CONTEXT_TRIES
    assert contents[-1] == "Streamer switched to the 'Next' scene"
    assert "Gave up" in engine.status().last_error


def test_network_errors_are_retried_like_5xx(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, requests.exceptions.ConnectionError("Connection refused"))
    engine.handle(ev.SceneSwitched("Back online"))
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'Back online' scene"] * 2


def test_context_whose_ttl_passes_during_an_outage_is_dropped_not_sent(clock, api):
    engine = live_engine(clock, api, context_ttl_s=2)
    api.script("POST", EVENTS, 503, 503, 503)
    engine.handle(ev.SceneSwitched("Short lived"))
    drive(engine, clock)
    # Tries at 0, 0.5 and 1.5 s; the next (3.5 s) would be after the ttl.
    assert len(api.calls) == 3
    assert [c.body["data"]["ttl"] for c in api.calls] == [2, 2, 1]


def test_ttl_is_sent_only_when_set(clock, api):
    engine = live_engine(clock, api)
    engine.handle(ev.SceneSwitched("No ttl"))
    drive(engine, clock)
    assert "ttl" not in api.calls[0].body["data"]


def test_a_401_pauses_all_sending_until_the_key_changes(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 401)
    engine.handle(ev.SceneSwitched("One"))
    engine.handle(ev.SceneSwitched("Two"))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    clock.t += 3600
    drive(engine, clock)
    # Generations go before context; the context's 401 then stops everything.
    assert [c.path for c in api.calls] == [GENERATIONS, EVENTS]
    status = engine.status()
    assert "rejected the API key" in status.paused_reason
    assert KEY not in engine.status_text()
    engine.reconfigure(
        {"api_key": "a-new-key-2", "channel": "mychannel", "api_base_url": api_base(), "scene_debounce_ms": 0}
    )
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'One' scene"] * 2 + ["Streamer switched to the 'Two' scene"]
    assert len(api.contents(GENERATIONS)) == 1
    assert engine.status().paused_reason == ""


def test_a_settings_change_that_keeps_the_key_does_not_lift_a_401_pause(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 401)
    engine.handle(ev.SceneSwitched("One"))
    drive(engine, clock)
    engine.reconfigure({"api_key": KEY, "channel": "mychannel", "api_base_url": api_base(), "scene_debounce_ms": 5})
    drive(engine, clock)
    assert len(api.calls) == 1 and engine.status().paused_reason


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_refused_context_is_dropped_with_a_message_and_sending_goes_on(clock, api, status):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, status)
    engine.handle(ev.SceneSwitched("Refused"))
    engine.handle(ev.SceneSwitched("Fine"))
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'Refused' scene", "Streamer switched to the 'Fine' scene"]
    assert f"({status})" in engine.status().last_error


# --- pacing generations ---------------------------------------------------------------


def test_first_press_goes_at_once_and_later_presses_wait_for_the_window(clock, api):
    engine = make_engine(clock, generation_cooldown_s=25)
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t)
    assert len(api.calls) == 1 and api.calls[0].t == 1000.0
    clock.t += 3
    engine.handle(ev.TriggerPressed(2))
    clock.t += 3
    engine.handle(ev.TriggerPressed(3))
    drive(engine, clock)
    gens = [c for c in api.calls if c.path == GENERATIONS]
    assert len(gens) == 2
    assert gens[1].t == pytest.approx(1025.0)
    assert gens[1].body["data"]["content"] == (
        "I just failed spectacularly. Roast me gently. / "
        "Welcome everyone who just arrived and ask chat what they are up to today."
    )


def test_repeated_presses_of_one_prompt_are_merged_and_counted(clock, api):
    engine = make_engine(clock)
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t)
    for _ in range(3):
        engine.handle(ev.TriggerPressed(2))
    engine.worker.run_once()
    assert engine.status().queued_generations == 3
    drive(engine, clock)
    assert len(api.contents(GENERATIONS)) == 2
    assert "3 presses" in engine.status().last_success


def test_waiting_prompts_that_do_not_fit_in_300_chars_go_in_the_next_window(clock, api):
    prompts = {f"trigger_{n}_prompt": f"{n}" * 160 for n in range(1, 4)}
    engine = make_engine(clock, generation_cooldown_s=10, **prompts)
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock, until=clock.t)
    engine.handle(ev.TriggerPressed(2))
    engine.handle(ev.TriggerPressed(3))
    drive(engine, clock)
    gens = [c for c in api.calls if c.path == GENERATIONS]
    assert [len(c.body["data"]["content"]) for c in gens] == [160, 160, 160]
    assert [c.t for c in gens] == pytest.approx([1000, 1010, 1020])


def test_no_two_generations_are_sent_closer_than_the_cooldown(clock, api):
    engine = make_engine(clock, generation_cooldown_s=7)
    for n in range(12):
        engine.handle(ev.ManualGeneration(f"press {n}"))
        drive(engine, clock, until=clock.t + 1.3)
    drive(engine, clock)
    times = [c.t for c in api.calls if c.path == GENERATIONS]
    assert all(b - a >= 7 for a, b in zip(times, times[1:], strict=False))
    sent = " / ".join(c.body["data"]["content"] for c in api.calls if c.path == GENERATIONS)
    assert all(f"press {n}" in sent for n in range(12))


@pytest.mark.parametrize("retry_after, expected_wait", [("40", 40.0), (None, 25.0), ("3", 25.0)])
def test_a_429_waits_out_retry_after_or_the_window_and_retries(clock, api, retry_after, expected_wait):
    engine = make_engine(clock)
    headers = {"Retry-After": retry_after} if retry_after else {}
    api.script("POST", GENERATIONS, (429, "", headers))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    gens = [c for c in api.calls if c.path == GENERATIONS]
    assert len(gens) == 2
    assert gens[1].t - gens[0].t == pytest.approx(expected_wait)
    assert gens[0].body == gens[1].body


def test_a_generation_answered_429_too_often_is_given_up_with_a_message(clock, api):
    engine = make_engine(clock)
    api.script("POST", GENERATIONS, *[429] * MAX_RATE_LIMITED_TRIES)
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    assert len(api.contents(GENERATIONS)) == MAX_RATE_LIMITED_TRIES
    assert "gave up the reaction" in engine.status().last_error


def test_a_generation_that_may_have_arrived_is_not_resent(clock, api):
    engine = make_engine(clock)
    api.script("POST", GENERATIONS, requests.exceptions.ReadTimeout("slow"))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    assert len(api.contents(GENERATIONS)) == 1
    assert "may not have happened" in engine.status().last_error


def test_a_generation_that_never_reached_the_server_is_retried(clock, api):
    engine = make_engine(clock)
    api.script("POST", GENERATIONS, requests.exceptions.ConnectionError("Connection refused"), 503)
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    assert len(api.contents(GENERATIONS)) == 3


def test_an_empty_trigger_prompt_sends_nothing_and_says_why(clock, api):
    engine = make_engine(clock)
    engine.handle(ev.TriggerPressed(5))
    drive(engine, clock)
    assert api.calls == []
    assert any("trigger 5 has no prompt" in note for note in engine.status().notes)


# --- presence -------------------------------------------------------------------------


def test_stream_start_joins_and_names_the_scene_and_stream_stop_leaves(clock, api):
    engine = make_engine(clock)
    engine.handle(ev.StreamStarted("Just Chatting"))
    drive(engine, clock)
    clock.t += 2 * 3600 + 13 * 60
    engine.handle(ev.StreamStopped())
    drive(engine, clock)
    assert [(c.method, c.path) for c in api.calls] == [
        ("POST", STREAM),
        ("POST", EVENTS),
        ("POST", EVENTS),
        ("DELETE", STREAM),
    ]
    # "Stream ended" reaches ai_licia before she is asked to leave.
    assert api.contents() == ["Stream started. On air: the 'Just Chatting' scene", "Stream ended after 2 h 13 min"]
    assert engine.status().in_chat is False


def test_a_timed_out_join_is_retried_until_ai_licia_is_in_chat(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, (200, TIMED_OUT), (200, ALREADY))
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    joins = [c for c in api.calls if c.path == STREAM]
    assert len(joins) == 2 and joins[1].t - joins[0].t == pytest.approx(5.0)
    assert engine.status().in_chat is True


def test_join_timeouts_are_retried_a_bounded_number_of_times(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, *[(200, TIMED_OUT)] * 10)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    assert len([c for c in api.calls if c.path == STREAM]) == 3
    assert "may still join" in engine.status().presence


@pytest.mark.parametrize("status, words", [(403, "not linked"), (404, "cannot find the channel")])
def test_join_refusals_are_not_retried_and_say_why(clock, api, status, words):
    engine = make_engine(clock)
    api.script("POST", STREAM, status)
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    clock.t += 600
    drive(engine, clock)
    assert len([c for c in api.calls if c.path == STREAM]) == 1
    assert words in engine.status().presence


def test_join_without_credits_says_so(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, (403, {"requiresSubscription": True}))
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    assert "subscription or credits" in engine.status().presence


def test_a_join_that_gets_no_answer_is_retried_with_backoff(clock, api):
    engine = make_engine(clock)
    api.script("POST", STREAM, requests.exceptions.ConnectionError("Connection refused"))
    engine.handle(ev.StreamStarted("Intro"))
    drive(engine, clock)
    assert len([c for c in api.calls if c.path == STREAM]) == 2
    assert engine.status().in_chat is True


def test_a_stop_before_the_join_went_out_replaces_it_with_the_leave(clock, api):
    engine = make_engine(clock, send_stream_state=False)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.StreamStopped())
    drive(engine, clock)
    assert [(c.method, c.path) for c in api.calls] == [("DELETE", STREAM)]


def test_buttons_join_and_leave_even_when_not_live(clock, api):
    engine = make_engine(clock)
    engine.join_now()
    drive(engine, clock)
    engine.leave_now()
    drive(engine, clock)
    assert [(c.method, c.path) for c in api.calls] == [("POST", STREAM), ("DELETE", STREAM)]


def test_auto_join_and_auto_leave_off_send_no_presence(clock, api):
    engine = make_engine(clock, auto_join=False, auto_leave=False)
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.StreamStopped())
    drive(engine, clock)
    assert all(c.path == EVENTS for c in api.calls)


# --- connection test, dry run, configuration --------------------------------------------


def test_test_connection_reports_the_characters(clock, api):
    engine = make_engine(clock)
    engine.test_connection()
    drive(engine, clock)
    assert api.paths() == ["/v1/characters"]
    assert "Connected" in engine.status().connection and "Captain Vibes" in engine.status().connection


def test_test_connection_with_a_bad_key_pauses_and_says_so(clock, api):
    engine = make_engine(clock)
    api.script("GET", "/v1/characters", 401)
    engine.test_connection()
    drive(engine, clock)
    assert "rejected the API key" in engine.status().connection
    assert engine.status().paused_reason


def test_dry_run_sends_nothing_and_logs_each_request(clock, api, caplog):
    engine = make_engine(clock, dry_run=True)
    with caplog.at_level("INFO", logger="ailicia"):
        engine.handle(ev.StreamStarted("Intro"))
        engine.handle(ev.TriggerPressed(1))
        drive(engine, clock)
    assert api.calls == []
    logged = caplog.text
    assert "Dry run: would send POST /v1/streams/mychannel" in logged
    assert "Dry run: would send POST /v1/events/generations" in logged
    assert KEY not in logged
    assert engine.status().dry_run


def test_nothing_is_sent_while_the_settings_have_a_blocking_problem(clock, api):
    engine = make_engine(clock, api_key="")
    engine.handle(ev.StreamStarted("Intro"))
    engine.handle(ev.TriggerPressed(1))
    drive(engine, clock)
    assert api.calls == []
    status = engine.status()
    assert not status.configured and any("API key" in p for p in status.problems)
    assert "Reaction not sent" in status.last_error


def test_the_key_never_appears_in_status_or_log(clock, api, caplog):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 401)
    with caplog.at_level("DEBUG", logger="ailicia"):
        engine.handle(ev.SceneSwitched("X"))
        engine.test_connection()
        drive(engine, clock)
    assert KEY not in caplog.text
    assert KEY not in engine.status_text()
    assert KEY not in repr(engine.settings)


# --- overflow -------------------------------------------------------------------------


def test_inbox_overflow_drops_the_oldest_automatic_events_but_never_vital_ones(clock, api):
    engine = live_engine(clock, api)
    for n in range(worker_module.INBOX_CAPACITY + 50):
        engine.handle(ev.SourceVisibilityChanged("Intro", f"S{n}", True))
    engine.handle(ev.TriggerPressed(1))
    engine.handle(ev.StreamStopped())
    engine.worker.run_once()
    status = engine.status()
    assert status.dropped_context >= 50
    drive(engine, clock)
    contents = api.contents()
    assert not any(c.startswith("'S0'") for c in contents)
    assert any(c.startswith(f"'S{worker_module.INBOX_CAPACITY + 49}'") for c in contents)
    assert ("DELETE", STREAM) in [(c.method, c.path) for c in api.calls]
    assert len(api.contents(GENERATIONS)) == 1


def test_context_backlog_is_bounded_and_keeps_the_newest(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 503)  # an outage holds the queue back so the backlog fills
    for n in range(worker_module.CONTEXT_BACKLOG + 30):
        engine.handle(ev.SourceVisibilityChanged("Intro", f"S{n}", True))
        engine.worker.run_once()
    assert engine.status().queued_context == worker_module.CONTEXT_BACKLOG
    assert engine.status().dropped_context == 30
    drive(engine, clock)
    sent = api.contents()
    assert sent[-1].startswith(f"'S{worker_module.CONTEXT_BACKLOG + 29}'")
    assert not any(c.startswith("'S1'") for c in sent)


def test_context_during_a_401_pause_is_not_queued_to_go_stale(clock, api):
    engine = live_engine(clock, api)
    api.script("POST", EVENTS, 401)
    engine.handle(ev.SceneSwitched("Rejected"))
    drive(engine, clock)
    engine.handle(ev.SceneSwitched("While paused"))
    drive(engine, clock)
    assert engine.status().queued_context == 1  # only the rejected one, kept for after the fix


def test_settings_applied_in_place_change_what_is_composed(clock, api):
    engine = live_engine(clock, api)
    engine.reconfigure(
        {
            "api_key": KEY,
            "channel": "mychannel",
            "api_base_url": api_base(),
            "scene_debounce_ms": 0,
            "scene_descriptions": "Gameplay = playing Hades",
        }
    )
    engine.handle(ev.SceneSwitched("Gameplay"))
    drive(engine, clock)
    assert api.contents() == ["Streamer switched to the 'Gameplay' scene — playing Hades"]


def api_base() -> str:
    from tests.unit.fake_api import BASE

    return BASE


def test_parse_settings_defaults_make_an_unconfigured_engine():
    assert not parse_settings({}).is_configured
