"""The sandbox speaks EventSub: ``GET /v1/eventsub/stream``, events fanned out to every open stream.

What it emits, like the real API (``../shared/api/eventsub.md``): ``system.join``
after a join that lets ai_licia in, ``system.left`` after a leave of a joined
channel, a ``chat.ai_message`` ``ai_message_delay_s`` after each accepted
generation, and whatever a test pushes with :meth:`EventSubSandbox.push_event`
(``character.updated``, a leave by someone else…). Each frame carries ``id``,
``event`` (the envelope's ``type``) and ``data`` (the JSON envelope). The stream
opens with ``retry:`` :data:`RETRY_MS` and sends a ``: ping`` comment every
``eventsub_ping_s``.

Fault switches (:meth:`~.server.Sandbox.set_faults` or the config):
``eventsub_forbidden`` answers 403 (a plan without EventSub);
``eventsub_drop_every_s`` cuts every stream that long after it opened (no final
chunk: the client sees a broken connection); ``eventsub_no_pings`` sends no
keep-alive; ``eventsub_trickle`` writes frames one byte per chunk, with a short
pause between bytes, so CRLFs and UTF-8 sequences arrive split.

The generic fault counters (``drop_first``, ``fail_first``, ``garbage_first``)
leave the stream alone: they stand for trouble in front of the REST calls, and a
test that counts them must not see the listener take one. ``delay_s`` (an API
that hangs) holds the stream's answer too.

A stream ends when the client goes, a drop is due, or the sandbox stops (the
writer waits on a condition that :meth:`EventSubHub.wake_all` notifies), so
:meth:`~.server.Sandbox.stop` still ends within its timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

from .config import Answer, empty_answer

STREAM_PATH = "/v1/eventsub/stream"
#: The ``retry:`` (ms) each stream opens with.
RETRY_MS = 1000
#: Pause between bytes when ``eventsub_trickle`` is on.
TRICKLE_PAUSE_S = 0.001
#: How often an idle stream checks that its client is still there.
CLIENT_CHECK_S = 0.1
#: Frames waiting for one slow stream; beyond this the oldest are dropped (a slow client cannot eat memory).
STREAM_BACKLOG = 1000


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Stream:
    """One open ``/v1/eventsub/stream``: its channel, its type filter and the frames due to it."""

    def __init__(self, channel: str, types: Optional[frozenset]) -> None:
        self.channel = channel
        self.types = types
        self.pending: Deque[Tuple[float, bytes]] = deque(maxlen=STREAM_BACKLOG)
        self.cut = False

    def wants(self, channel: str, kind: str) -> bool:
        return channel == self.channel and (self.types is None or kind in self.types)


class EventSubHub:
    """The open streams and the event counter. Thread-safe; handler threads write, tests publish."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._streams: List[_Stream] = []
        self._seq = 0
        #: One entry per stream opened: ``{"channel", "types", "last_event_id", "t"}``.
        self.connects: List[Dict[str, Any]] = []

    def publish(self, channel: str, kind: str, payload: Dict[str, Any], delay_s: float = 0.0) -> Dict[str, Any]:
        """Queue one event for every open stream of ``channel`` that wants ``kind``; returns the envelope."""
        with self._changed:
            self._seq += 1
            envelope = {
                "id": f"evt_{self._seq}",
                "type": kind,
                "version": "1",
                "timestamp": _now_iso(),
                "channel": {"id": f"ch_{channel}", "name": channel, "platform": "TWITCH"},
                "payload": payload,
            }
            data = json.dumps(envelope, ensure_ascii=False)
            frame = f"id: {envelope['id']}\nevent: {kind}\ndata: {data}\n\n".encode()
            due = time.monotonic() + max(0.0, delay_s)
            for stream in self._streams:
                if stream.wants(channel, kind):
                    stream.pending.append((due, frame))
            self._changed.notify_all()
        return envelope

    def open(self, channel: str, types: Optional[frozenset], last_event_id: str) -> _Stream:
        stream = _Stream(channel, types)
        with self._changed:
            self._streams.append(stream)
            self.connects.append(
                {
                    "channel": channel,
                    "types": sorted(types) if types else None,
                    "last_event_id": last_event_id,
                    "t": time.time(),
                }
            )
            self._changed.notify_all()
        return stream

    def close(self, stream: _Stream) -> None:
        with self._changed:
            if stream in self._streams:
                self._streams.remove(stream)
            self._changed.notify_all()

    def cut_all(self) -> int:
        """Drop every open stream now (as a network cut would); returns how many."""
        with self._changed:
            for stream in self._streams:
                stream.cut = True
            self._changed.notify_all()
            return len(self._streams)

    def wake_all(self) -> None:
        with self._changed:
            self._changed.notify_all()

    @property
    def open_count(self) -> int:
        with self._changed:
            return len(self._streams)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(predicate, timeout))

    def serve(
        self,
        stream: _Stream,
        write: Callable[[bytes], None],
        config: Callable[[], Any],
        stopping: threading.Event,
        client_gone: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Write ``stream``'s frames and pings until it must end; True for a clean end (the sandbox stops)."""
        opened = time.monotonic()
        write(f"retry: {RETRY_MS}\n: connected\n\n".encode())
        last_write = opened
        while True:
            with self._changed:
                now = time.monotonic()
                settings = config()
                if stopping.is_set():
                    return True
                drop_at = opened + settings.eventsub_drop_every_s if settings.eventsub_drop_every_s > 0 else None
                if stream.cut or (drop_at is not None and now >= drop_at) or client_gone():
                    return False
                # Due times need not be in order (an ai_message waits ai_message_delay_s): take every due one.
                due = [frame for at, frame in stream.pending if at <= now]
                if due:
                    kept = [(at, frame) for at, frame in stream.pending if at > now]
                    stream.pending.clear()
                    stream.pending.extend(kept)
                next_due = min((at for at, _ in stream.pending), default=None)
                ping_at = None if settings.eventsub_no_pings else last_write + max(0.05, settings.eventsub_ping_s)
                if not due and not (ping_at is not None and now >= ping_at):
                    wakes = [t for t in (drop_at, ping_at, next_due) if t]
                    # Capped so that a client that went away is noticed (and the stream counted closed) soon.
                    self._changed.wait(min(CLIENT_CHECK_S, max(0.001, min(wakes) - now)) if wakes else CLIENT_CHECK_S)
                    continue
            for frame in due or [b": ping\n\n"]:
                _write_frame(frame, write, settings.eventsub_trickle, stopping)
            last_write = time.monotonic()


def _write_frame(frame: bytes, write: Callable[[bytes], None], trickle: bool, stopping: threading.Event) -> None:
    if not trickle:
        write(frame)
        return
    for index in range(len(frame)):
        if stopping.is_set():
            return
        write(frame[index : index + 1])
        stopping.wait(TRICKLE_PAUSE_S)


class EventSubSandbox:
    """Mixed into :class:`~.server.Sandbox`: the stream route and what tests use to drive events."""

    _eventsub: EventSubHub
    _state_changed: threading.Condition
    _joined: set

    # -- what tests use ------------------------------------------------------------

    def push_event(
        self, kind: str, payload: Dict[str, Any], channel: Optional[str] = None, delay_s: float = 0.0
    ) -> Dict[str, Any]:
        """Send one event to the open streams of ``channel`` (default: the first owned channel)."""
        return self._eventsub.publish((channel or self.current().channels[0]).lower(), kind, payload, delay_s)

    def say(self, message: str, channel: Optional[str] = None, delay_s: float = 0.0) -> Dict[str, Any]:
        """Push a ``chat.ai_message`` with ``message`` as ai_licia's words."""
        return self.push_event("chat.ai_message", _ai_message(message), channel, delay_s)

    @property
    def eventsub_streams(self) -> int:
        """Streams open right now."""
        return self._eventsub.open_count

    @property
    def eventsub_connects(self) -> List[Dict[str, Any]]:
        """Every stream opened so far (channel, types, the ``Last-Event-ID`` it sent), oldest first."""
        return list(self._eventsub.connects)

    def wait_for_eventsub_streams(
        self, count: int = 1, timeout: float = 5.0, *, connects: int = 0, exactly: bool = False
    ) -> bool:
        """Wait until ``count`` streams are open (``exactly``: no more) and ``connects`` were ever opened."""
        hub = self._eventsub

        def reached() -> bool:
            open_now = hub.open_count  # the condition's lock is re-entrant: wait_for holds it
            return (open_now == count if exactly else open_now >= count) and len(hub.connects) >= connects

        return hub.wait_for(reached, timeout)

    def remove_from_chat(self, channel: Optional[str] = None) -> None:
        """Someone else removed ai_licia from chat: she is no longer joined, and ``system.left`` goes out."""
        channel = (channel or self.current().channels[0]).lower()
        with self._state_changed:
            self._joined.discard(channel)
            self._state_changed.notify_all()
        self._eventsub_presence(channel, joined=False)

    def drop_eventsub_streams(self) -> int:
        """Cut every open stream now; returns how many were cut."""
        return self._eventsub.cut_all()

    # -- the route (handler threads) ---------------------------------------------------

    def _eventsub_stream(self, req: Any) -> Answer:
        config = self.current()
        if config.eventsub_forbidden:
            return empty_answer(403)
        query = parse_qs(getattr(req, "query", ""))
        channel = config.channels[0]
        wanted = query.get("channelId", [""])[0]
        if wanted:
            channel = wanted[3:] if wanted.startswith("ch_") else wanted
            if channel not in config.channels:
                return empty_answer(404)
        raw_types = query.get("types", [""])[0]
        types = frozenset(t.strip() for t in raw_types.split(",") if t.strip()) or None

        def stream(write: Callable[[bytes], None], headers: Any, client_gone: Callable[[], bool]) -> bool:
            opened = self._eventsub.open(channel, types, str(headers.get("Last-Event-ID") or ""))
            try:
                return self._eventsub.serve(opened, write, self.current, self._stopping, client_gone)
            finally:
                self._eventsub.close(opened)

        return Answer(200, content_type="text/event-stream", headers=(("Cache-Control", "no-cache"),), stream=stream)

    # -- events the rules emit (handler threads) -------------------------------------------

    def _eventsub_presence(self, channel: str, joined: bool) -> None:
        payload = {"channelId": f"ch_{channel}", "channelName": channel, "sentDateTime": _now_iso()}
        self._eventsub.publish(channel, "system.join" if joined else "system.left", payload)

    def _eventsub_generated(self, channel: str, content: str) -> None:
        words = f"(sandbox) ai_licia reacts: {content[:200]}"
        self._eventsub.publish(channel, "chat.ai_message", _ai_message(words), self.current().ai_message_delay_s)


def _ai_message(message: str) -> Dict[str, Any]:
    return {
        "id": f"msg_{time.monotonic_ns()}",
        "username": "ai_licia",
        "message": message,
        "target": "chat",
        "targetRole": "viewer",
        "shouldGenerateTtsMessage": False,
        "characterId": "char_123",
        "sentDateTime": _now_iso(),
    }
