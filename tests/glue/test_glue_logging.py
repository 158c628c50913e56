"""The core's logger goes to OBS's log: matching levels, the right function per thread, no key, no traceback."""

import logging
import threading

import fake_obspython as fo
import responses
from conftest import BASE, KEY, READY, boot, calls

log = logging.getLogger("ailicia")


def in_thread(function, *args):
    thread = threading.Thread(target=function, args=args, name="not-obs")
    thread.start()
    thread.join(5)


def test_levels_match_and_obs_threads_use_script_log(fake, script):
    boot(fake, script, **READY)
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [(e[0], e[1], e[2]) for e in fake.logs if e[2] in "diwe"] == [
        ("script_log", fo.LOG_DEBUG, "d"),
        ("script_log", fo.LOG_INFO, "i"),
        ("script_log", fo.LOG_WARNING, "w"),
        ("script_log", fo.LOG_ERROR, "e"),
    ]


def test_lines_from_our_threads_reach_the_script_log_on_the_timer(fake, script, api):
    studio = boot(fake, script, **READY)
    in_thread(log.warning, "from elsewhere")
    # Never written from a thread OBS did not start: script_log would name the wrong script.
    assert not any("from elsewhere" in e[2] for e in fake.logs)
    fake.tick_timers()
    assert ("script_log", fo.LOG_WARNING, "from elsewhere", "MainThread") in fake.logs
    fake.switch_scene(studio.brb)
    script.settle()
    fake.tick_timers()
    assert not any(e[3] == "ailicia-delivery" for e in fake.logs)
    assert any("BRB" in e[2] and e[:2] == ("script_log", fo.LOG_INFO) for e in fake.logs)  # the success line


def test_worker_lines_still_waiting_at_unload_are_written(fake, script, api):
    boot(fake, script, **READY)
    in_thread(log.warning, "said while stopping")
    fake.call_script(script.module.script_unload)
    assert ("script_log", fo.LOG_WARNING, "said while stopping", "MainThread") in fake.logs
    assert fake.timers == []


def test_the_api_key_never_reaches_the_log(fake, script, api):
    api.remove(responses.GET, f"{BASE}/v1/characters")
    api.add(responses.GET, f"{BASE}/v1/characters", status=401, json={"error": f"bad key {KEY}"})
    boot(fake, script, **READY)
    script.properties()
    script.click("ailicia_test_connection")
    script.settle()
    assert calls(api)
    log.warning("the server echoed %s", KEY)
    in_thread(log.warning, f"and again {KEY}")
    assert fake.logs
    assert not any(KEY in entry[2] for entry in fake.logs)


def test_no_traceback_reaches_the_log(fake, script):
    boot(fake, script, **READY)
    try:
        raise ValueError("deep inside")
    except ValueError:
        log.error("something failed", exc_info=True)
    assert ("script_log", fo.LOG_ERROR, "something failed (ValueError)") in [e[:3] for e in fake.logs]


def test_a_failing_callback_is_logged_in_words_and_releases_its_references(fake, script, api):
    studio = boot(fake, script, **READY)
    fake.fail_on["obs_source_active"] = RuntimeError("boom")
    fake.set_visible(studio.overlay, True)
    fake.fail_on.clear()
    fake.fail_on["obs_source_get_name"] = RuntimeError("name lost")
    fake.fire(fo.EVENT.SCENE_LIST_CHANGED)
    fake.switch_scene(studio.brb)
    fake.fail_on.clear()
    warnings = [e[2] for e in fake.logs if e[1] == fo.LOG_WARNING]
    assert "ai_licia-obs could not report a source (RuntimeError: boom); carrying on." in warnings
    assert "ai_licia-obs could not handle an OBS event (RuntimeError: name lost); carrying on." in warnings
    assert fake.refs.outstanding() == {"weak_source": 6 + 3}
    script.settle()
    assert calls(api) == []


def test_unload_gives_the_logger_back(fake, script):
    before = (log.level, log.propagate)
    boot(fake, script, **READY)
    assert log.propagate is False
    script.unload()
    assert (log.level, log.propagate) == before
    assert not any(getattr(h, "ailicia_obs", False) for h in log.handlers)
    assert any(isinstance(h, logging.NullHandler) for h in log.handlers)
