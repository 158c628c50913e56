"""The bounded reader's pieces: the cut (Linux's branch and Windows'), the budget, pieces, reader_of."""

from __future__ import annotations

import socket
import threading
from typing import List

import pytest

from ailicia_core import bounded, transport
from ailicia_core.bounded import Budget, Cut, Stopped, TooLarge, TooLate, cut_socket, pieces, reader_of


class FakeSys:
    platform = "win32"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def windows(monkeypatch):
    """The Windows branch of every cut, and the handles it closes."""
    closed: List[int] = []
    real_close = socket.close
    monkeypatch.setattr(bounded, "sys", FakeSys)
    monkeypatch.setattr(socket, "close", lambda fd: (closed.append(fd), real_close(fd)))
    return closed


def blocked_reader(sock: socket.socket):
    """A thread blocked in ``recv`` on ``sock``; its result lands in the returned list."""
    got: List[object] = []
    started = threading.Event()

    def read():
        started.set()
        try:
            got.append(sock.recv(10))
        except OSError as exc:
            got.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    started.wait(5)
    return thread, got


def test_on_linux_a_cut_shuts_down_and_leaves_the_socket_to_its_owner(pair):
    a, _ = pair
    thread, got = blocked_reader(a)
    cut_socket(a)
    thread.join(5)
    assert not thread.is_alive() and got == [b""]
    assert a.fileno() >= 0, "the reader's thread still owns the socket and closes it"


def test_on_windows_a_cut_also_closes_the_handle_even_with_a_makefile_open(pair, windows):
    a, _ = pair
    reader = a.makefile("rb")  # what http.client holds: close() alone would only mark the socket closed
    fd = a.fileno()
    thread, got = blocked_reader(a)
    cut_socket(a)
    thread.join(5)
    assert not thread.is_alive()
    assert windows == [fd], "the handle was not closed after shutdown"
    assert a.fileno() == -1, "the socket object forgot the handle: no double close, no reused number"
    with pytest.raises(OSError):
        a.recv(1)  # the owner's next call fails plainly
    reader.close()
    a.close()  # and its own close is harmless


def test_a_cut_of_nothing_or_of_a_socket_already_cut_is_harmless(pair, windows):
    a, _ = pair
    cut_socket(None)
    cut_socket("not a socket")
    cut_socket(a)
    cut_socket(a)
    assert len(windows) == 1


def test_the_transport_deadline_cut_takes_the_windows_branch_too(pair, windows):
    a, _ = pair

    class Connection:
        sock = a

    fd = a.fileno()
    transport._shut(Connection())
    assert windows == [fd] and a.fileno() == -1


def test_a_cut_cuts_what_is_adopted_after_it_fired(pair):
    a, b = pair
    cut = Cut()
    cut.cut()
    cut.adopt(a)
    assert a.recv(1) == b""  # shut down at once: a read ends instead of waiting
    with pytest.raises(OSError):
        b.sendall(b"x")


def test_the_deadline_fires_once_and_marks_the_cut_expired(pair):
    a, _ = pair
    cut = Cut()
    cut.adopt(a)
    thread, got = blocked_reader(a)
    cut.arm(0.01)
    thread.join(5)
    assert got == [b""] and cut.fired and cut.expired
    cut.close()


def test_after_close_nothing_is_cut(pair):
    a, b = pair
    cut = Cut()
    cut.adopt(a)
    cut.close()
    cut.cut()
    b.sendall(b"still open")
    assert a.recv(20) == b"still open"


def test_a_connection_cut_before_its_socket_existed_is_cut_once_it_does(pair):
    a, _ = pair

    class Connecting:
        sock = None

    connection = Connecting()
    cut = Cut()
    cut.adopt(connection)
    cut.cut()  # stop lands in the middle of the connect
    thread, got = blocked_reader(a)
    connection.sock = a  # the connect finishes
    thread.join(5)
    assert got == [b""]
    cut.close()


def test_the_budget_counts_bytes_against_its_cap():
    budget = Budget(max_bytes=10)
    budget.take(10)
    with pytest.raises(TooLarge):
        budget.take(1)


def test_the_budget_deadline_is_for_the_whole_operation():
    clock = Clock()
    budget = Budget(deadline_s=2.0, clock=clock)
    for _ in range(3):
        clock.now += 0.5  # each read is quick: a per-read timeout would never trip
        budget.take(1)
    assert budget.remaining_s() == pytest.approx(0.5)
    clock.now += 0.5
    with pytest.raises(TooLate):
        budget.check()


def test_a_fired_cut_stops_the_budget_and_an_expired_one_is_late():
    stopped, late = Cut(), Cut()
    stopped.cut()
    with pytest.raises(Stopped):
        Budget(cut=stopped).check()
    late.expired = late.fired = True
    with pytest.raises(TooLate):
        Budget(cut=late).check()
    assert issubclass(TooLarge, OSError) and issubclass(Stopped, OSError) and issubclass(TooLate, OSError)


def test_pieces_asks_for_at_most_one_piece_at_a_time_and_ends_at_the_end():
    data = bytearray(b"x" * 100)
    asked: List[int] = []

    def read(n: int) -> bytes:
        asked.append(n)
        out = bytes(data[: min(n, 7)])
        del data[: len(out)]
        return out

    got = b"".join(pieces(read, Budget(max_bytes=1000), piece=16))
    assert got == b"x" * 100 and set(asked) == {16}


def test_reader_of_a_stand_in_splits_its_chunks():
    class StandIn:
        def iter_content(self, size):
            yield b"a" * 10
            yield b"b" * 3

    read = reader_of(StandIn())
    assert [read(4) for _ in range(5)] == [b"aaaa", b"aaaa", b"aa", b"bbb", b""]


def test_reader_of_a_real_response_uses_read1():
    class Fp:
        def read1(self, n):
            return b"z" * min(n, 5)

    class Raw:
        _fp = Fp()

    class Response:
        raw = Raw()

    assert reader_of(Response())(3) == b"zzz"


def test_a_read_ended_by_the_deadline_is_late_not_the_end_of_the_stream(pair):
    a, b = pair
    cut = Cut()
    cut.adopt(a)
    b.sendall(b"first")
    got: List[bytes] = []
    cut.arm(0.05)  # the peer sends nothing more: the deadline cuts the blocked read
    with pytest.raises(TooLate):
        for piece in pieces(a.recv, Budget(max_bytes=1000, cut=cut)):
            got.append(piece)
    assert got == [b"first"]
    cut.close()


def test_a_read_ended_by_a_stop_is_stopped(pair):
    a, _ = pair
    cut = Cut()
    cut.adopt(a)
    threading.Timer(0.05, cut.cut).start()
    with pytest.raises(Stopped):
        list(pieces(a.recv, Budget(cut=cut)))
    cut.close()
