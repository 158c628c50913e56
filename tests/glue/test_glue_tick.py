"""The script's one OBS timer: registered at load, gone at unload, one after any number of reloads;
each job (Script Log, captions, Connect with ai_licia, sources) at its own interval."""

import logging
import threading

import fake_obspython as fo
from conftest import READY, boot, worker_threads

log = logging.getLogger("ailicia")


def from_another_thread(text: str) -> None:
    thread = threading.Thread(target=log.warning, args=(text,), name="not-obs")
    thread.start()
    thread.join(5)


def written(fake, text: str) -> bool:
    return ("script_log", fo.LOG_WARNING, text, "MainThread") in fake.logs


def replace_job(glue, what: str, job) -> None:
    """Swap the timer's job named ``what`` (the timer holds the function it was given at load)."""
    (entry,) = [entry for entry in glue.tick.jobs if entry[3] == what]
    entry[2] = job


def test_one_timer_after_load_none_after_unload_one_after_fifty_reloads(fake, script):
    boot(fake, script, **READY)
    assert fake.timers == [(script.glue.tick.callback, 50)]
    script.unload()
    assert fake.timers == []
    script.load(**READY)
    for _ in range(50):
        script.reload()
    assert fake.timers == [(script.glue.tick.callback, 50)]
    assert len(fake.frontend_callbacks) == 1
    assert sum(1 for hotkey in fake.hotkeys.values() if hotkey.registered) == len(
        {h.name for h in fake.hotkeys.values() if h.registered}
    )  # one of each hotkey
    script.unload()
    assert fake.timers == []
    assert fake.frontend_callbacks == []


def test_the_script_log_is_written_every_200_ms_not_at_every_tick(fake, script):
    boot(fake, script, **READY)
    from_another_thread("waiting")
    for _ in range(3):
        fake.tick_timers(elapsed_ms=50)
        assert not written(fake, "waiting")
    fake.tick_timers(elapsed_ms=50)
    assert written(fake, "waiting")


def test_watched_sources_are_read_every_500_ms(fake, script):
    boot(fake, script, **READY)
    reads = []
    replace_job(script.glue, "read the watched sources", lambda: reads.append(fake.now_ns))
    fake.tick_timers()  # the job's first run after the patch
    reads.clear()
    for _ in range(9):
        fake.tick_timers(elapsed_ms=50)
    assert reads == []
    fake.tick_timers(elapsed_ms=50)
    assert len(reads) == 1


def test_a_failing_job_is_logged_and_the_others_still_run(fake, script):
    boot(fake, script, **READY)

    def broken() -> None:
        raise RuntimeError("boom")

    replace_job(script.glue, "read the watched sources", broken)
    from_another_thread("still flushed")
    fake.tick_timers()
    assert written(fake, "still flushed")
    assert any("could not read the watched sources (RuntimeError: boom)" in e[2] for e in fake.logs)
    assert fake.timers == [(script.glue.tick.callback, 50)]  # the timer stays


def test_a_failing_step_of_unloading_is_logged_and_the_others_still_run(fake, script, monkeypatch):
    boot(fake, script, **READY)

    def refuse(callback) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(script.module.obs, "obs_hotkey_unregister", refuse)
    script.unload()
    assert "ai_licia-obs: a step of unloading failed (RuntimeError: refused); carrying on." in fake.log_lines()
    assert fake.timers == []
    assert fake.frontend_callbacks == []
    assert fake.connection_count("item_visible") == 0
    assert worker_threads() == []  # the engine stopped too
