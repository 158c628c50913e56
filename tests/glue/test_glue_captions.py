"""Captions in the glue: one OBS timer writes ai_licia's words into the caption Text source, and clears them."""

from __future__ import annotations

from conftest import KEY, READY, boot, build_studio
from fake_obspython import EVENT

from ailicia_core.envelopes import Envelope


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def heard(script, words: str) -> None:
    """What the listener thread does with a chat.ai_message (no network in glue tests)."""
    script.engine.hearing.hear(Envelope(id=f"e-{words}", type="chat.ai_message", payload={"message": words}))


def test_her_words_land_in_the_text_source_and_clear_after_caption_clear_s(fake, script):
    studio = boot(fake, script, **READY, caption_source="BRB Text", caption_clear_s=15)
    clock = script.glue.clock = FakeClock()
    assert fake.timers == [(script.glue.tick.callback, 50)]  # captions run at the script timer's every tick
    heard(script, "Hello chat,\nwelcome back!")
    assert not getattr(studio.brb_text.source, "updates", [])  # nothing from the listener's side: only the timer
    fake.tick_timers()
    assert studio.brb_text.source.updates == [{"text": "Hello chat, welcome back!"}]
    clock.now += 14.9
    fake.tick_timers()
    assert len(studio.brb_text.source.updates) == 1
    clock.now += 0.2
    fake.tick_timers()
    assert studio.brb_text.source.updates[-1] == {"text": ""}
    clock.now += 100
    fake.tick_timers()
    assert len(studio.brb_text.source.updates) == 2  # cleared once


def test_zero_keeps_the_caption_and_long_words_are_cut(fake, script):
    studio = boot(fake, script, **READY, caption_source="BRB Text", caption_clear_s=0)
    clock = script.glue.clock = FakeClock()
    heard(script, "word " * 200)
    fake.tick_timers()
    clock.now += 10_000
    fake.tick_timers()
    (only,) = studio.brb_text.source.updates
    assert len(only["text"]) <= 200 and only["text"].endswith("…")


def test_one_script_log_line_per_message_cleaned_and_redacted(fake, script):
    boot(fake, script, **READY, caption_source="BRB Text")
    heard(script, f"my key is {KEY}\x07 oops")
    fake.tick_timers()
    said = [line for line in fake.log_lines() if "ai_licia said:" in line]
    assert len(said) == 1
    assert KEY not in said[0] and "***" in said[0] and "\x07" not in said[0]


def test_missing_source_gives_a_status_hint(fake, script):
    boot(fake, script, **READY, caption_source="Nope")
    script.properties()
    assert "Captions: there is no source named 'Nope'" in script.status()


def test_a_source_that_is_not_text_gives_a_status_hint_and_is_not_touched(fake, script):
    studio = boot(fake, script, **READY, caption_source="Camera")
    heard(script, "hi")
    fake.tick_timers()
    script.properties()
    assert "Captions: 'Camera' is not a Text source (GDI+ or FreeType 2)." in script.status()
    assert not getattr(studio.camera.source, "updates", [])


def test_no_caption_source_no_hint_no_update(fake, script):
    studio = boot(fake, script, **READY)
    heard(script, "hi")
    fake.tick_timers()
    script.properties()
    assert "Captions:" not in script.status()
    assert not getattr(studio.brb_text.source, "updates", [])


def test_unload_removes_the_timer_and_reloads_leave_one(fake, script):
    studio = boot(fake, script, **READY, caption_source="BRB Text")
    for _ in range(50):
        script.reload()
    assert fake.timers == [(script.glue.tick.callback, 50)]  # one timer (captions' cadence), not 51
    fake.tick_timers()
    heard(script, "Still here")
    fake.tick_timers()
    assert studio.brb_text.source.updates == [{"text": "Still here"}]  # written once, not once per reload
    script.unload()
    assert fake.timers == []


def test_no_false_hint_at_obs_start_up_before_sources_exist(fake, script):
    script.load(**READY, caption_source="BRB Text")  # OBS start-up: no scene, no source yet
    script.properties()
    assert "Captions:" not in script.status()
    fake.switch_scene(build_studio(fake).main)
    fake.fire(EVENT.FINISHED_LOADING)
    script.properties()
    assert "Captions:" not in script.status()
    assert not [line for line in fake.log_lines() if "Captions:" in line]
