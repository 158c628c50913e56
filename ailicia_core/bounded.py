"""One bounded way to read bytes from outside: a size cap, one deadline for the whole operation, and a cut.

A per-read timeout bounds nothing: a peer that sends one byte a second, or a frame that
announces 2 GB, never trips it. Every surface that reads from outside (the event
stream, the app's WebSocket, the dock, watched files) uses these three pieces, with
its numbers from :mod:`ailicia_core.limits`:

- :class:`Cut`: the sockets an operation reads. :meth:`Cut.cut` (any thread) wakes a
  read blocked on them; :meth:`Cut.arm` cuts them when the operation's deadline
  passes, so nothing the peer does (a trickle, a ping flood) can stretch it.
- :class:`Budget`: the cap and the deadline, checked with every piece read
  (:meth:`Budget.take`); over either, it raises :class:`TooLarge` or :class:`TooLate`,
  and after a cut :class:`Stopped`. All three are ``OSError``: a caller that treats
  any I/O failure as "the peer went away" stays right.
- :func:`pieces`: reads a stream ``piece`` bytes at most at a time under a budget, and
  :func:`reader_of` gives a streamed ``requests`` response's "up to n bytes, as soon as
  any are there" read (never a whole HTTP chunk, never decompressed).

:func:`cut_socket` is how a cut stops a read on another thread, on every platform:
``shutdown()`` wakes it on Linux and macOS, but not on Windows, where only closing the
socket's handle does.

A request on an accepted socket (the dock), whole within 5 s and at most 64 KiB::

    cut = Cut("ailicia-dock-deadline")
    cut.adopt(conn)
    cut.arm(5.0)  # and keep ``cut`` where stop can reach it
    try:
        for piece in pieces(conn.recv, Budget(max_bytes=64 * 1024, cut=cut)):
            ...  # TooLarge past the cap, TooLate at the deadline, Stopped after cut.cut()
    finally:
        cut.close()  # before conn.close()

A file: ``pieces(handle.read, Budget(max_bytes=cap))`` (a deadline needs a cut only
when a read can block).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any, Callable, Iterator, List, Optional

from .limits import READ_PIECE_BYTES

#: How often a cut is tried again on a connection whose socket did not exist yet when it was cut.
RECUT_S = 0.05


class BoundExceeded(OSError):
    """A read went past its bounds (base of the three below)."""


class TooLarge(BoundExceeded):
    """More bytes than the cap."""


class TooLate(BoundExceeded):
    """The whole operation's deadline passed."""


class Stopped(BoundExceeded):
    """The operation was cut (stop, or new settings)."""


def cut_socket(sock: Any) -> None:
    """Wake any thread blocked reading or writing ``sock`` (a socket, or None); never raises.

    ``shutdown()`` first: on Linux and macOS it wakes the reader, and the socket stays
    owned by whoever reads it (that thread closes it: closing here could let the number
    be reused under its feet). On Windows ``shutdown()`` does not wake a blocked
    ``recv``; closing the handle does. ``close()`` would not do that: a socket with a
    ``makefile()`` open (``http.client`` always has one) only marks itself closed. So
    the handle is ``detach()``-ed (the socket object forgets it, and its owner's later
    calls fail with "bad file descriptor" rather than reach a reused handle, and its
    own close is a no-op) and then closed.
    """
    if not isinstance(sock, socket.socket):
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    if sys.platform == "win32":
        try:
            handle = sock.detach()
        except (OSError, ValueError):
            return
        if handle is not None and handle >= 0:
            try:
                socket.close(handle)
            except OSError:
                pass


