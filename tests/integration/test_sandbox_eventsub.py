"""The sandbox's /v1/eventsub/stream with a plain requests client: answers, filters, Last-Event-ID, stop."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from ailicia_core.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig
from ailicia_core.sse import SseDecoder

pytestmark = pytest.mark.timeout(60)
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture
def sandbox():
    box = Sandbox(SandboxConfig(quiet=True, join_delay_s=0.01)).start()
    yield box
    box.stop()


def stream(sandbox, headers=AUTH, **params):
    return requests.get(
        sandbox.url + "/v1/eventsub/stream", headers=headers, params=params, stream=True, timeout=(5, 10)
    )


def read_events(response, count):
    decoder, events = SseDecoder(), []
    for chunk in response.iter_content(chunk_size=None):
        events.extend(decoder.feed(chunk))
        if len(events) >= count:
            return events, decoder
    return events, decoder


def test_no_key_401_unknown_channel_404_forbidden_403(sandbox):
    assert stream(sandbox, headers={}).status_code == 401
    assert stream(sandbox, channelId="ch_nobody").status_code == 404
    sandbox.set_faults(eventsub_forbidden=True)
    assert stream(sandbox).status_code == 403


def test_join_generation_and_leave_come_as_events_filtered_by_types(sandbox):
    with stream(sandbox, types="system.join,chat.ai_message,system.left") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        assert sandbox.wait_for_eventsub_streams(1)
        sandbox.push_event("character.updated", {"displayName": "Filtered out"})
        requests.post(sandbox.url + "/v1/streams/mychannel", headers=AUTH, timeout=5)
        body = {"eventType": "GAME_EVENT", "data": {"channelName": "mychannel", "content": "We won!"}}
        assert requests.post(sandbox.url + "/v1/events/generations", headers=AUTH, json=body, timeout=5).ok
        requests.delete(sandbox.url + "/v1/streams/mychannel", headers=AUTH, timeout=5)
        events, decoder = read_events(response, 3)
    assert sorted(e.event for e in events) == ["chat.ai_message", "system.join", "system.left"]
    said = json.loads(next(e.data for e in events if e.event == "chat.ai_message"))
    assert said["payload"]["message"] == "(sandbox) ai_licia reacts: We won!"
    assert said["channel"] == {"id": "ch_mychannel", "name": "mychannel", "platform": "TWITCH"}
    assert decoder.retry_ms == 1000
    assert all(json.loads(e.data)["type"] == e.event and e.id == json.loads(e.data)["id"] for e in events)


def test_last_event_id_is_recorded_and_generic_faults_leave_the_stream_alone(sandbox):
    sandbox.set_faults(fail_first=1, drop_first=1)
    with stream(sandbox, headers={**AUTH, "Last-Event-ID": "evt_41"}) as response:
        assert response.status_code == 200
        assert sandbox.wait_for_eventsub_streams(1, connects=1)  # the stream registers just after its headers
    assert sandbox.eventsub_connects[-1]["last_event_id"] == "evt_41"
    assert sandbox.config.fail_first == 1 and sandbox.config.drop_first == 1  # still there for the REST calls


def test_stop_with_an_open_stream_ends_within_its_timeout_and_the_client_sees_the_end(sandbox):
    response = stream(sandbox)
    assert sandbox.wait_for_eventsub_streams(1)
    ended = threading.Event()

    def drain():
        try:
            for _ in response.iter_content(chunk_size=None):
                pass
        except requests.RequestException:
            pass
        ended.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.monotonic()
    sandbox.stop(timeout=2.0)
    assert time.monotonic() - started < 2.0 + 0.5  # stop() returns by its timeout
    assert ended.wait(5)
    response.close()
