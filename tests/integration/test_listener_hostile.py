"""The live-events listener against raw hostile servers on loopback: every byte from outside stays bounded.

A gzip bomb, a huge chunk, poisoned event ids, another channel's events, a server
that closes at once, a flood, a header trickle, both kinds of keep-alive, and the
Windows way of cutting a blocked read. Memory is measured with tracemalloc, with
bounds far from noise (tens of MB against the GB the hostile server offers).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc
import zlib
from typing import List

import pytest

from ailicia_core import bounded
from ailicia_core.activity import ActivityFeed
from ailicia_core.hearing import Hearing
from ailicia_core.listener import CONNECTED, RETRYING, EventSubListener
from ailicia_core.settings import parse_settings
from tests.support.raw_peer import SSE_HEAD, ScriptedServer, chunk, header_of, http_head, path_of, sse_event
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

KEY = "hostile-listener-key-0123456789"
MB = 1024 * 1024
#: Peak memory allowed while a hostile server offers a GB or more: far from noise, far below the offer.
PEAK_BOUND = 50 * MB


def hold(conn: socket.socket, server: ScriptedServer) -> None:
    """Keep the connection open, silent, until the client goes or the server stops."""
    while not server.done():
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


def make_listener(server, heard, **options) -> EventSubListener:
    settings = parse_settings({"api_key": KEY, "channel": "mychannel", "api_base_url": server.url})
    options = {"reconnect_base_s": 30.0, **options}
    return EventSubListener(settings, on_envelope=heard.append, rng=lambda: 1.0, **options)


class running:
    """A started listener that must stop within the unload budget at the end."""

    def __init__(self, listener: EventSubListener) -> None:
        self.listener = listener

    def __enter__(self) -> EventSubListener:
        self.listener.start()
        return self.listener

    def __exit__(self, *exc: object) -> None:
        assert self.listener.stop(1.4), "the listener outlived the unload budget"


def peak_while(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of zeros as gzip (16 members of 64 MiB each: about 1 MB on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = b"".join(packer.compress(bytes(MB)) for _ in range(64)) + packer.flush()
    return member * 16


# --- compression and size --------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_not_inflated(gzip_bomb):
    def script(conn, head):
        conn.sendall(http_head(Content_Type="text/event-stream", Content_Encoding="gzip", Transfer_Encoding="chunked"))
        for start in range(0, len(gzip_bomb), 64 * 1024):
            conn.sendall(chunk(gzip_bomb[start : start + 64 * 1024]))
        hold(conn, server)

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard)

        def run():
            with running(listener):
                wait_until(lambda: listener.state.state == RETRYING, what="the compressed answer refused")

        assert peak_while(run) < PEAK_BOUND
        assert header_of(server.heads[0], "Accept-Encoding") == "identity"
    assert heard == []


def test_compressed_bytes_without_saying_so_are_only_long_lines(gzip_bomb):
    """A proxy that gzips without a Content-Encoding: the bytes are junk lines, skipped within the line cap."""

    def script(conn, head):
        conn.sendall(SSE_HEAD)
        for start in range(0, len(gzip_bomb), 64 * 1024):
            conn.sendall(chunk(gzip_bomb[start : start + 64 * 1024]))
        conn.sendall(chunk(b"\n\n" + sse_event("evt_after", message="after the junk")))
        hold(conn, server)

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard, max_bytes_per_s=1e9)

        def run():
            with running(listener):
                wait_until(lambda: heard, what="the event after the junk")

        assert peak_while(run) < PEAK_BOUND
    assert [e.id for e in heard] == ["evt_after"]


def test_a_512_mb_chunk_is_read_in_pieces_and_its_long_line_skipped():
    junk = b"data: " + b"a" * (MB - 6)

    def script(conn, head):
        conn.sendall(SSE_HEAD + b"%x\r\n" % (512 * MB))  # one chunk announced at 512 MB
        for _ in range(64):  # 64 MB of one line inside it
            conn.sendall(junk)
        conn.sendall(b"\n\n" + sse_event("evt_ok", message="still listening"))
        hold(conn, server)

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard, max_bytes_per_s=1e9)

        def run():
            with running(listener):
                wait_until(lambda: heard, timeout=30, what="the event after the huge line")

        assert peak_while(run) < PEAK_BOUND
    assert [e.payload["message"] for e in heard] == ["still listening"]


# --- event ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "poison",
    [b"id:  42", "id: \u65e5\u672c".encode(), b"id: " + b"x" * 300, b"id: a\x7fb"],
    ids=["leading-space", "non-latin-1", "too-long", "control"],
)
def test_a_poisoned_id_is_dropped_not_the_stream(poison):
    def script(conn, head):
        index = len(server.heads)
        body = sse_event(f"evt_{index}", message=f"message {index}")
        if index == 1:
            body = poison + b"\n" + body.split(b"\n", 1)[1]  # the first frame's id line poisoned
        conn.sendall(SSE_HEAD + chunk(body) + b"0\r\n\r\n")

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard, reconnect_base_s=0.01)
        with running(listener):
            wait_until(lambda: len(server.heads) >= 3, what="two reconnects")
        sent_back = [header_of(head, "Last-Event-ID") for head in server.heads[:3]]
    assert sent_back == [None, None, "evt_2"]  # the poisoned id never went back; the next good one did
    assert [e.id for e in heard][:2] == ["evt_1", "evt_2"]


# --- other channels, keep-alives --------------------------------------------------------------------


def test_another_channels_events_make_no_caption_no_leave_and_no_join():
    def script(conn, head):
        if path_of(head) != "/v1/eventsub/stream":
            conn.sendall(http_head("404 Not Found", Content_Length="0"))
            return
        conn.sendall(SSE_HEAD)
        conn.sendall(chunk(sse_event("o1", channel="otherchannel", message="not for this stream")))
        conn.sendall(chunk(sse_event("o2", "system.left", channel="OtherChannel", channelName="otherchannel")))
        conn.sendall(chunk(sse_event("o3", "system.join", channel="otherchannel")))
        conn.sendall(chunk(sse_event("m1", channel="MyChannel", message="ours")))  # the same channel, other case
        hold(conn, server)

    rejoins: List[int] = []
    with ScriptedServer(script) as server:
        settings = parse_settings({"api_key": KEY, "channel": "mychannel", "api_base_url": server.url})
        hearing = Hearing(
            settings,
            activity=ActivityFeed(),
            live=lambda: True,
            rejoin=lambda: rejoins.append(1),
            key_rejected=lambda: None,
            clock=time.monotonic,
            wall_clock=time.time,
            rng=lambda: 1.0,
            reconnect_base_s=30.0,
        )
        hearing.start()
        try:
            wait_until(lambda: hearing.captions.latest()[1] == "ours", what="our channel's caption")
            facts = hearing.status_fields()
            assert hearing.captions.latest()[0] == 1
            assert facts["confirmed_in_chat"] is None and not facts["left_unexpectedly"]
            assert rejoins == []
            assert hearing.listener.state.other_channel == 3
        finally:
            hearing.request_stop()
            assert hearing.join(1.4)


def test_keep_alives_as_comments_and_as_system_ping_are_both_signs_of_life():
    def script(conn, head):
        conn.sendall(SSE_HEAD + chunk(b": keep-alive\n\n"))
        conn.sendall(chunk(sse_event("p1", "system.ping", pingId="p1")))
        conn.sendall(chunk(b":ping\n\n" + sse_event("m1", message="hello")))
        hold(conn, server)

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard)
        with running(listener):
            wait_until(lambda: heard, what="the message after the keep-alives")
            state = listener.state
    assert [e.id for e in heard] == ["m1"]
    assert (state.state, state.unreadable, state.drops) == (CONNECTED, 0, 0)


# --- storms ---------------------------------------------------------------------------------------


def test_a_server_that_closes_at_once_is_tried_less_and_less_often_and_logged_once(caplog):
    caplog.set_level(logging.DEBUG, logger="ailicia")

    def script(conn, head):
        conn.sendall(SSE_HEAD + b"0\r\n\r\n")

    connected: List[int] = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, [], reconnect_base_s=0.005, on_connected=lambda: connected.append(1))
        with running(listener):
            wait_until(lambda: server.connections >= 6, what="six quick ends")
        attempts = server.connections
    # Every quick end counted as a failure: the waits doubled each time instead of starting over at each 200.
    assert listener._backoff.failures >= attempts - 1
    assert connected == [1], "the character list is asked once, not at every quick end"
    info = [r.getMessage() for r in caplog.records if r.name == "ailicia" and r.levelno >= logging.INFO]
    assert info == [
        "Live events: connected.",
        "Live events: the server ended the stream right away; trying again less and less often.",
    ]


def test_a_flood_is_rate_limited_and_summarized_in_one_line(caplog):
    caplog.set_level(logging.INFO, logger="ailicia")
    flood = b"".join(sse_event(f"f{i}", message=f"flood {i}") for i in range(1500))

    def script(conn, head):
        if path_of(head) != "/v1/eventsub/stream":
            conn.sendall(http_head("404 Not Found", Content_Length="0"))
            return
        conn.sendall(SSE_HEAD + chunk(flood) + b"0\r\n\r\n")
        hold(conn, server)

    with ScriptedServer(script) as server:
        settings = parse_settings({"api_key": KEY, "channel": "mychannel", "api_base_url": server.url})
        hearing = Hearing(
            settings,
            activity=ActivityFeed(),
            live=lambda: True,
            rejoin=lambda: None,
            key_rejected=lambda: None,
            clock=time.monotonic,
            wall_clock=time.time,
            rng=lambda: 1.0,
            reconnect_base_s=30.0,
        )
        hearing.start()
        try:
            state = wait_until(
                lambda: hearing.listener.state.state == RETRYING and hearing.listener.state, what="the flood read"
            )
        finally:
            hearing.request_stop()
            assert hearing.join(1.4)
    said = hearing.status_fields()["heard_messages"]
    assert said + state.skipped == 1500
    assert said < 100 and state.skipped > 1400
    lines = [r.getMessage() for r in caplog.records if r.name == "ailicia"]
    assert sum(line.startswith("ai_licia said:") for line in lines) == said
    summaries = [line for line in lines if "skipped" in line]
    assert summaries == [
        f"Live events: {state.skipped} events skipped in the last {summaries[0].split('the last ')[1].split(' (')[0]} "
        "(they came faster than captions and confirmations can follow)."
    ]


# --- headers ---------------------------------------------------------------------------------------


def trickle_headers(server):
    def script(conn, head):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not server.done():
            conn.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.2)

    return script


def test_trickled_headers_are_cut_at_one_deadline():
    server = ScriptedServer(lambda conn, head: script(conn, head))
    script = trickle_headers(server)
    with server:
        listener = make_listener(server, [], headers_timeout_s=1.0)
        with running(listener):
            wait_until(lambda: listener.state.state == RETRYING, what="the header deadline")
            assert server.wait_for(lambda s: s.ended >= 1, 5.0), "the trickling connection was not cut"


def test_stop_cuts_trickled_headers_so_no_thread_survives_a_reload():
    server = ScriptedServer(lambda conn, head: script(conn, head))
    script = trickle_headers(server)
    with server:
        for reload in range(5):
            listener = make_listener(server, [])  # the real 10 s header deadline
            listener.start()
            assert server.wait_for(lambda s, seen=reload: s.connections > seen, 5.0)
            assert listener.stop(0.5), "stop did not cut a trickle of headers"

    def ours_alive():
        return [t.name for t in threading.enumerate() if t.name.startswith("ailicia-eventsub") and t.is_alive()]

    wait_until(lambda: not ours_alive(), timeout=2.0, what="no listener or deadline thread left")


# --- Windows: closing after shutdown --------------------------------------------------------------------


class FakeSys:
    platform = "win32"


def test_stop_on_windows_closes_the_socket_after_shutdown(monkeypatch):
    closed: List[int] = []
    real_close = socket.close
    monkeypatch.setattr(bounded, "sys", FakeSys)
    monkeypatch.setattr(socket, "close", lambda fd: (closed.append(fd), real_close(fd)))

    def script(conn, head):
        conn.sendall(SSE_HEAD + chunk(sse_event("m1", message="hi")))
        hold(conn, server)

    heard: List = []
    with ScriptedServer(script) as server:
        listener = make_listener(server, heard)
        listener.start()
        wait_until(lambda: heard, what="connected and reading")
        assert listener.stop(1.4)
    assert closed, "the Windows branch did not close the handle"
