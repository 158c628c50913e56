"""The sandbox's characters over real HTTP: PUT .../active answers 204, 403 or 404, and GET reflects the active one."""

from __future__ import annotations

import pytest
import requests

from ailicia_core.sandbox import FOREIGN_CHARACTER_ID, Sandbox, SandboxConfig

KEY = "sandbox-key"


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True)).start()
    yield box
    box.stop()


def call(sandbox, method, path, key=KEY, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, sandbox.url + path, headers=headers, timeout=5, **kwargs)


def active_ids(sandbox):
    return [c["id"] for c in call(sandbox, "GET", "/v1/characters").json() if c["isActive"]]


def test_two_characters_and_the_active_one_follows_the_last_put(sandbox):
    assert [c["name"] for c in call(sandbox, "GET", "/v1/characters").json()] == ["Captain Vibes", "Cozy Willow"]
    assert active_ids(sandbox) == ["char_123"]
    answer = call(sandbox, "PUT", "/v1/characters/char_456/active")
    assert (answer.status_code, answer.content) == (204, b"")
    assert active_ids(sandbox) == ["char_456"] and sandbox.active_character == "char_456"


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("PUT", f"/v1/characters/{FOREIGN_CHARACTER_ID}/active", KEY, 403),
        ("PUT", "/v1/characters/char_nope/active", KEY, 404),
        ("PUT", "/v1/characters/char_456/active", "wrong-key", 401),
        ("PUT", "/v1/characters/char_456/active", None, 401),
        ("POST", "/v1/characters/char_456/active", KEY, 405),
    ],
)
def test_refusals_leave_the_active_character_alone(sandbox, method, path, key, status):
    assert call(sandbox, method, path, key).status_code == status
    assert active_ids(sandbox) == ["char_123"]


def test_generation_features_are_recorded(sandbox):
    body = {
        "eventType": "GAME_EVENT",
        "data": {"channelName": "mychannel", "content": "Roast me", "features": {"tts": True}},
    }
    assert call(sandbox, "POST", "/v1/events/generations", json=body).status_code == 200
    (recorded,) = [r for r in sandbox.requests if r.path == "/v1/events/generations"]
    assert recorded.body["data"]["features"] == {"tts": True}
