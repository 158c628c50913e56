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
        ("script_log", fo.LOG_DEBUG, "d"), ("script_log", fo.LOG_INFO, "i"),
        ("script_log", fo.LOG_WARNING, "w"), ("script_log", fo.LOG_ERROR, "e")]


def test_threads_obs_did_not_start_use_blog(fake, script, api):
    studio = boot(fake, script, **READY)
    in_thread(log.warning, "from elsewhere")
    assert ("blog", fo.LOG_WARNING, "[ailicia_obs.py] from elsewhere", "not-obs") in fake.logs
    fake.switch_scene(studio.brb)
    script.settle()
    worker_lines = [e for e in fake.logs if e[3] == "ailicia-delivery"]
    assert worker_lines and all(e[0] == "blog" for e in worker_lines)
    assert any("BRB" in e[2] and e[1] == fo.LOG_INFO for e in worker_lines)  # the success line


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
    assert fake.refs.outstanding() == {"weak_source": 6}
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
