"""EventSubListener with a fake opener and clock: reconnect, backoff, Last-Event-ID, dedupe, idle, 401/403/404."""

from __future__ import annotations

import json
from typing import Any, List

import pytest
import requests

from ailicia_core import listener as lst
from ailicia_core.envelopes import RecentIds, parse_envelope
from ailicia_core.listener import EventSubListener
from ailicia_core.settings import parse_settings
from ailicia_core.sse import SseEvent

SETTINGS = {"api_key": "listener-test-key", "channel": "mychannel", "api_base_url": "http://127.0.0.1:9"}


def frame(event_id: str, kind: str = "chat.ai_message", **payload: Any) -> bytes:
    body = {"id": event_id, "type": kind, "timestamp": "2026-01-01T00:00:00Z", "payload": payload}
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(body)}\n\n".encode()


class FakeResponse:
    def __init__(
        self,
        status: int = 200,
        chunks: List[bytes] = (),
        error: Exception = None,
        content_type: str = "text/event-stream",
    ) -> None:
        self.status_code = status
        self.headers = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
        self._chunks = list(chunks)
        self._error = error
        self.closed = False

    def iter_content(self, chunk_size=None):
        yield from self._chunks
        if self._error is not None:
            raise self._error

    def close(self):
        self.closed = True


class FakeOpener:
    """Answers each connection with the next scripted response and records what was asked."""

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.calls: List[dict] = []

    def __call__(self, session, url, *, params, headers, timeout):
        self.calls.append({"url": url, "params": dict(params), "headers": dict(headers), "timeout": timeout})
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(opener, heard=None, rejected=None, **settings):
    heard = [] if heard is None else heard
    rejected = [] if rejected is None else rejected
    clock = Clock()
    listener = EventSubListener(
        parse_settings({**SETTINGS, **settings}),
        on_envelope=heard.append,
        on_key_rejected=lambda: rejected.append(1),
        clock=clock,
        rng=lambda: 1.0,
        session=object(),
        opener=opener,
        reconnect_base_s=2.0,
    )
    return listener, heard, rejected, clock


def test_connects_with_types_key_and_idle_read_timeout():
    opener = FakeOpener(FakeResponse(chunks=[frame("evt_1", message="hi")]))
    listener, heard, _, _ = make(opener)
    listener.run_once()
    call = opener.calls[0]
    assert call["url"] == "http://127.0.0.1:9/v1/eventsub/stream"
    assert call["params"]["types"].split(",") == list(lst.EVENT_TYPES)
    assert call["headers"]["Authorization"] == "Bearer listener-test-key"
    assert call["headers"]["Accept"] == "text/event-stream"
    assert "Last-Event-ID" not in call["headers"]
    # The headers within 10 s; after them the socket's timeout becomes the 90 s idle rule (see the loopback test).
    assert call["timeout"] == (lst.CONNECT_TIMEOUT_S, lst.HEADERS_TIMEOUT_S)
    assert [(e.id, e.type, e.payload["message"]) for e in heard] == [("evt_1", "chat.ai_message", "hi")]


def test_drop_reconnects_with_backoff_and_last_event_id():
    opener = FakeOpener(
        FakeResponse(chunks=[frame("evt_1"), frame("evt_2")], error=requests.exceptions.ChunkedEncodingError("cut")),
        FakeResponse(chunks=[frame("evt_3")]),
    )
    listener, heard, _, clock = make(opener)
    wait = listener.run_once()
    assert wait == pytest.approx(2.0)  # base 2 s, rng 1.0: the whole first step
    assert listener.state.state == lst.RETRYING and listener.state.retry_at == pytest.approx(clock.now + 2.0)
    assert listener.state.drops == 1
    listener.run_once()
    assert opener.calls[1]["headers"]["Last-Event-ID"] == "evt_2"
    assert [e.id for e in heard] == ["evt_1", "evt_2", "evt_3"]


def test_consecutive_failures_back_off_exponentially_and_only_a_delivering_connection_resets():
    refused = requests.exceptions.ConnectionError("refused")
    opener = FakeOpener(refused, refused, refused, FakeResponse(chunks=[]), FakeResponse(chunks=[frame("e")]), refused)
    listener, _, _, _ = make(opener)
    waits = [listener.run_once() for _ in range(3)]
    assert waits == [pytest.approx(2.0), pytest.approx(4.0), pytest.approx(8.0)]
    assert listener.run_once() == pytest.approx(16.0)  # a 200 that ends at once is no success: the next step
    assert listener.run_once() == pytest.approx(2.0)  # one that delivered an event resets, then fails once
    assert listener.run_once() == pytest.approx(4.0)


def test_server_retry_is_the_least_wait():
    opener = FakeOpener(FakeResponse(chunks=[b"retry: 7000\n\n", frame("evt_1")]))
    listener, _, _, _ = make(opener)
    assert listener.run_once() == pytest.approx(7.0)


