"""Watched sources and characters on loopback HTTP: the real engine (worker and watcher threads) against the sandbox."""

from __future__ import annotations

import pytest

from ailicia_core import events as ev
from ailicia_core.engine import Engine
from ailicia_core.sandbox import Sandbox, SandboxConfig

KEY = "sandbox-key"
WAIT_S = 10.0


def settings_for(url: str, **overrides):
    settings = {
        "api_key": KEY,
        "channel": "mychannel",
        "api_base_url": url,
        "scene_debounce_ms": 0,
        "generation_cooldown_s": 1,
        "only_when_live": False,
        "watch_debounce_ms": 0,
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True, generation_window_s=1.0)).start()
    yield box
    box.stop()


@pytest.fixture
def engine_for(sandbox):
    started = []

    def make(**overrides) -> Engine:
        engine = Engine(settings_for(sandbox.url, **overrides))
        started.append(engine)
        return engine

    yield make
    for engine in started:
        assert engine.shutdown(timeout=2.0)


def contexts(sandbox):
    return [r.body["data"]["content"] for r in sandbox.requests if r.path == "/v1/events"]


def test_a_rewritten_now_playing_file_reaches_ai_licia_each_time(sandbox, engine_for, tmp_path):
    song = tmp_path / "tuna.txt"
    song.write_text("Lofi Chill Mix Vol 2", encoding="utf-8")
    engine = engine_for(watched_sources="Now Playing")
    engine.handle(ev.WatchedFileNamed("Now Playing", str(song)))
    assert sandbox.wait_for(lambda reqs: "Now playing: Lofi Chill Mix Vol 2" in contexts(sandbox), WAIT_S)
    song.write_text("Rainy Day - Chillhop Essentials", encoding="utf-8")
    assert sandbox.wait_for(lambda reqs: "Now playing: Rainy Day - Chillhop Essentials" in contexts(sandbox), WAIT_S)
    assert contexts(sandbox) == ["Now playing: Lofi Chill Mix Vol 2", "Now playing: Rainy Day - Chillhop Essentials"]


def test_two_scenes_switch_between_two_characters_once_each(sandbox, engine_for, caplog):
    caplog.set_level("INFO", logger="ailicia")
    # Live events off: their listener reads the character list at its own connect.
    engine = engine_for(
        scene_characters="Just Chatting = Cozy Willow\nGameplay = CAPTAIN VIBES", eventsub_enabled=False
    )
    for scene in ("Just Chatting", "Gameplay", "Just Chatting"):
        engine.handle(ev.SceneSwitched(scene))
        assert engine.wait_idle(WAIT_S)
    puts = [r.path for r in sandbox.requests if r.method == "PUT"]
    assert puts == [
        "/v1/characters/char_456/active",
        "/v1/characters/char_123/active",
        "/v1/characters/char_456/active",
    ]
    assert all(r.status == 204 for r in sandbox.requests if r.method == "PUT")
    assert sandbox.active_character == "char_456"
    assert len([r for r in sandbox.requests if r.method == "GET"]) == 1  # the cached list served the rest
    assert "ai_licia is now the character 'Cozy Willow' for the scene 'Just Chatting'." in caplog.messages


def test_a_speaking_trigger_sends_the_tts_feature(sandbox, engine_for):
    engine = engine_for(trigger_1_tts=True)
    engine.handle(ev.TriggerPressed(1))
    assert engine.wait_idle(WAIT_S)
    (generation,) = [r for r in sandbox.requests if r.path == "/v1/events/generations"]
    assert generation.body["data"]["features"] == {"tts": True}


def test_test_connection_lists_the_characters_to_copy(sandbox, engine_for):
    engine = engine_for()
    engine.test_connection()
    assert engine.wait_idle(WAIT_S)
    assert "Characters: Captain Vibes (active), Cozy Willow." in engine.status_text()
