"""In real OBS: watched text sources, a from-file text source, a character per scene, a named trigger.

One OBS for the module, live from the first test on. The FreeType 2 source
"Title" (in the nested Overlay scene) is watched as "Race HUD": first its typed
text changes, then it is switched to read a file, which the test rewrites.
"""

from __future__ import annotations

import pytest
from e2e_support import Scenario, Traffic, context_with, is_join, log_problems, open_scenario
from obs_harness import SCENE_GAMEPLAY, SCENE_JUST_CHATTING

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

WATCHED = "Title"  # the harness collection's FreeType 2 text source
LABEL = "Race HUD"
COZY_WILLOW = "char_456"  # the sandbox's inactive character
PUT_COZY = f"/v1/characters/{COZY_WILLOW}/active"


def is_character_put(r) -> bool:
    return r.method == "PUT" and r.path.startswith("/v1/characters/")


@pytest.fixture(scope="module")
def watching(real_obs: None, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    settings = {
        "watched_sources": f"{WATCHED} = {LABEL}",
        "watch_debounce_ms": 300,
        "scene_characters": f"{SCENE_GAMEPLAY} = cozy willow",
        "trigger_2_name": "Roast me",
    }
    with open_scenario(tmp_path_factory.mktemp("obs-watch"), settings=settings) as scenario:
        traffic = Traffic(scenario.sandbox)
        scenario.obs.start_streaming()
        traffic.wait(is_join, what="a join after stream start")
        yield scenario
        problems = log_problems(scenario.obs.log_text(), scenario.secrets)
        assert not problems, "OBS log:\n" + "\n".join(problems)


def test_changing_a_freetype_text_gives_context_naming_the_new_text(watching: Scenario) -> None:
    traffic = Traffic(watching.sandbox)
    watching.obs.update_source(WATCHED, text="Lap 5/12, tire wear 45%")
    traffic.wait(context_with(f"{LABEL}: Lap 5/12, tire wear 45%"), what="context naming the new text")


def test_rewriting_the_file_behind_a_from_file_text_source_gives_context(watching: Scenario, tmp_path) -> None:
    path = tmp_path / "hud.txt"
    path.write_text("Lap 6/12\n", encoding="utf-8")
    traffic = Traffic(watching.sandbox)
    watching.obs.update_source(WATCHED, from_file=True, text_file=str(path))
    traffic.wait(context_with(f"{LABEL}: Lap 6/12"), what="context with the file's text")
    path.write_text("Lap 7/12, pit stop next lap\n", encoding="utf-8")
    traffic.wait(context_with(f"{LABEL}: Lap 7/12, pit stop next lap"), what="context after the file was rewritten")


def test_switching_to_a_mapped_scene_puts_the_right_character_exactly_once(watching: Scenario) -> None:
    obs, traffic = watching.obs, Traffic(watching.sandbox)
    obs.switch_scene(SCENE_GAMEPLAY)
    (put,) = traffic.wait(is_character_put, what="PUT /v1/characters/{id}/active")
    assert (put.path, put.status) == (PUT_COZY, 204)
    assert watching.sandbox.active_character == COZY_WILLOW
    obs.switch_scene(SCENE_JUST_CHATTING)
    traffic.wait(context_with("switched", SCENE_JUST_CHATTING), what="context for the switch back")
    obs.switch_scene(SCENE_GAMEPLAY)
    traffic.wait(context_with("switched", SCENE_GAMEPLAY), what="context for the second switch to Gameplay")
    assert traffic.stays_below(is_character_put, 2, seconds=1.5), traffic.describe()


def test_a_named_trigger_appears_under_its_name_in_the_hotkey_list(watching: Scenario) -> None:
    hotkeys = {h["name"]: h["description"] for h in watching.obs.hotkeys()}
    assert hotkeys["ailicia_trigger_2"] == "ai_licia: Roast me"
    assert hotkeys["ailicia_trigger_1"].startswith("ai_licia: trigger 1 — ")
