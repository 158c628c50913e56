"""Load, unload, Reload Scripts, scene-collection switches, quitting: one engine, one set of handlers."""

import logging
import sys
import threading
import time

import responses
from conftest import BASE, CHANNEL, READY, Call, boot, build_studio, calls, contents, worker_threads
from fake_obspython import EVENT


def handler_counts(fake):
    """What the script has registered with OBS right now."""
    return {
        "frontend": len(fake.frontend_callbacks),
        "item_visible": fake.connection_count("item_visible"),
        "mute": fake.connection_count("mute"),
        "hotkeys": sorted(h.name for h in fake.registered_hotkeys()),
        "log_handlers": sum(1 for h in logging.getLogger("ailicia").handlers if getattr(h, "ailicia_obs", False)),
    }


ONE_SET = {
    "frontend": 1,
    "item_visible": 4,  # Main, BRB, Webcam Scene and the HUD Group
    "mute": 2,  # Mic and Desktop Audio
    "hotkeys": [f"ailicia_trigger_{n}" for n in range(1, 6)],
    "log_handlers": 1,
}


def test_start_up_connects_one_set_of_handlers(fake, script):
    boot(fake, script, **READY)
    assert handler_counts(fake) == ONE_SET
    assert len(worker_threads()) == 1
    # Only weak references are held between callbacks: one per connection, and one per scene (the
    # scene list the UI thread took for the source timer's walk: Main, BRB and Webcam Scene).
    assert fake.refs.outstanding() == {"weak_source": 6 + 3}


def test_reload_picks_up_edited_core_modules(fake, script):
    boot(fake, script, **READY)
    before = sys.modules["ailicia_core.engine"]
    script.reload()
    after = sys.modules["ailicia_core.engine"]
    assert after is not before
    assert type(script.engine).__module__ == "ailicia_core.engine"
    assert type(script.engine) is after.Engine


