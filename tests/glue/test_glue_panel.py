"""The panel: every setting, the status line, the buttons; hotkeys; and the panel without requests."""

import html
import sys

import fake_obspython as fo
from conftest import KEY, READY, boot, worker_threads
from fake_obspython import DataArray

from ailicia_core import python_env
from ailicia_core.settings import DEFAULTS, TRIGGER_SLOTS

GROUPS = {
    "ailicia_connection": "Connection",
    "ailicia_what_to_send": "What to send",
    "ailicia_triggers": "Hotkey triggers",
    "ailicia_advanced": "Advanced",
}


def test_panel_has_every_setting_in_its_group(fake, script):
    boot(fake, script, **READY)
    props = script.properties()
    top = {p.name: p for p in props.props}
    assert {name: top[name].description for name in GROUPS} == GROUPS
    for key, default in DEFAULTS.items():
        if key == "dock_token":  # not a box to type in: shown inside the dock address, renewed by a button
            continue
        prop = props.find(key)
        assert prop is not None, key
        expected = "bool" if isinstance(default, bool) else "int" if isinstance(default, int) else "text"
        if key == "caption_source":
            expected = "list"  # an editable list of the Text sources (test_glue_source_lists.py)
        assert prop.kind == expected, key
    assert props.find("api_key").extra["text_type"] == fo.OBS_TEXT_PASSWORD
    assert props.find("ignored_scenes").extra["text_type"] == fo.OBS_TEXT_MULTILINE
    connection = top["ailicia_connection"].extra["content"]
    assert [p.name for p in connection.props] == [
        "ailicia_connect_app",
        "api_key",
        "channel",
        "ailicia_test_connection",
        "ailicia_join_now",
        "ailicia_leave_now",
    ]
    advanced = {p.name for p in top["ailicia_advanced"].extra["content"].props}
    assert advanced == {
        "api_base_url",
        "scene_debounce_ms",
        "context_ttl_s",
        "event_type",
        "generation_cooldown_s",
        "dry_run",
        "dashboard_ws_port",
        "dock_enabled",
        "dock_port",
    }


def test_status_is_an_info_text_with_no_stored_value(fake, script):
    boot(fake, script, **READY)
    props = script.properties()
    status = props.props[0]
    assert status.name == script.module.STATUS_PROPERTY
    assert status.kind == "text" and status.extra["text_type"] == fo.OBS_TEXT_INFO
    assert status.extra["word_wrap"] is True
    # OBS renders the description as the label only while the setting has no value.
    assert script.module.STATUS_PROPERTY not in script.data.values
    assert "Not live" in script.status()
    assert props.props[1].name == "ailicia_refresh_status"


def test_status_follows_settings_changes(fake, script):
    boot(fake, script)
    script.properties()
    assert "Paste your ai_licia API key" in script.status()
    assert script.modify("api_key", KEY) is True
    assert "Paste your ai_licia API key" not in script.status()
    assert "Enter your channel name" in script.status()
    assert script.modify("channel", "mychannel") is True
    assert script.modify("enabled", False) is True
    assert "Switched off" in script.status()
    assert script.modify("auto_join", False) is False  # nothing in the status changed: no redraw


def test_multi_line_boxes_do_not_redraw_the_panel_while_typing(fake, script):
    boot(fake, script, **READY)
    script.properties()
    assert script.modify("scene_descriptions", "Main") is False
    assert script.props.find("scene_descriptions").modified is None


def test_status_is_escaped_rich_text(fake, script):
    markup = script.module.status_markup("a < b & 'c'\n\nline two")
    assert markup == "<html>a &lt; b &amp; 'c'<br>line two</html>"


def test_hotkeys_are_described_by_their_prompt_and_follow_changes(fake, script):
    boot(fake, script, **READY)
    first = fake.hotkey_named("ailicia_trigger_1")
    assert first.description == "ai_licia: trigger 1 — Something great just happened on stream…"
    assert fake.hotkey_named("ailicia_trigger_5").description == "ai_licia: trigger 5 — (no prompt yet)"
    script.update(trigger_5_prompt="Say hi to the raiders")
    assert fake.hotkey_named("ailicia_trigger_5").description == "ai_licia: trigger 5 — Say hi to the raiders"
    assert len(fake.registered_hotkeys()) == TRIGGER_SLOTS


def test_hotkey_bindings_are_loaded_at_load_and_saved_in_script_save(fake, script):
    binding = {"key": "OBS_KEY_F9", "control": True}
    script.data.values["ailicia_trigger_3_hotkey"] = DataArray([binding])
    boot(fake, script, **READY)
    assert fake.hotkey_named("ailicia_trigger_3").bindings == [binding]
    fake.hotkey_named("ailicia_trigger_1").bindings = [{"key": "OBS_KEY_F1"}]
    script.save()
    assert script.data.values["ailicia_trigger_1_hotkey"].items == [{"key": "OBS_KEY_F1"}]
    assert script.data.values["ailicia_trigger_3_hotkey"].items == [binding]
    assert {f"ailicia_trigger_{n}_hotkey" for n in range(1, 6)} <= set(script.data.values)


def test_panel_without_requests_says_which_python_and_how_to_install(fake, script, monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)  # "import requests" now fails
    boot(fake, script, **READY)
    assert script.engine is None
    assert worker_threads() == []
    assert not any(
        name in sys.modules for name in ("ailicia_core.client", "ailicia_core.engine", "ailicia_core.worker")
    )

    props = script.properties()
    info = python_env.observe()
    command = python_env.install_command(info)
    status = script.status()
    assert f"Python {info.version} from {html.escape(sys.prefix, quote=False)}" in status
    assert html.escape(command, quote=False) in status
    assert props.props[0].extra["info_type"] == fo.OBS_TEXT_INFO_ERROR
    assert props.find("api_key") is not None  # settings stay editable meanwhile
    # The Script Log holds the command as plain text, where it can be copied.
    assert command in fake.log_lines("script_log")[-1]
    assert script.click("ailicia_refresh_status") is True

    # Nothing is hooked while the engine cannot run.
    assert fake.frontend_callbacks == [] and fake.registered_hotkeys() == []
    assert fake.connection_count() == 0


def test_panel_builds_before_load_and_when_the_core_is_missing(fake, script, monkeypatch):
    props = script.properties()
    assert "not loaded" in script.status()
    monkeypatch.setattr(script.module, "Core", _broken_core)
    script.load()
    props = script.properties()
    assert "could not load its 'ailicia_core' folder" in script.status()
    assert [p.name for p in props.props] == [script.module.STATUS_PROPERTY, "ailicia_refresh_status"]


def _broken_core():
    raise ImportError("No module named 'ailicia_core.settings'")


def test_panel_says_which_python_runs_and_where_requests_came_from(fake, script):
    import requests

    boot(fake, script, **READY)
    note = script.properties().find("ailicia_python")
    assert note is not None and note.kind == "text"
    text = html.unescape(note.description)
    assert f"OBS runs Python {python_env.observe().version} from {sys.prefix}" in text
    assert f"requests {requests.__version__} from " in text
    assert any("requests " + requests.__version__ in line for line in fake.log_lines("script_log"))
