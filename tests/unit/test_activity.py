"""The activity feed: bounded, ordered, cleaned, and readable while others write."""

from __future__ import annotations

import threading

from ailicia_core.activity import FEED_CAPACITY, ActivityFeed
from ailicia_core.logsafe import register_secret


def test_entries_come_back_oldest_first_after_the_cursor():
    feed = ActivityFeed()
    feed.add(1.0, "context", "Scene A", "sent")
    _, cursor = feed.since(0)
    feed.add(2.0, "reaction", "Hype", "waiting")
    entries, new_cursor = feed.since(cursor)
    assert [e.content for e in entries] == ["Hype"]
    assert new_cursor == cursor + 1


def test_the_feed_is_bounded_and_forgets_the_oldest():
    feed = ActivityFeed()
    for n in range(FEED_CAPACITY + 50):
        feed.add(float(n), "context", f"line {n}", "sent")
    entries, _ = feed.since(0)
    assert len(entries) == FEED_CAPACITY
    assert entries[0].content == "line 50"


def test_text_is_cleaned_cut_and_redacted():
    register_secret("feed-secret-key-123456")
    feed = ActivityFeed()
    entry = feed.add(0.0, "weird-kind", "line1\nfeed-secret-key-123456 " + "x" * 1000, "odd")
    assert "\n" not in entry.content
    assert "feed-secret-key-123456" not in entry.content.lower()
    assert len(entry.content) <= 300
    assert (entry.kind, entry.outcome) == ("notice", "info")


def test_a_waiting_reader_wakes_when_an_entry_arrives():
    feed = ActivityFeed()
    got = []
    reader = threading.Thread(target=lambda: got.append(feed.wait_since(0, timeout=10.0)))
    reader.start()
    feed.add(0.0, "ai_message", "hi chat", "said")
    reader.join(10.0)
    assert got and [e.content for e in got[0][0]] == ["hi chat"]
