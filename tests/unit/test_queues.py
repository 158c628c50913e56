"""The inbox (OBS threads → worker) and the context outbox, on their own: order, bounds, merging."""

from __future__ import annotations

import threading

from ailicia_core.compose import SendContext
from ailicia_core.inbox import Inbox
from ailicia_core.outbox import ContextOutbox
from ailicia_core.settings import parse_settings


def ctx(text: str, kind: str = "source", ttl=None) -> SendContext:
    return SendContext(text, "GAME_EVENT", ttl, kind)


def test_the_inbox_hands_items_over_in_arrival_order_across_both_queues():
    inbox = Inbox()
    inbox.put("a", 1.0, automatic=True)
    inbox.put("b", 2.0)
    inbox.put("c", 3.0, automatic=True)
    assert [i.payload for i in inbox.take()] == ["a", "b", "c"]
    assert not inbox


def test_automatic_overflow_drops_the_oldest_and_counts_it():
    inbox = Inbox(capacity=3)
    for n in range(5):
        inbox.put(n, float(n), automatic=True)
    inbox.put("vital", 9.0)
    assert [i.payload for i in inbox.take()] == [2, 3, 4, "vital"]
    assert inbox.dropped == 2


def test_vital_items_merge_with_a_waiting_one_of_the_same_key_and_count():
    inbox = Inbox()
    inbox.put("first settings", 1.0, merge_key="settings")
    inbox.put("press", 2.0, merge_key="press")
    inbox.put("newest settings", 3.0, merge_key="settings")
    inbox.put("press", 4.0, merge_key="press")
    items = list(inbox.take())
    assert [(i.payload, i.count) for i in items] == [("newest settings", 2), ("press", 2)]
    inbox.put("press", 5.0, merge_key="press")  # taken items no longer merge
    assert [i.count for i in inbox.take()] == [1]


def test_merging_from_many_threads_loses_no_press():
    inbox = Inbox()

    def press():
        for _ in range(5000):
            inbox.put("p", 0.0, merge_key="p")

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = list(inbox.take())
    assert len(items) == 1 and items[0].count == 20000


def test_the_outbox_drops_only_automatic_context_on_overflow():
    box = ContextOutbox(capacity=2)
    box.add(ctx("Stream started", "stream"), 0.0)
    box.add(ctx("a"), 1.0)
    box.add(ctx("Typed", "manual"), 2.0)
    box.add(ctx("b"), 3.0)
    dropped = box.add(ctx("c"), 4.0)
    assert dropped is not None and dropped.action.content == "a"
    assert box.dropped == 1
    contents = []
    while box.head() is not None:
        contents.append(box.head().action.content)
        box.remove(box.head())
    assert contents == ["Stream started", "Typed", "b", "c"]


def test_the_outbox_debounces_scenes_and_expires_context_by_its_ttl():
    box = ContextOutbox()
    box.add(ctx("scene A", "scene"), 0.0, debounce_s=1.5)
    box.add(ctx("scene B", "scene"), 1.0, debounce_s=1.5)  # within the debounce: A is superseded
    assert box.due(1.0) is None and box.due_at() == 2.5
    assert box.due(2.5).action.content == "scene B"
    box.add(ctx("short", ttl=2), 3.0)
    box.remove(box.head())
    assert [q.action.content for q in box.expire(5.0)] == ["short"] and len(box) == 0


def test_drop_automatic_keeps_stream_and_manual_context():
    box = ContextOutbox()
    for kind in ("scene", "stream", "source", "manual", "audio"):
        box.add(ctx(kind, kind), 0.0)
    assert box.drop_automatic() == 3
    assert len(box) == 2


def test_a_huge_event_type_is_cut_in_the_settings_and_said_so():
    settings = parse_settings({"event_type": "E" * 100_000})
    assert len(settings.event_type) <= 64
    assert any(p.key == "event_type" for p in settings.problems)