class Cut:
    """The sockets one operation reads, and the means to cut them: now, or at a deadline.

    :meth:`adopt` takes a socket or anything with a ``sock`` attribute (a urllib3
    connection, whose socket may not exist yet: it is looked up at cut time). Once
    :attr:`fired`, whatever is adopted later is cut at once, so a stop that comes
    before the connection does still ends it. :meth:`close` ends the operation: the
    timer stops and nothing is cut any more (the sockets may be closed and their
    numbers reused after that). Thread-safe; the timer is a daemon thread that ends
    when it fires or is disarmed.
    """

    def __init__(self, name: str = "ailicia-cut") -> None:
        self._name = name
        self._lock = threading.Lock()  # held while cutting: close() waits for a cut in progress
        self._targets: List[Any] = []
        self._timer: Optional[threading.Timer] = None
        self._recut: Optional[threading.Timer] = None
        self._closed = False
        #: True once cut (by :meth:`cut` or the deadline).
        self.fired = False
        #: True when the deadline (not a stop) cut it.
        self.expired = False

    def adopt(self, target: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._targets.append(target)
            if self.fired:
                cut_socket(_socket_in(target))

    def arm(self, seconds: float) -> None:
        """Cut in ``seconds`` (replacing any earlier deadline)."""
        with self._lock:
            if self._closed or self.fired:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(max(0.0, seconds), self._expire)
            self._timer.name = self._name
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """No deadline any more (:meth:`cut` still works)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def cut(self) -> None:
        """Cut every socket now, and any adopted later; returns at once.

        A connection adopted before its socket existed (urllib3 reports it just before
        connecting) is cut again every :data:`RECUT_S` until :meth:`close`, so a stop
        that lands in the middle of a connect still ends it.
        """
        with self._lock:
            if self._closed:
                return
            self.fired = True
            unborn = False
            for target in self._targets:
                sock = _socket_in(target)
                unborn = unborn or sock is None
                cut_socket(sock)
            if unborn and self._recut is None:
                self._recut = threading.Timer(RECUT_S, self._cut_again)
                self._recut.name = self._name
                self._recut.daemon = True
                self._recut.start()

    def _cut_again(self) -> None:
        with self._lock:
            self._recut = None
        self.cut()

    def close(self) -> None:
        """The operation is over: no timer, no cut, nothing held."""
        with self._lock:
            self._closed = True
            self._targets = []
            for timer in (self._timer, self._recut):
                if timer is not None:
                    timer.cancel()
            self._timer = self._recut = None

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.expired = True
        self.cut()


def _socket_in(target: Any) -> Any:
    return target if isinstance(target, socket.socket) else getattr(target, "sock", None)


class Budget:
    """A size cap (``max_bytes``, None: none) and a whole-operation deadline (``deadline_s`` from now, None: none).

    :meth:`take` counts each piece read and raises when a bound is passed;
    :meth:`check` raises without counting (before a read). ``cut`` makes a fired
    :class:`Cut` count as :class:`Stopped`. ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_bytes: Optional[int] = None,
        deadline_s: Optional[float] = None,
        cut: Optional[Cut] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.ends_at = None if deadline_s is None else clock() + max(0.0, deadline_s)
        self.cut = cut
        self._clock = clock
        #: Bytes counted so far.
        self.used = 0

    def remaining_s(self) -> Optional[float]:
        """Seconds left before the deadline (0 when passed), None without one."""
        return None if self.ends_at is None else max(0.0, self.ends_at - self._clock())

    def check(self) -> None:
        if self.cut is not None and self.cut.fired and not self.cut.expired:
            raise Stopped("cut")
        if (self.ends_at is not None and self._clock() >= self.ends_at) or (self.cut is not None and self.cut.expired):
            raise TooLate("deadline passed")

    def take(self, count: int) -> None:
        self.used += count
        if self.max_bytes is not None and self.used > self.max_bytes:
            raise TooLarge(f"over {self.max_bytes} bytes")
        self.check()


def pieces(read: Callable[[int], bytes], budget: Budget, piece: int = READ_PIECE_BYTES) -> Iterator[bytes]:
    """Each piece ``read(piece)`` returns, until it returns ``b""``, under ``budget`` (checked before each read)."""
    while True:
        budget.check()
        data = read(piece)
        if not data:
            budget.check()  # an end that a cut caused is the cut (TooLate or Stopped), not the end of the stream
            return
        budget.take(len(data))
        yield data


def reader_of(response: Any) -> Callable[[int], bytes]:
    """``read(n)`` for a streamed ``requests`` response: at most ``n`` bytes, as soon as any are there.

    It reads ``http.client``'s ``read1`` under urllib3 (1.26 and 2.x keep it as
    ``raw._fp``): one piece of one HTTP chunk at most, never a whole chunk, and
    undecoded (a compressed answer is the caller's to refuse, never inflated here).
    Without it (a stand-in response) it falls back on ``iter_content(n)``. Errors are
    ``http.client``'s and ``OSError``s, not ``requests``' (a read timeout is a
    ``socket.timeout``).
    """
    raw = getattr(response, "raw", None)
    read1 = getattr(getattr(raw, "_fp", None), "read1", None)
    if callable(read1):
        return read1
    chunks = response.iter_content(READ_PIECE_BYTES)
    left = bytearray()

    def read(n: int) -> bytes:
        while not left:
            chunk = next(chunks, b"")
            if not chunk:
                return b""
            left.extend(chunk)
        out = bytes(left[:n])
        del left[:n]
        return out

    return read