def test_a_reload_is_not_a_scene_switch_and_keeps_ai_licia_in_chat(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    api.calls.reset()
    script.reload()
    script.settle()
    # Loaded while live: the engine learns the stream is live (a join it may already be in).
    assert calls(api) == [Call("POST", f"/v1/streams/{CHANNEL}", None)]


def test_reload_while_live_does_not_make_ai_licia_leave(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    api.calls.reset()
    script.unload()
    assert [c for c in calls(api) if c.method == "DELETE"] == []


def test_quitting_while_live_makes_ai_licia_leave_before_unload_returns(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    api.calls.reset()
    fake.fire(EVENT.SCRIPTING_SHUTDOWN)
    fake.fire(EVENT.SCENE_COLLECTION_CLEANUP)
    script.unload()
    assert calls(api) == [Call("DELETE", f"/v1/streams/{CHANNEL}", None)]
    assert worker_threads() == []


def test_quitting_while_live_without_auto_leave_stays(fake, script, api):
    boot(fake, script, auto_leave=False, **READY)
    fake.start_stream()
    script.settle()
    api.calls.reset()
    fake.fire(EVENT.SCRIPTING_SHUTDOWN)
    script.unload()
    assert calls(api) == []


def test_quitting_with_a_hung_api_returns_within_the_bound(fake, script, api):
    boot(fake, script, **READY)
    fake.start_stream()
    script.settle()
    release, entered = threading.Event(), threading.Event()

    def hang(request):
        entered.set()
        release.wait(30)
        return (202, {}, "")

    api.remove(responses.DELETE, f"{BASE}/v1/streams/{CHANNEL}")
    api.add_callback(responses.DELETE, f"{BASE}/v1/streams/{CHANNEL}", callback=hang)
    fake.fire(EVENT.SCRIPTING_SHUTDOWN)
    started = time.monotonic()
    try:
        script.unload()
        elapsed = time.monotonic() - started
        assert entered.is_set()  # the leave was tried, and it hung
        assert elapsed < 3.0  # the contract: OBS is never held longer (speed itself is in bench/)
    finally:
        release.set()


def test_scene_collection_switch(fake, script, api, spy):
    boot(fake, script, **READY)
    fake.fire(EVENT.SCENE_COLLECTION_CHANGING)
    fake.fire(EVENT.SCENE_COLLECTION_CLEANUP)
    assert fake.connection_count() == 0
    script.unload()
    for source in list(fake.sources):
        fake.destroy_source(source)
    assert handler_counts(fake)["frontend"] == 0

    # The new collection loads its scenes, then its scripts (OBS does not re-execute the module).
    other = fake.add_scene("Just Chatting")
    fake.add_scene("Starting Soon")
    fake.switch_scene(other, fire=False)
    script.load()
    events = spy()
    fake.switch_scene(other)
    fake.fire(EVENT.SCENE_COLLECTION_CHANGED)
    fake.tick_timers()
    script.settle()
    assert events.events == []
    assert fake.connection_count("item_visible") == 2
    assert len(worker_threads()) == 1
    assert fake.problems == []


def test_scenes_added_later_are_connected_once(fake, script, api):
    studio = boot(fake, script, **READY)
    extra = fake.add_scene("Extra")
    item = fake.add_item(extra, fake.add_input("Banner", "image_source"), visible=False)
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.tick_timers()
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.tick_timers()
    assert extra.signals.count("item_visible") == 1
    assert studio.main.signals.count("item_visible") == 1
    fake.switch_scene(extra)
    fake.set_visible(item, True)
    script.settle()
    assert contents(api)[-1] == "'Banner' is now shown on stream in the 'Extra' scene"


def test_a_deleted_scene_is_never_touched_again(fake, script):
    studio = boot(fake, script, **READY)
    fake.destroy_source(studio.brb)
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.tick_timers()
    assert fake.refs.outstanding() == {"weak_source": 5 + 2}  # connections, then the two scenes left
    script.unload()
    assert fake.problems == []


def test_script_added_while_obs_runs_connects_at_its_first_timer_tick(fake, script, api, spy):
    studio = build_studio(fake)
    fake.switch_scene(studio.main, fire=False)
    script.load(**READY)
    assert fake.connection_count() == 0  # script_load runs on the UI thread: no source walk there
    fake.tick_timers()
    assert handler_counts(fake) == ONE_SET
    fake.set_visible(studio.overlay, True)
    script.settle()
    assert contents(api) == ["'Overlay' is now shown on stream in the 'Main' scene"]


def test_a_failing_start_leaves_nothing_running(fake, script):
    studio = build_studio(fake)
    fake.switch_scene(studio.main, fire=False)
    fake.fail_on["obs_frontend_get_current_scene"] = RuntimeError("boom")
    script.load(**READY)
    assert worker_threads() == []
    assert handler_counts(fake)["frontend"] == 0
    assert fake.registered_hotkeys() == []
    script.properties()
    assert "could not start" in script.status()
    assert any("RuntimeError: boom" in line for line in fake.log_lines("script_log"))


def test_unload_twice_and_unload_before_load_are_harmless(fake, script):
    script.unload()
    boot(fake, script, **READY)
    script.unload()
    script.unload()
    assert worker_threads() == []


def test_the_glue_never_switches_scenes(fake, script, api):
    studio = boot(fake, script, **READY)
    fake.switch_scene(studio.brb)
    fake.start_stream()
    fake.stop_stream()
    script.settle()
    assert not any("set_current_scene" in p for p in fake.problems)
    assert "obs_frontend_set_current_scene" not in open(sys.modules["ailicia_obs"].__file__).read()


def test_no_source_walk_runs_on_the_ui_thread_or_while_a_collection_loads(fake, script):
    """OBS 29 deadlocks when a UI-thread callback takes the sources mutex while another script's
    signal callback waits for the GIL inside the graphics thread's source tick (seen in real OBS).
    The fake records any obs_enum_sources / obs_get_source_by_name outside a timer as a problem."""
    studio = boot(fake, script, **READY, caption_source="BRB Text", watched_sources="BRB Text")
    fake.fire(EVENT.SCENE_COLLECTION_CHANGING)
    extra = fake.add_scene("Extra")
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.tick_timers()
    assert extra.signals.count("item_visible") == 0  # sources come and go while a collection loads
    fake.fire(EVENT.SCENE_COLLECTION_CHANGED)
    fake.start_stream()
    script.update(caption_source="BRB Text")
    assert extra.signals.count("item_visible") == 0  # the UI-thread handlers only asked for a walk
    assert fake.problems == []
    fake.tick_timers()
    assert extra.signals.count("item_visible") == 1
    assert studio.main.signals.count("item_visible") == 1
    assert fake.problems == []


def test_the_fake_flags_a_source_walk_from_a_ui_thread_callback(fake, script):
    """The rule above is only as good as the fake's check: a frontend callback walking the sources is flagged."""
    boot(fake, script, **READY)
    walked = []

    def on_event(event):
        walked.append(fake.module.obs_enum_sources())

    fake.call_script(fake.module.obs_frontend_add_event_callback, on_event)
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.call_script(fake.module.obs_frontend_remove_event_callback, on_event)
    fake.call_script(fake.module.source_list_release, walked[0])
    assert fake.problems == ["obs_enum_sources called from a script callback other than a timer (OBS 29 can deadlock)"]
    fake.problems.clear()


def test_the_scene_list_is_read_on_the_ui_thread_and_the_fake_flags_it_from_a_timer(fake, script):
    """obs_frontend_get_scenes reads the UI's scene list widget: the source timer walks weak references
    the UI-thread handler took, and the fake flags the frontend call from a timer."""
    studio = boot(fake, script, **READY)
    extra = fake.add_scene("Extra")
    fake.fire(EVENT.SCENE_LIST_CHANGED)
    fake.tick_timers()
    assert extra.signals.count("item_visible") == 1 and studio.main.signals.count("item_visible") == 1
    assert fake.problems == []

    def listing_timer():
        fake.module.source_list_release(fake.module.obs_frontend_get_scenes())

    fake.call_script(fake.module.timer_add, listing_timer, 100)
    fake.tick_timers()
    fake.call_script(fake.module.timer_remove, listing_timer)
    assert fake.problems == ["obs_frontend_get_scenes called from a timer (reads the UI's widgets)"]
    fake.problems.clear()


def test_from_scripting_shutdown_on_the_timers_touch_no_source(fake, script, monkeypatch):
    """OBS frees every source after SCRIPTING_SHUTDOWN: no reference of ours may be taken meanwhile."""
    boot(fake, script, **READY, caption_source="BRB Text", watched_sources="BRB Text")
    fake.fire(EVENT.SCENE_LIST_CHANGED)  # a walk is pending when the quit comes
    touched = []
    for name in ("obs_get_source_by_name", "obs_enum_sources", "obs_weak_source_get_source", "obs_frontend_get_scenes"):
        real = getattr(fake.module, name)
        monkeypatch.setattr(fake.module, name, lambda *a, _real=real, _name=name: touched.append(_name) or _real(*a))
    fake.fire(EVENT.SCRIPTING_SHUTDOWN)
    for _ in range(3):
        fake.tick_timers()
    assert touched == []
    script.unload()
    assert fake.problems == []
