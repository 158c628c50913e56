"""Connect with ai_licia against a malicious program on the app's port (raw sockets on loopback).

A 2 GB announced frame, endless continuation frames, a ping flood, a trickled
handshake, and a grant whose channel name carries a newline and bidi marks: the flow
keeps its memory, its deadline and its stop, and no sentence carries the app's
control characters. Memory is measured with tracemalloc, bounds far from noise.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from ailicia_core import connect as c
from ailicia_core.connect_runner import ConnectRunner
from ailicia_core.status import Status, connect_words, render_status
from tests.support.raw_peer import ScriptedServer, ws_accept, ws_frame, ws_read_text, ws_text

pytestmark = pytest.mark.timeout(60)

MB = 1024 * 1024
PEAK_BOUND = 50 * MB
KEY = "sk-hostile-grant-0123456789abcdef"
#: How long a flow may take in these tests before the test gives up (the flows end far sooner).
WAIT_S = 15.0


def app(after_handshake, *, welcome=True):
    """A script: the WebSocket handshake, the hello read, then ``after_handshake(conn, server)``."""

    def script(conn, head):
        conn.sendall(ws_accept(head))
        if ws_read_text(conn, server.done) is None:
            return
        if welcome:
            conn.sendall(ws_text("welcome", capabilities=["integration.auth"]))
            ws_read_text(conn, server.done)  # request_access
        after_handshake(conn, server)

    server = ScriptedServer(script)
    return server


def flood(conn, server, frame: bytes) -> None:
    """Send ``frame`` over and over until the client goes."""
    block = frame * max(1, 16384 // len(frame))
    while not server.done():
        try:
            conn.sendall(block)
        except TimeoutError:
            continue


def run_flow(server, wait_s=WAIT_S):
    runner = ConnectRunner(wait_s=wait_s)
    tracemalloc.start()
    try:
        assert runner.start(server.port)
        state = runner.wait(WAIT_S + 5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert runner.stop(0.2)
    return state, peak


def test_a_2_gb_frame_is_refused_from_its_announced_length():
    def announce(conn, server):
        conn.sendall(ws_frame(b"", length=2 * 1024 * MB))
        flood(conn, server, bytes(65536))

    with app(announce, welcome=False) as server:
        state, peak = run_flow(server)
    assert (state.phase, state.outcome) == (c.FAILED, c.NOT_THE_APP)
    assert peak < PEAK_BOUND


def test_endless_continuation_frames_are_capped():
    def continuations(conn, server):
        conn.sendall(ws_frame(b'{"type": "welcome", ', fin=False))
        flood(conn, server, ws_frame(b" " * 1000, opcode=0x0, fin=False))

    with app(continuations, welcome=False) as server:
        state, peak = run_flow(server)
    assert (state.phase, state.outcome) == (c.FAILED, c.NOT_THE_APP)
    assert peak < PEAK_BOUND


def test_a_ping_flood_does_not_hold_the_flow_past_its_deadline():
    with app(lambda conn, server: flood(conn, server, ws_frame(b"p", opcode=0x9))) as server:
        state, _ = run_flow(server, wait_s=1.0)
    assert (state.phase, state.outcome) == (c.FAILED, c.TIMED_OUT)


def test_stop_returns_in_time_during_a_ping_flood():
    with app(lambda conn, server: flood(conn, server, ws_frame(b"p", opcode=0x9))) as server:
        runner = ConnectRunner()  # the real two-minute wait
        runner.start(server.port)
        assert runner.wait(WAIT_S, until=lambda s: s.phase == c.REQUESTED).phase == c.REQUESTED
        assert server.wait_for(lambda s: s.connections >= 1)
        assert runner.stop(0.2), "stop did not return within its time"
        assert runner.state().outcome == c.STOPPED


def trickled_handshake(conn, head, server):
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n")
    while not server.done():
        conn.sendall(b"X")
        time.sleep(0.05)


def test_a_trickled_handshake_ends_at_its_deadline():
    server = ScriptedServer(lambda conn, head: trickled_handshake(conn, head, server))
    with server:
        runner = ConnectRunner(wait_s=WAIT_S)
        runner.start(server.port)
        state = runner.wait(WAIT_S)
        assert runner.stop(0.2)
    assert (state.phase, state.outcome) == (c.FAILED, c.NOT_THE_APP)


def test_stop_cuts_a_trickled_handshake():
    server = ScriptedServer(lambda conn, head: trickled_handshake(conn, head, server))
    with server:
        runner = ConnectRunner(wait_s=WAIT_S)
        runner.start(server.port)
        assert server.wait_for(lambda s: s.heads, 5.0)
        assert runner.stop(0.2), "stop did not cut the handshake"
    assert runner.state().outcome == c.STOPPED


@pytest.mark.parametrize(
    "channel",
    [
        "mychannel\nLast success: forged",
        "my\u202echannel",
        "\u200fmychannel\u2066\r\n\x1b[2J",
        "mychannel\u2028Last success: forged\u0085",
    ],
    ids=["newline", "rtl-override", "marks-and-escape", "unicode-line-breaks"],
)
def test_a_granted_channel_is_cleaned_before_any_sentence(channel):
    def grant(conn, server):
        conn.sendall(ws_text("access_granted", requestId="r1", apiKey=KEY, scopes=["rest.full"], channelName=channel))
        while not server.done() and ws_read_text(conn, server.done) is not None:
            pass

    with app(grant) as server:
        state, _ = run_flow(server)
    assert state.phase == c.GRANTED
    sentence = connect_words(state)
    panel = render_status(Status(app_connect=sentence))
    for text in (state.channel, sentence):
        assert not any(ch in text for ch in "\n\r\x1b\u202e\u200f\u2066\u2028\u0085"), repr(text)
    assert panel.splitlines()[0] == sentence
    assert not any(line.startswith("Last success") for line in panel.splitlines()), "a forged line in the panel"
