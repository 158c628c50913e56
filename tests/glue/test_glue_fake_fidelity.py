"""The fake obspython against the real one, where OBS Studio is installed (Debian's obs-studio 29).

The glue is only as right as the fake it is tested with. These tests read the real
SWIG module shipped with OBS (in a separate system Python, as OBS embeds it) and
check the fake's constants and the names the glue calls.
"""

import ast
import json
import subprocess
from pathlib import Path

import fake_obspython
import pytest

REAL_DIR = Path("/usr/lib/x86_64-linux-gnu/obs-scripting")
SYSTEM_PYTHON = Path("/usr/bin/python3")
GLUE = Path(__file__).resolve().parents[2] / "ailicia_obs.py"

#: Functions obs-scripting adds to the module in C (obs-scripting-python.c add_hook_functions,
#: obs-scripting-python-frontend.c add_python_frontend_funcs): not in the SWIG-generated obspython.py.
ADDED_IN_C = {
    "script_log",
    "script_log_no_endl",
    "timer_remove",
    "timer_add",
    "calldata_source",
    "calldata_sceneitem",
    "source_list_release",
    "sceneitem_list_release",
    "obs_enum_sources",
    "obs_scene_enum_items",
    "obs_remove_tick_callback",
    "obs_add_tick_callback",
    "signal_handler_disconnect",
    "signal_handler_connect",
    "signal_handler_disconnect_global",
    "signal_handler_connect_global",
    "obs_hotkey_unregister",
    "obs_hotkey_register_frontend",
    "obs_properties_add_button",
    "obs_property_set_modified_callback",
    "remove_current_callback",
    "obs_frontend_get_scene_names",
    "obs_frontend_get_scenes",
    "obs_frontend_get_current_scene",
    "obs_frontend_set_current_scene",
    "obs_frontend_get_transitions",
    "obs_frontend_get_current_transition",
    "obs_frontend_set_current_transition",
    "obs_frontend_get_scene_collections",
    "obs_frontend_get_current_scene_collection",
    "obs_frontend_set_current_scene_collection",
    "obs_frontend_get_profiles",
    "obs_frontend_get_current_profile",
    "obs_frontend_set_current_profile",
    "obs_frontend_remove_save_callback",
    "obs_frontend_add_save_callback",
    "obs_frontend_remove_event_callback",
    "obs_frontend_add_event_callback",
}

pytestmark = pytest.mark.skipif(
    not (REAL_DIR / "obspython.py").exists() or not SYSTEM_PYTHON.exists(),
    reason="OBS Studio's obspython is not installed here",
)


PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import obspython as o
names = {n: (getattr(o, n) if n.isupper() and isinstance(getattr(o, n), int) else None) for n in dir(o)}
print(json.dumps(names))
"""


def real_module_names():
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", PROBE, str(REAL_DIR)], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.skip(f"the real obspython does not import outside OBS here: {result.stderr[-300:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fake_constants_have_the_real_values():
    real = real_module_names()
    fake = fake_obspython.FakeObs().module
    constants = {n: getattr(fake, n) for n in dir(fake) if n.isupper()}
    assert {n: real.get(n, "missing") for n in constants} == constants


def test_every_obspython_name_the_glue_uses_exists_in_obs():
    real = set(real_module_names()) | ADDED_IN_C
    used = {
        node.attr
        for node in ast.walk(ast.parse(GLUE.read_text()))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "obs"
    }
    assert sorted(used - real) == []
    assert "obs_frontend_set_current_scene" not in used


def test_names_the_glue_looks_up_by_string_exist_in_obs_29():
    """getattr(obs, "...") guards names older OBS versions may lack; OBS 29 must have them all."""
    real = set(real_module_names()) | ADDED_IN_C
    tree = ast.parse(GLUE.read_text())
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    looked_up = {s for s in strings if s.startswith("obs_") and s.replace("_", "").isalnum()}
    handlers = next(
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "_frontend_handlers"
    )
    events = {
        key.value
        for node in ast.walk(handlers)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant)
    }
    assert looked_up and events
    assert sorted(looked_up - real) == []
    assert sorted(f"OBS_FRONTEND_EVENT_{e}" for e in events if f"OBS_FRONTEND_EVENT_{e}" not in real) == []
