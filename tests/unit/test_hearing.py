"""Hearing with a fake clock: captions, confirmed presence, the rejoin rule, the character, the status words."""

from __future__ import annotations

import pytest

from ailicia_core import commands as cmd
from ailicia_core import intake
from ailicia_core.activity import ActivityFeed
from ailicia_core.engine import Engine
from ailicia_core.envelopes import Envelope
from ailicia_core.hearing import REJOIN_INTERVAL_S, CaptionPlan, Hearing
from ailicia_core.settings import DEFAULTS, parse_settings
from ailicia_core.status import Status, render_status

SETTINGS = {"api_key": "hearing-test-key", "channel": "mychannel", "api_base_url": "http://127.0.0.1:9"}


class World:
    def __init__(self, **settings) -> None:
        self.now = 1000.0
        self.live = True
        self.rejoins = 0
        self.activity = ActivityFeed()
        self.hearing = Hearing(
            parse_settings({**SETTINGS, **settings}),
            activity=self.activity,
            live=lambda: self.live,
            rejoin=self._rejoin,
            key_rejected=lambda: None,
            clock=lambda: self.now,
            wall_clock=lambda: 1_700_000_000.0 + self.now,
            rng=lambda: 0.5,
        )

    def _rejoin(self) -> None:
        self.rejoins += 1

    def hear(self, kind: str, **payload) -> None:
        self.hearing.hear(Envelope(id=f"e{self.now}", type=kind, payload=payload))

    def status(self) -> Status:
        return Status(configured=True, **self.hearing.status_fields())


def test_pinned_settings_keys_types_and_defaults():
    assert (DEFAULTS["eventsub_enabled"], DEFAULTS["caption_source"], DEFAULTS["caption_clear_s"]) == (True, "", 15)
    settings = parse_settings({"caption_source": "  Captions ", "caption_clear_s": -3, "eventsub_enabled": "off"})
    assert (settings.caption_source, settings.caption_clear_s, settings.eventsub_enabled) == ("Captions", 15, False)
    assert any(p.key == "caption_clear_s" for p in settings.problems)
    assert parse_settings({"caption_clear_s": "soon"}).caption_clear_s == 15


def test_her_message_is_posted_cleaned_cut_and_in_the_feed():
    world = World()
    world.hear("chat.ai_message", message="Hi\x07 there\nchat " + "x" * 400, username="ai_licia")
    seq, text = world.hearing.captions.latest()
    assert seq == 1 and text.startswith("Hi there chat ") and len(text) <= 200 and "\x07" not in text
    entry = world.activity.latest("ai_message")
    assert (entry.kind, entry.outcome, entry.detail) == ("ai_message", "said", "ai_licia")


def test_empty_message_is_ignored():
    world = World()
    world.hear("chat.ai_message", message="   ")
    assert world.hearing.captions.latest() == (0, "")


def test_join_then_expected_leave():
    world = World()
    world.hear("system.join")
    assert "ai_licia is in chat (confirmed " in render_status(world.status())
    world.hearing.leave_asked()
    world.now += 5
    world.hear("system.left")
    status = world.status()
    assert status.confirmed_in_chat is False and not status.left_unexpectedly and world.rejoins == 0
    assert "ai_licia left chat (" in render_status(status)
    assert [e.kind for e in world.activity.since(0)[0]] == ["presence", "presence"]


def test_unexpected_leave_while_live_rejoins_at_most_once_per_interval():
    world = World()
    world.hear("system.left")
    assert world.rejoins == 1 and world.status().rejoin_asked
    assert "someone may have removed her). Asked her back." in render_status(world.status())
    world.now += REJOIN_INTERVAL_S - 1
    world.hear("system.left")
    assert world.rejoins == 1 and world.status().left_unexpectedly and not world.status().rejoin_asked
    world.now += 2
    world.hear("system.left")
    assert world.rejoins == 2


@pytest.mark.parametrize("settings, live", [({"auto_join": False}, True), ({}, False), ({"enabled": False}, True)])
def test_no_rejoin_when_auto_join_is_off_or_not_live(settings, live):
    world = World(**settings)
    world.live = live
    world.hear("system.left")
    assert world.rejoins == 0


def test_a_leave_asked_long_ago_does_not_excuse_a_later_one():
    world = World()
    world.hearing.leave_asked()
    world.now += 3600
    world.hear("system.left")
    assert world.rejoins == 1


def test_character_updated_shows_and_is_fed_once():
    world = World()
    world.hear("character.updated", characterId="c2", displayName="Cozy Willow")
    world.hear("character.updated", characterId="c2", displayName="Cozy Willow")
    assert "Active character: Cozy Willow." in render_status(world.status())
    assert [e.content for e in world.activity.since(0)[0] if e.kind == "character"] == ["Cozy Willow"]


def test_caption_hints_quote_the_name_cleaned():
    world = World(caption_source="Cap\ttions")
    world.hearing.report_caption_target("missing")
    assert "Captions: there is no source named 'Cap tions'." in render_status(world.status())
    world.hearing.report_caption_target("not_text")
    assert "Captions: 'Cap tions' is not a Text source (GDI+ or FreeType 2)." in render_status(world.status())
    world.hearing.report_caption_target("ok")
    assert "Captions:" not in render_status(world.status())


@pytest.mark.parametrize(
    "state, words",
    [
        ("not_included", "Your ai_licia plan doesn't include live events (403). Without them, captions"),
        ("not_found", "ai_licia's live events were not found at the API address (404)"),
        ("key_rejected", "Live events are off: ai_licia rejected the API key (401)."),
        ("connecting", "Live events: connecting…"),
    ],
)
def test_listener_states_in_words(state, words):
    assert words in render_status(Status(configured=True, listener_state=state))


def test_retrying_says_when():
    text = render_status(Status(configured=True, listener_state="retrying", listener_retry_in_s=4.2))
    assert "Live events: connection lost; trying again in 4 s." in text


def test_caption_plan_shows_new_words_and_clears_once():
    plan = CaptionPlan()
    assert plan.tick((0, ""), 0.0, 15) is None
    assert plan.tick((1, "hi"), 1.0, 15) == "hi"
    assert plan.tick((1, "hi"), 15.9, 15) is None
    assert plan.tick((1, "hi"), 16.0, 15) == ""
    assert plan.tick((1, "hi"), 99.0, 15) is None
    assert plan.tick((2, "again"), 100.0, 0) == "again"
    assert plan.tick((2, "again"), 1e9, 0) is None  # 0 keeps it
    assert plan.tick((3, "same words"), 1e9, 0) == "same words"


def test_the_rejoin_command_asks_for_a_join_only_when_sending_is_possible():
    engine = Engine(SETTINGS, start=False)
    intake.rejoin(engine.worker.delivery, 5.0)
    request = engine.worker.delivery.presence.take(5.0)
    assert request.join and request.reason == "she left chat unexpectedly"
    unconfigured = Engine({}, start=False)
    intake.rejoin(unconfigured.worker.delivery, 5.0)
    assert unconfigured.worker.delivery.presence.take(5.0) is None
    assert cmd.Rejoin in intake.COMMANDS
