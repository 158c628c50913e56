"""The listener's bounds on a fake opener and clock: safe ids, identity encoding, rates, backoff resets, words."""

from __future__ import annotations

import json

import pytest

from ailicia_core import limits as lim
from ailicia_core import listener as lst
from ailicia_core.connect import granted_text, parse_grant
from ailicia_core.eventsub_wire import Rate, SkipTally
from ailicia_core.settings import parse_settings
from ailicia_core.sse import safe_event_id
from ailicia_core.status import skipped_events_words
from tests.unit.test_listener import SETTINGS, FakeOpener, FakeResponse, frame, make


def with_id(event_id: str, body_id: str = "evt_x") -> bytes:
    return f"id: {event_id}\n".encode() + frame(body_id).split(b"\n", 1)[1]


@pytest.mark.parametrize(
    "value, kept",
    [
        ("evt_42", "evt_42"),
        (" 42", ""),  # "id:  42": the rules remove one space, the second stays
        ("42 ", ""),
        ("\u65e5\u672c", ""),
        ("caf\u00e9", ""),  # Latin-1 but not ASCII
        ("a\x7fb", ""),
        ("a\tb", ""),
        ("x" * lim.EVENTSUB_MAX_ID_CHARS, "x" * lim.EVENTSUB_MAX_ID_CHARS),
        ("x" * (lim.EVENTSUB_MAX_ID_CHARS + 1), ""),
        ("", ""),
    ],
)
def test_only_an_id_safe_to_send_back_is_kept(value, kept):
    assert safe_event_id(value) == kept


def test_an_unsafe_id_is_dropped_and_the_next_safe_one_goes_back():
    opener = FakeOpener(
        FakeResponse(chunks=[with_id(" 42", "evt_1")]),
        FakeResponse(chunks=[with_id("evt_2", "evt_2")]),
        FakeResponse(chunks=[]),
    )
    listener, heard, _, _ = make(opener)
    listener.run_once()
    assert listener.last_event_id == ""
    listener.run_once()
    listener.run_once()
    assert "Last-Event-ID" not in opener.calls[1]["headers"]
    assert opener.calls[2]["headers"]["Last-Event-ID"] == "evt_2"
    assert [e.id for e in heard] == ["evt_1", "evt_2"]


def test_new_settings_forget_the_event_id():
    opener = FakeOpener(FakeResponse(chunks=[frame("evt_1")]), FakeResponse(chunks=[]))
    listener, _, _, _ = make(opener)
    listener.run_once()
    assert listener.last_event_id == "evt_1"
    listener.reconfigure(parse_settings({**SETTINGS, "channel": "otherchannel"}))
    listener.run_once()
    assert "Last-Event-ID" not in opener.calls[1]["headers"]


def test_the_stream_is_asked_uncompressed_and_a_compressed_one_is_refused():
    compressed = FakeResponse(chunks=[frame("evt_1")])
    compressed.headers["Content-Encoding"] = "gzip"
    opener = FakeOpener(compressed)
    listener, heard, _, _ = make(opener)
    assert listener.run_once() == pytest.approx(2.0)
    assert opener.calls[0]["headers"]["Accept-Encoding"] == "identity"
    assert heard == [] and listener.state.state == lst.RETRYING


def test_system_ping_and_comments_are_signs_of_life_never_handed_over():
    ping = frame("p1", "system.ping", pingId="p1")
    opener = FakeOpener(FakeResponse(chunks=[b": keep-alive\n\n", ping, frame("evt_1")]))
    listener, heard, _, _ = make(opener)
    listener.run_once()
    assert [e.id for e in heard] == ["evt_1"] and listener.state.unreadable == 0


def test_another_channels_envelope_is_ignored_in_any_letter_case_of_ours():
    def on(channel: str, event_id: str) -> bytes:
        body = {"id": event_id, "type": "chat.ai_message", "channel": {"name": channel}, "payload": {"message": "m"}}
        return f"event: chat.ai_message\ndata: {json.dumps(body)}\n\n".encode()

    opener = FakeOpener(FakeResponse(chunks=[on("otherchannel", "o1"), on("MyChannel", "m1"), frame("n1")]))
    listener, heard, _, _ = make(opener)
    listener.run_once()
    assert [e.id for e in heard] == ["m1", "n1"]  # ours in another case, and one without a channel
    assert listener.state.other_channel == 1


def test_a_connection_that_lived_long_enough_resets_the_backoff():
    class Lived(FakeResponse):
        def iter_content(self, chunk_size=None):
            clock.now += lim.EVENTSUB_STABLE_AFTER_S
            yield b": still here\n\n"

    opener = FakeOpener(FakeResponse(), FakeResponse(), Lived())
    listener, _, _, clock = make(opener)
    assert [listener.run_once() for _ in range(2)] == [pytest.approx(2.0), pytest.approx(4.0)]
    assert listener.run_once() == pytest.approx(2.0)


def test_events_past_the_rate_are_skipped_counted_and_summarized(caplog):
    caplog.set_level("INFO", logger="ailicia")
    opener = FakeOpener(FakeResponse(chunks=[b"".join(frame(f"e{i}") for i in range(50))]))
    listener, heard, _, _ = make(opener)
    listener.run_once()
    assert len(heard) == lim.EVENTSUB_EVENT_BURST and listener.state.skipped == 50 - lim.EVENTSUB_EVENT_BURST
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert lines == [skipped_events_words(30, 0.0)]


def test_the_rate_refills_with_time_and_says_how_long_a_debt_lasts():
    clock = [0.0]
    rate = Rate(2.0, 3, lambda: clock[0])
    assert [rate.take() for _ in range(4)] == [True, True, True, False]
    clock[0] += 1.0
    assert [rate.take() for _ in range(3)] == [True, True, False]
    debt = Rate(100.0, 100, lambda: clock[0])
    assert debt.spend(50) == 0.0 and debt.spend(150) == pytest.approx(1.0)


def test_the_skip_tally_reports_once_a_period_or_when_forced():
    tally = SkipTally()
    assert tally.due(0.0, 60.0) is None
    for t in (1.0, 2.0, 3.0):
        tally.add(t)
    assert tally.due(30.0, 60.0) is None
    assert tally.due(61.0, 60.0) == (3, 60.0)
    assert tally.due(62.0, 60.0) is None
    tally.add(70.0)
    assert tally.due(71.0, 60.0, force=True) == (1, 1.0)


@pytest.mark.parametrize(
    "count, seconds, words",
    [
        (312, 60.0, "Live events: 312 events skipped in the last minute"),
        (1, 12.4, "Live events: 1 event skipped in the last 12 s"),
        (5, 0.0, "Live events: 5 events skipped in the last 1 s"),
    ],
)
def test_the_skipped_words(count, seconds, words):
    assert skipped_events_words(count, seconds).startswith(words)


def test_granted_text_loses_control_format_and_bidi_characters():
    assert granted_text("my\u202echannel\n\u200fLast\u2066 success\x1b", 64) == "mychannel Last success"
    assert granted_text(None, 64) == "" and granted_text(42, 64) == ""
    grant = parse_grant({"apiKey": "sk-abcdef0123456789", "channelName": "\u200fMyChannel\u202c\r\n"})
    assert grant.channel == "mychannel"
    assert parse_grant({"apiKey": "sk-abcdef0123456789", "channelName": "\u200f\u202e"}) is None
