"""OBS lifecycle faults through the stand-in obspython: a duplicate STREAMING_STARTED, 50 Reload Scripts.

The real-OBS side of the same rows is in ``tests/e2e/test_lifecycle_faults.py``.
"""

import pytest
from conftest import CHANNEL, READY, Call, boot, calls, contents, worker_threads
from fake_obspython import EVENT
from test_glue_lifecycle import ONE_SET, handler_counts

JOIN = Call("POST", f"/v1/streams/{CHANNEL}", None)
LEAVE = Call("DELETE", f"/v1/streams/{CHANNEL}", None)
RELOADS = 50


@pytest.mark.parametrize("settled_between", [False, True], ids=["back to back", "after the join went out"])
def test_a_duplicate_stream_start_joins_once_and_reports_once(fake, script, api, settled_between):
    boot(fake, script, **READY)
    fake.fire(EVENT.STREAMING_STARTING)
    fake.streaming = True
    fake.fire(EVENT.STREAMING_STARTED)
    if settled_between:
        script.settle()
    fake.fire(EVENT.STREAMING_STARTED)
    script.settle()

    made = calls(api)
    assert made.count(JOIN) == 1, made
    assert contents(api) == ["Stream started. On air: the 'Main' scene"]
    assert len(made) == 2, made  # the join and that context, nothing else
    assert handler_counts(fake) == ONE_SET  # the second start re-checked the sources and connected nothing twice

    api.calls.reset()
    fake.stop_stream()
    script.settle()
    made = calls(api)
    assert made.count(LEAVE) == 1, made
    assert [c for c in contents(api) if c.startswith("Stream ended")], made
    assert len(made) == 2, made  # the leave and "Stream ended"


@pytest.mark.parametrize("live", [False, True], ids=["offline", "live"])
def test_fifty_reload_cycles_leave_one_worker_and_one_handler_set(fake, script, api, live):
    """50 reloads, checked after every cycle, offline and live: one worker, one handler set, refs balanced."""
    studio = boot(fake, script, **READY)
    if live:
        fake.start_stream()
        script.settle()
    api.calls.reset()
    for cycle in range(1, RELOADS + 1):
        script.reload()
        fake.tick_timers()  # the glue connects its signals on its source timer
        assert len(worker_threads()) == 1, f"after reload {cycle}"
        assert handler_counts(fake) == ONE_SET, f"after reload {cycle}"
        assert fake.refs.outstanding() == {"weak_source": 6 + 3}, f"after reload {cycle}"
    assert fake.refs.errors == []
    script.settle()
    made = calls(api)
    assert LEAVE not in made, made  # a reload never ends the streamer's session
    # Loaded while live, each engine asks to join (ai_licia answers "already in chat"); offline, nothing at all.
    assert made.count(JOIN) <= (RELOADS if live else 0), made
    assert all(c == JOIN for c in made), made

    api.calls.reset()
    fake.switch_scene(studio.brb)
    fake.set_muted(studio.mic, True)
    fake.press_hotkey("ailicia_trigger_2")
    script.settle()
    assert contents(api) == [
        "Streamer switched to the 'BRB' scene",
        "Streamer muted their microphone ('Mic'): viewers cannot hear them right now",
    ]
    assert len(contents(api, "/v1/events/generations")) == 1
    assert len(calls(api)) == 3, calls(api)
