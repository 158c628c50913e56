"""The event stream's plumbing, for :mod:`ailicia_core.listener`: its states, opening it, its socket,
its errors, rates and the tally of skipped events.

Kept apart so that the listener reads as its policies.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import requests

from .envelopes import Envelope, RecentIds, parse_envelope
from .settings import normalize_channel
from .sse import SseEvent

# What the listener is doing (words for people are in status.py).
OFF = "off"
CONNECTING = "connecting"
CONNECTED = "connected"
RETRYING = "retrying"
KEY_REJECTED = "key_rejected"
NOT_INCLUDED = "not_included"
NOT_FOUND = "not_found"
#: States in which only new settings make it try again.
HALTED = (KEY_REJECTED, NOT_INCLUDED, NOT_FOUND)


@dataclass(frozen=True)
class ListenerState:
    """A snapshot for the status: ``state`` is one of the constants above; ``retry_at`` is on the clock."""

    state: str = OFF
    retry_at: Optional[float] = None
    connects: int = 0
    drops: int = 0
    dead: int = 0
    duplicates: int = 0
    unreadable: int = 0
    #: Events skipped because too many came at once.
    skipped: int = 0
    #: Events ignored because they belong to another channel.
    other_channel: int = 0


#: Keep-alive events (the docs now say comments; older servers send these): signs of life, never handed over.
PING_TYPES = ("system.ping",)

#: What a read of the stream may raise besides ``requests``' own: http.client's and the socket's errors,
#: and ValueError from a socket closed under a reader (a cut on Windows, an SSL socket detached).
READ_ERRORS = (requests.RequestException, OSError, http.client.HTTPException, ValueError)


def stream_headers(key: str, last_event_id: str, user_agent: str) -> Dict[str, str]:
    """The stream request's headers: uncompressed (a compressed stream could inflate past every bound)."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "text/event-stream",
        "Accept-Encoding": "identity",
        "Cache-Control": "no-cache",
        "User-Agent": user_agent,
    }
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return headers


def open_stream(
    session: requests.Session,
    url: str,
    *,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    timeout: Tuple[float, float],
) -> Any:
    """``GET`` the stream with ``requests`` (streamed, no redirects): the default opener."""
    return session.get(url, params=params, headers=headers, timeout=timeout, stream=True, allow_redirects=False)


class Rate:
    """A token bucket: ``rate`` a second on average after a ``burst``; ``clock`` is monotonic seconds."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self._rate = max(rate, 1e-9)
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._tokens = self._burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
        self._at = now

    def take(self) -> bool:
        """One token if there is one (True), else nothing (False)."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def spend(self, amount: float) -> float:
        """Spend ``amount`` (maybe into debt); returns the seconds to wait until the debt is paid (0: none)."""
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


def socket_of(response: Any) -> Optional[socket.socket]:
    """The socket under a streamed ``requests`` response (urllib3 1.26 and 2.x), or None."""
    raw = getattr(response, "raw", None)
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # http.client's file object over the socket
        sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def is_read_timeout(exc: BaseException) -> bool:
    """True when ``exc`` (requests wraps it twice) is a read timeout rather than a drop."""
    seen = 0
    pending = [exc]
    while pending and seen < 10:
        current = pending.pop()
        seen += 1
        if isinstance(current, (requests.exceptions.ReadTimeout, socket.timeout)):
            return True
        if type(current).__name__ == "ReadTimeoutError":  # urllib3's, without importing urllib3
            return True
        pending.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        if current.__context__ is not None:
            pending.append(current.__context__)
    return False


class SkipTally:
    """Events skipped since the last report, and since when."""

    def __init__(self) -> None:
        self._count = 0
        self._since: Optional[float] = None

    def add(self, now: float) -> None:
        self._count += 1
        if self._since is None:
            self._since = now

    def due(self, now: float, period_s: float, force: bool = False) -> Optional[Tuple[int, float]]:
        """``(count, seconds)`` to report now (and forget), or None: nothing, or not yet ``period_s`` old."""
        if not self._count or self._since is None:
            return None
        span = now - self._since
        if not force and span < period_s:
            return None
        count, self._count, self._since = self._count, 0, None
        return count, span


class EventGate:
    """Which events are handed over: within ``rate``, readable, not a ping, of this channel, not seen yet.

    :attr:`counts` holds what was kept out (and the listener's own counts, which it shares).
    """

    def __init__(self, rate: Rate) -> None:
        self._rate = rate
        self._recent = RecentIds()
        self.skips = SkipTally()
        self.counts: Dict[str, int] = dict.fromkeys(
            ("connects", "drops", "dead", "duplicates", "unreadable", "skipped", "other_channel"), 0
        )

    def admit(self, event: SseEvent, channel: str, now: float) -> Optional[Envelope]:
        """The envelope to hand over, or None (counted). ``channel`` is the configured one, normalized."""
        if not self._rate.take():  # before parsing: the excess of a flood costs next to nothing
            self.counts["skipped"] += 1
            self.skips.add(now)
            return None
        envelope = parse_envelope(event)
        if envelope is None:
            self.counts["unreadable"] += 1
            return None
        if envelope.type in PING_TYPES:
            return None
        if envelope.channel and normalize_channel(envelope.channel) != channel:
            self.counts["other_channel"] += 1
            return None
        if self._recent.seen(envelope.id):
            self.counts["duplicates"] += 1
            return None
        return envelope
