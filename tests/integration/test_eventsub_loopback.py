"""The engine's listener against the sandbox over real HTTP on loopback: events, drops, trickle, 403, idle, stop."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from ailicia_core import events as ev
from ailicia_core import listener as lst
from ailicia_core.engine import Engine
from ailicia_core.listener import CONNECTED, NOT_INCLUDED, RETRYING
from ailicia_core.sandbox import DEFAULT_API_KEY, DEFAULT_CHANNEL, Sandbox, SandboxConfig
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(quiet=True, join_delay_s=0.01, generation_window_s=0.0)) as sb:
        yield sb


def engine_for(sandbox, **settings):
    listener_options = {"reconnect_base_s": 0.2, **settings.pop("_listener", {})}
    values = {
        "api_key": DEFAULT_API_KEY,
        "channel": DEFAULT_CHANNEL,
        "api_base_url": sandbox.url,
        "generation_cooldown_s": 1,
        **settings,
    }
    return Engine(values, listener_options=listener_options)


@contextlib.contextmanager
def running(sandbox, flushed=True, **settings):
    """An engine on ``sandbox``; at the end it must stop within the unload budget (and flush, unless told)."""
    engine = engine_for(sandbox, **settings)
    try:
        yield engine
    finally:
        done = engine.shutdown(1.4)
        assert done or not flushed
        assert not engine.hearing.listener.alive


def listener_threads():
    return [t for t in threading.enumerate() if t.name == "ailicia-eventsub" and t.is_alive()]


def test_join_reaction_and_character_are_heard(sandbox):
    with running(sandbox) as engine:
        assert sandbox.wait_for_eventsub_streams(1)
        wait_until(lambda: engine.status().character == "Captain Vibes", what="character from GET /v1/characters")
        engine.join_now()
        wait_until(lambda: engine.status().confirmed_in_chat, what="system.join")
        assert "ai_licia is in chat (confirmed " in engine.status_text()
        engine.handle(ev.TriggerPressed(slot=1))
        seq, text = wait_until(lambda: engine.latest_caption()[0] and engine.latest_caption(), what="caption")
        assert text.startswith("(sandbox) ai_licia reacts: Something great")
        said = engine.activity.latest("ai_message")
        assert said.outcome == "said" and said.content == text
        sandbox.push_event("character.updated", {"characterId": "char_456", "displayName": "Cozy Willow"})
        wait_until(lambda: engine.status().character == "Cozy Willow", what="character.updated")
        assert engine.activity.latest("character").content == "Cozy Willow"
        # Every event type the listener needs, asked for in the stream's ``types`` query parameter.
        wanted_types = "chat.ai_message,system.join,system.left,character.updated,channel.go_live,channel.go_offline"
        assert sandbox.eventsub_connects[0]["types"] == sorted(wanted_types.split(","))


def test_survives_drops_and_resends_last_event_id(sandbox):
    with running(sandbox) as engine:
        assert sandbox.wait_for_eventsub_streams(1)
        sandbox.say("before the drop")
        wait_until(lambda: engine.latest_caption()[1] == "before the drop", what="first message")
        sandbox.set_faults(eventsub_drop_every_s=0.3)
        assert sandbox.wait_for_eventsub_streams(1, timeout=10, connects=3)
        sandbox.set_faults(eventsub_drop_every_s=0.0)
        assert sandbox.wait_for_eventsub_streams(1, timeout=10)
        last = sandbox.eventsub_connects[-1]["last_event_id"]
        assert last.startswith("evt_")
        sandbox.say("after the drop")
        wait_until(lambda: engine.latest_caption()[1] == "after the drop", timeout=10, what="message after drops")
        assert engine.hearing.listener.state.drops >= 2


def test_trickled_bytes_give_the_same_words(sandbox):
    sandbox.set_faults(eventsub_trickle=True)
    with running(sandbox) as engine:
        assert sandbox.wait_for_eventsub_streams(1)
        words = "Trickle: é 😀, every byte its own chunk"
        sandbox.say(words)
        wait_until(lambda: engine.latest_caption()[1] == words, timeout=15, what="trickled message")
        assert engine.latest_caption()[0] == 1


def test_403_gives_the_plan_status_and_no_reconnect(sandbox):
    sandbox.set_faults(eventsub_forbidden=True)
    with running(sandbox) as engine:
        wait_until(lambda: engine.status().listener_state == NOT_INCLUDED, what="403 state")
        assert "Your ai_licia plan doesn't include live events (403). Without them, captions" in engine.status_text()
        streams = [r for r in sandbox.requests if r.path == "/v1/eventsub/stream"]
        assert [r.status for r in streams] == [403]
        engine.wait_idle(1.0)
        assert len([r for r in sandbox.requests if r.path == "/v1/eventsub/stream"]) == 1


def test_401_pauses_sending(sandbox):
    with running(sandbox, api_key="not-the-sandbox-key", flushed=False) as engine:
        wait_until(lambda: engine.status().paused_reason, what="key pause")
        assert "rejected the API key" in engine.status().paused_reason
        assert engine.status().listener_state == "key_rejected"


def test_silent_server_is_dead_after_the_idle_timeout(sandbox):
    sandbox.set_faults(eventsub_no_pings=True)
    with running(sandbox, _listener={"idle_timeout_s": 0.5}) as engine:
        assert sandbox.wait_for_eventsub_streams(1, connects=2, timeout=10)
        assert engine.hearing.listener.state.dead >= 1


def test_after_the_headers_the_idle_timeout_replaces_the_headers_timeout(sandbox, monkeypatch):
    monkeypatch.setattr(lst, "HEADERS_TIMEOUT_S", 0.2)
    sandbox.set_faults(eventsub_no_pings=True)
    with running(sandbox, _listener={"idle_timeout_s": 1.5}) as engine:
        assert sandbox.wait_for_eventsub_streams(1, connects=2, timeout=15)
        first, second = sandbox.eventsub_connects[:2]
        # A lower bound only: the silent stream lived for the idle timeout, not the 0.2 s headers timeout.
        assert second["t"] - first["t"] >= 1.5
        assert engine.hearing.listener.state.dead >= 1


def test_a_hanging_api_holds_the_stream_and_shutdown_still_returns_in_budget(sandbox):
    sandbox.set_faults(delay_s=60.0)
    engine = engine_for(sandbox)
    assert sandbox.wait_for_in_flight(1, timeout=10)
    started = time.monotonic()
    engine.shutdown(1.4)
    assert time.monotonic() - started < 1.4 + 0.5
    assert not [r for r in sandbox.requests if r.path == "/v1/eventsub/stream"]  # held, never answered


def test_shutdown_mid_read_is_within_budget_and_leaves_nothing(sandbox):
    engine = engine_for(sandbox)
    assert sandbox.wait_for_eventsub_streams(1)
    wait_until(lambda: engine.status().listener_state == CONNECTED, what="connected")
    started = time.monotonic()
    engine.shutdown(1.4)
    assert time.monotonic() - started < 1.4 + 0.5  # shutdown returns by its deadline
    assert not engine.hearing.listener.alive
    assert sandbox.wait_for_eventsub_streams(0, timeout=5, exactly=True)  # the sandbox sees the stream close


def test_many_engines_one_after_another_leave_one_listener(sandbox):
    for _ in range(10):
        engine = engine_for(sandbox)
        assert sandbox.wait_for_eventsub_streams(1, connects=1)
        engine.shutdown(1.4)
    final = engine_for(sandbox)
    try:
        wait_until(lambda: final.status().listener_state == CONNECTED, what="connected")
        assert len(listener_threads()) == 1
        assert sandbox.wait_for_eventsub_streams(1, timeout=5, exactly=True)  # one open connection at the sandbox
    finally:
        final.shutdown(1.4)


def test_unexpected_leave_while_live_asks_her_back_once(sandbox):
    with running(sandbox, flushed=False) as engine:
        assert sandbox.wait_for_eventsub_streams(1)
        engine.handle(ev.StreamStarted(scene="Just Chatting"))
        wait_until(lambda: engine.status().confirmed_in_chat, what="join at stream start")
        joins = len([r for r in sandbox.requests if r.method == "POST" and r.path.startswith("/v1/streams/")])
        sandbox.remove_from_chat()
        wait_until(lambda: engine.status().rejoin_asked, what="the rejoin asked")
        assert "without being asked (someone may have removed her). Asked her back." in engine.status_text()
        wait_until(lambda: engine.status().confirmed_in_chat, what="back in chat")
        assert len([r for r in sandbox.requests if r.method == "POST" and r.path.startswith("/v1/streams/")]) == (
            joins + 1
        )
        sandbox.remove_from_chat()
        wait_until(lambda: engine.status().confirmed_in_chat is False, what="second unexpected leave")
        status = engine.status()
        assert status.left_unexpectedly and status.rejoin_asked is False  # at most once per REJOIN_INTERVAL_S


def test_retry_state_when_the_server_is_gone():
    sandbox = Sandbox(SandboxConfig(quiet=True)).start()
    url = sandbox.url
    sandbox.stop()
    engine = Engine(
        {"api_key": DEFAULT_API_KEY, "channel": DEFAULT_CHANNEL, "api_base_url": url},
        listener_options={"reconnect_base_s": 5.0},
    )
    try:
        wait_until(lambda: engine.status().listener_state == RETRYING, what="retrying")
        assert "Live events: connection lost; trying again in" in engine.status_text()
    finally:
        assert engine.shutdown(1.4)
