"""The SSE decoder: the WHATWG examples, the traps, bounds, and chunking invariance (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ailicia_core.sse import BOM, SseDecoder, SseEvent, decode_all


def feed_in(pieces, **limits):
    decoder = SseDecoder(**limits)
    events = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events, decoder


# --- the examples of the WHATWG specification ("Server-sent events", 9.2.4/9.2.6) ------------------


def test_whatwg_stock_example_two_events_with_ids():
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode_all(stream) == [SseEvent("message", "YHOO\n+2\n10")]


def test_whatwg_four_blocks_comment_id_and_trailing_data_discarded():
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    events, decoder = feed_in([stream])
    assert events == [SseEvent("message", "first event", "1"), SseEvent("message", "second event", "")]
    assert decoder.last_event_id == ""  # "id" with no value resets it


def test_whatwg_empty_data_lines():
    assert decode_all(b"data\n\ndata\ndata\n\ndata:\n") == [SseEvent("message", ""), SseEvent("message", "\n")]


def test_whatwg_one_space_removed_only():
    assert decode_all(b"data:test\n\ndata: test\n\n") == [SseEvent("message", "test")] * 2


def test_named_event_and_type_reset_after_dispatch():
    assert decode_all(b"event: add\ndata: 73857293\n\ndata: x\n\n") == [
        SseEvent("add", "73857293"),
        SseEvent("message", "x"),
    ]


# --- the traps -------------------------------------------------------------------------------------


def test_cr_lf_and_crlf_line_ends():
    assert decode_all(b"data: a\r\rdata: b\n\ndata: c\r\n\r\n") == [
        SseEvent("message", "a"),
        SseEvent("message", "b"),
        SseEvent("message", "c"),
    ]


def test_crlf_split_across_chunks_is_one_line_end():
    events, _ = feed_in([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert events == [SseEvent("message", "a\nb")]


def test_cr_at_end_of_chunk_ends_the_line_at_once():
    decoder = SseDecoder()
    assert decoder.feed(b"data: a\n\r") == [SseEvent("message", "a")]


def test_bom_stripped_once_even_split():
    events, _ = feed_in([BOM[:1], BOM[1:2], BOM[2:] + b"data: a\n\n" + BOM + b"data: b\n\n"])
    assert events == [SseEvent("message", "a")]  # the second BOM makes an unknown field name, ignored


def test_id_persists_and_nul_id_ignored():
    events, decoder = feed_in([b"id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\n"])
    assert [e.id for e in events] == ["7", "7", "7"]
    assert decoder.last_event_id == "7"


def test_seeded_last_event_id():
    assert SseDecoder(last_event_id="evt_9").feed(b"data: a\n\n")[0].id == "evt_9"


def test_retry_only_all_ascii_digits():
    _, decoder = feed_in([b"retry: 1500\n\nretry: 12a\n\nretry: \xd9\xa3\n\nretry:\n\n"])
    assert decoder.retry_ms == 1500


def test_u2028_is_not_a_line_end_and_bad_utf8_replaced():
    assert decode_all("data: a\u2028b\n\n".encode() + b"data: \xff\n\n") == [
        SseEvent("message", "a\u2028b"),
        SseEvent("message", "\ufffd"),
    ]


def test_half_received_event_is_discarded():
    events, _ = feed_in([b"data: whole\n\n", b"data: half\n", b"data: never ends"])
    assert events == [SseEvent("message", "whole")]


def test_no_colon_line_is_field_with_empty_value():
    assert decode_all(b"data\nevent\n\n") == [SseEvent("message", "")]


# --- malformed and huge frames ----------------------------------------------------------------------


def test_huge_line_skipped_and_counted_memory_bounded():
    decoder = SseDecoder(max_line_bytes=100)
    events = []
    events += decoder.feed(b"data: " + b"x" * 80)
    events += decoder.feed(b"y" * 10_000)
    assert len(decoder._buffer) <= 100
    events += decoder.feed(b"z\ndata: more\n\ndata: ok\n\n")
    assert events == [SseEvent("message", "ok")]  # the event that lost a line is dropped whole
    assert decoder.oversized == 1


def test_huge_event_skipped_next_one_kept():
    decoder = SseDecoder(max_event_bytes=50)
    events = decoder.feed(b"".join(b"data: 0123456789\n" for _ in range(10)) + b"\ndata: small\n\n")
    assert events == [SseEvent("message", "small")]
    assert decoder.oversized == 1


def test_garbage_bytes_never_raise_and_dispatch_only_on_blank_lines():
    decoder = SseDecoder()
    events = decoder.feed(bytes(range(256)) * 4)
    assert all(isinstance(e, SseEvent) for e in events)
    assert decoder.feed(b"\ndata: after\n\n")[-1] == SseEvent("message", "after")


# --- any chunking yields the same events ----------------------------------------------------------------

_LINES = st.sampled_from(
    [
        b"data: a",
        b"data:b",
        b"data",
        b"data:  c",
        b"event: x",
        b"id: 1",
        b"id: 2\0",
        b"id",
        b"retry: 10",
        b"retry: x",
        b": comment",
        b"",
        b"",
        b"foo: bar",
        "data: é😀\u2028".encode(),
        b"data: \xff\xfe",
    ]
)
_ENDS = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def streams(draw):
    parts = [BOM] if draw(st.booleans()) else []
    for line, end in draw(st.lists(st.tuples(_LINES, _ENDS), max_size=40)):
        parts.append(line + end)
    return b"".join(parts)


@st.composite
def chunkings(draw, stream):
    cuts = sorted(set(draw(st.lists(st.integers(0, len(stream)), max_size=20))))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_chunking_yields_the_same_events(data):
    stream = data.draw(streams())
    whole, whole_decoder = feed_in([stream], max_line_bytes=12, max_event_bytes=20)
    pieces = data.draw(chunkings(stream))
    split, split_decoder = feed_in(pieces, max_line_bytes=12, max_event_bytes=20)
    bytewise, _ = feed_in([stream[i : i + 1] for i in range(len(stream))], max_line_bytes=12, max_event_bytes=20)
    assert split == whole == bytewise
    assert split_decoder.last_event_id == whole_decoder.last_event_id
    assert split_decoder.retry_ms == whole_decoder.retry_ms
    assert split_decoder.oversized == whole_decoder.oversized