def test_duplicates_by_envelope_id_are_dropped_across_reconnects():
    opener = FakeOpener(
        FakeResponse(chunks=[frame("evt_1"), frame("evt_2")]),
        FakeResponse(chunks=[frame("evt_2"), frame("evt_1"), frame("evt_3")]),
    )
    listener, heard, _, _ = make(opener)
    listener.run_once()
    listener.run_once()
    assert [e.id for e in heard] == ["evt_1", "evt_2", "evt_3"]
    assert listener.state.duplicates == 2


def test_dedupe_memory_is_bounded():
    recent = RecentIds(capacity=3)
    assert [recent.seen(i) for i in "abcd"] == [False] * 4
    assert len(recent) == 3
    assert recent.seen("a") is False  # forgotten: the oldest went first
    assert recent.seen("d") is True


def test_idle_timeout_counts_as_dead_and_reconnects():
    timeout = requests.exceptions.ConnectionError(requests.exceptions.ReadTimeout("Read timed out."))
    opener = FakeOpener(FakeResponse(chunks=[b": ping\n\n"], error=timeout), FakeResponse())
    listener, _, _, _ = make(opener)
    assert listener.run_once() == pytest.approx(2.0)
    assert listener.state.dead == 1 and listener.state.drops == 0
    listener.run_once()
    assert len(opener.calls) == 2


def test_401_joins_the_key_pause_and_stays_quiet_until_settings_change():
    opener = FakeOpener(FakeResponse(status=401), FakeResponse(chunks=[frame("evt_1")]))
    listener, heard, rejected, _ = make(opener)
    assert listener.run_once() is None
    assert rejected == [1] and listener.state.state == lst.KEY_REJECTED
    assert listener.run_once() is None and len(opener.calls) == 1  # quiet: no new connection
    listener.reconfigure(parse_settings({**SETTINGS, "eventsub_enabled": True, "caption_clear_s": 3}))
    assert listener.run_once() is None and len(opener.calls) == 1  # unrelated change: still quiet
    listener.reconfigure(parse_settings({**SETTINGS, "api_key": "another-key"}))
    listener.run_once()
    assert len(opener.calls) == 2 and [e.id for e in heard] == ["evt_1"]


@pytest.mark.parametrize("status, state", [(403, lst.NOT_INCLUDED), (404, lst.NOT_FOUND)])
def test_403_404_no_reconnect_until_settings_change(status, state):
    opener = FakeOpener(FakeResponse(status=status), FakeResponse())
    listener, _, rejected, _ = make(opener)
    assert listener.run_once() is None
    assert listener.state.state == state and rejected == []
    listener.run_once()
    assert len(opener.calls) == 1
    listener.reconfigure(parse_settings({**SETTINGS, "channel": "otherchannel"}))
    listener.run_once()
    assert len(opener.calls) == 2


@pytest.mark.parametrize("response", [FakeResponse(status=500), FakeResponse(content_type="text/html")])
def test_5xx_or_not_an_event_stream_is_retried(response):
    listener, _, _, _ = make(FakeOpener(response))
    assert listener.run_once() == pytest.approx(2.0)
    assert listener.state.state == lst.RETRYING


def test_off_when_disabled_or_unconfigured():
    opener = FakeOpener()
    listener, _, _, _ = make(opener, eventsub_enabled=False)
    assert listener.run_once() is None and listener.state.state == lst.OFF
    listener.reconfigure(parse_settings({**SETTINGS, "api_key": ""}))
    assert listener.run_once() is None and opener.calls == []


def test_unreadable_frames_are_counted_not_fatal():
    opener = FakeOpener(FakeResponse(chunks=[b"data: not json\n\ndata: [1]\n\n", frame("evt_1")]))
    listener, heard, _, _ = make(opener)
    listener.run_once()
    assert listener.state.unreadable == 2 and [e.id for e in heard] == ["evt_1"]


def test_a_failing_callback_does_not_end_listening():
    def explode(envelope):
        raise RuntimeError("bug")

    opener = FakeOpener(FakeResponse(chunks=[frame("evt_1"), frame("evt_2")]))
    clock = Clock()
    listener = EventSubListener(
        parse_settings(SETTINGS), on_envelope=explode, clock=clock, rng=lambda: 1.0, session=object(), opener=opener
    )
    assert listener.run_once() == pytest.approx(lst.RECONNECT_BASE_S)  # read to the end, then reconnect


def test_parse_envelope_reads_type_from_event_when_missing():
    envelope = parse_envelope(SseEvent("system.join", json.dumps({"id": "e", "payload": {"channelId": "c"}})))
    assert envelope.type == "system.join" and envelope.payload == {"channelId": "c"}
