"""Delivery: the lanes and what one turn of the worker sends. Runs on the worker thread only.

Three lanes (:mod:`ailicia_core.decide`): presence (join/leave), reactions
(generations, paced by :class:`~ailicia_core.pacing.GenerationPacer`) and context
(:class:`~ailicia_core.outbox.ContextOutbox`). Each has its own backoff and its own
reading of 429 and ``Retry-After``: one lane held back never holds another, but a
success on any lane ends every outage backoff, and while something vital waits out
an outage a probe asks whether ai_licia answers again (:class:`~.lanes.Recovery`).
After each failure the lane consults :func:`~ailicia_core.decide.decide`; a rejected key
(a 401 on any lane, or :meth:`Delivery.key_rejected`) pauses every lane until the
key, channel or address changes or a connection test succeeds.

Per turn at most one request goes out, in this order: connection test, join/leave
(unless a leave must wait for context that happened before it), a generation whose
window is open, the context at the head of the outbox, then a due probe.

Every request's outcome is written to the Script Log, to the activity feed
(``engine.activity``) and, as a sentence composed by :mod:`ailicia_core.status`, to
the status.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any, Callable, Dict, Iterator, Optional

from . import character_lane as cl
from . import decide as dt
from . import errors as err
from .activity import ActivityFeed
from .client import make_client
from .compose import SendContext
from .lanes import PROBE_TIMEOUT_S, Lane, Recovery, later
from .logsafe import redact
from .outbox import ContextOutbox, QueuedContext
from .pacing import Batch, GenerationPacer
from .presence import Presence, PresenceRequest
from .settings import Settings
from .status import CONTEXT_GIVE_UP as _CONTEXT_GIVE_UP
from .status import REACTION_GIVE_UP as _REACTION_GIVE_UP
from .status import characters_words, describe_error, describe_hold, describe_presence
from .text import abbreviate

log = logging.getLogger("ailicia")


class Delivery:
    """Settings, lanes, queues and the last outcomes; the worker calls :meth:`step` once per turn."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        rng: Callable[[], float],
        session: Any = None,
        activity: Optional[ActivityFeed] = None,
    ) -> None:
        self.clock = clock
        self._wall_clock = wall_clock
        self._session = session
        self.activity = activity if activity is not None else ActivityFeed()
        self.settings = settings
        self.lanes: Dict[str, Lane] = {name: Lane(policy, rng) for name, policy in dt.LANES.items()}
        self.recovery = Recovery(clock, rng, self.lanes)  # a success on any lane ends every outage backoff
        self.outbox = ContextOutbox()
        self.pacer = GenerationPacer(settings.generation_cooldown_s)
        self.presence = Presence()
        self.characters = cl.CharacterLane()  # switches ride the `character` lane
        self.notes: tuple = ()
        self.live = False
        self.paused_reason = ""
        self.automatic_paused = False
        self.pending_test = False
        self.busy: Optional[str] = None
        self.connection = "Connection not tested yet."
        #: The active character's name as last heard (a connection test, later the live events).
        self.active_character = ""
        self.on_character_activated: Callable[[str], None] = lambda name: None  # the engine tells the hearing
        self.last_success = ""
        self.last_error = ""
        self._client: Any = None

    # --- state ----------------------------------------------------------------------

    def name_active(self, active: str, *, tested: bool = False) -> None:
        """``active`` is the active character (a test, or the script's own accepted switch) in every line."""
        names, self.active_character = self.characters.names(), self.safe(abbreviate(active, 60))
        if names or tested:  # the connection test's lines name the active character too
            self.notes = (self.safe(characters_words(names, active)),)  # names to copy
            shown = f", active: {abbreviate(active, 40)}" if active else ""
            self.connection = self.safe(f"Connected: ai_licia accepted the key ({len(names)} character(s){shown}).")

    def can_send(self) -> bool:
        return not self.paused_reason and (self.settings.is_configured or self.settings.dry_run)

    def cannot_send_reason(self) -> str:
        if self.paused_reason:
            return self.paused_reason
        blocking = [p.message for p in self.settings.problems if p.blocking]
        return " ".join(blocking) or "sending is not possible right now."

    def has_work(self) -> bool:
        waiting = len(self.outbox) or self.pacer.has_work() or self.presence.has_work() or self.characters.pending
        return bool(self.pending_test or waiting)

    def holds(self, now: float) -> tuple:
        return tuple(describe_hold(*held) for held in (lane.hold(now) for lane in self.lanes.values()) if held)

    def keep_joining(self) -> bool:
        """While live with auto_join on, a join never gives up on network or server trouble."""
        return self.live and self.settings.auto_join and self.settings.enabled

    def apply_settings(self, new: Settings) -> None:
        old, self.settings = self.settings, new
        self.pacer.set_cooldown(new.generation_cooldown_s)
        if new.connection_key != old.connection_key or new.dry_run != old.dry_run:
            self.close_client()
            self.characters.forget()
            for lane in self.lanes.values():
                lane.reset()
            if self.paused_reason:
                log.info("Settings changed: sending resumes.")
            self.paused_reason = ""
            self.connection = "Connection not tested yet."
        if [p.message for p in new.problems] != [p.message for p in old.problems]:
            for problem in new.problems:
                log.warning("Settings: %s", problem.message)

    def key_rejected(self, error: Optional[err.ApiError] = None) -> None:
        """Enter the key pause (a 401 here or elsewhere): nothing goes until the settings change."""
        error = error or err.AuthError("event stream", err.KEY_REJECTED, status_code=401, channel=self.settings.channel)
        reason = self.safe(describe_error(error))
        if reason != self.paused_reason:
            log.warning("%s", reason)
        self.paused_reason = reason

    def queue_context(self, action: SendContext, at: float) -> None:
        if self.automatic_paused and action.kind not in ("manual", "stream"):
            return
        dropped = self.outbox.add(action, at, self.settings.scene_debounce_ms / 1000.0)
        if dropped is not None:
            self.record("context", dropped.action.content, "dropped", "Too much context was waiting.")
            count = self.outbox.dropped
            if count in (1, 10) or count % 100 == 0:
                log.warning("Too much context is waiting; dropped the oldest automatic one (%d so far).", count)

    # --- one turn ---------------------------------------------------------------------

    def step(self) -> Optional[float]:
        """Send at most one request; returns when the next one is due (worker clock), None when idle."""
        now = self.clock()
        if self.pending_test:
            self.pending_test = False
            self.test_connection()
            return now
        if not self.can_send():
            return None
        if self.characters.ready(now, self.lanes[dt.CHARACTER]):  # its own lane: never held by context
            cl.switch(self)
            return now
        presence, reactions, context = (self.lanes[dt.PRESENCE], self.lanes[dt.REACTIONS], self.lanes[dt.CONTEXT])
        for item in self.outbox.expire(now):
            log.info("Context expired before it could be sent (ttl): %s", abbreviate(item.action.content))
            self.record("context", item.action.content, "dropped", "Its ttl passed before it could be sent.")
        if not presence.blocked(now) and not self._context_goes_first(now):
            request = self.presence.take(now)
            if request is not None:
                self.send_presence(request)
                return now
        if not reactions.blocked(now):
            batch = self.pacer.take(now)
            if batch is not None:
                self.send_generation(batch)
                return now
        head = self.outbox.due(now)
        if head is not None and not context.blocked(now):
            self.send_context(head)
            return now
        probe_at = self.recovery.probe_at(presence_waits=self.presence.has_work(), context=self.outbox.head())
        if probe_at is not None and probe_at <= now:
            self.probe()
            return now
        upcoming = [
            later(self.presence.due_at(), presence),
            later(self.pacer.due_at(), reactions),
            later(self.outbox.due_at(), context),
            later(self.characters.due_at(), self.lanes[dt.CHARACTER]),
            probe_at,
        ]
        upcoming = [t for t in upcoming if t is not None]
        return min(upcoming) if upcoming else None

    def _context_goes_first(self, now: float) -> bool:
        """True when a leave must wait for context that happened before it ("Stream ended…")."""
        asked_at, head = self.presence.requested_at(), self.outbox.head()
        if asked_at is None or head is None:
            return False
        return head.happened_at <= asked_at and head.not_before <= now and not self.lanes[dt.CONTEXT].blocked(now)

    # --- the lanes' requests -------------------------------------------------------------

    def probe(self) -> None:
        """Ask whether ai_licia answers again (a GET without side effects); a success wakes the lanes."""
        try:
            with self.in_flight("probe"):
                characters = self.client().list_characters(timeout=PROBE_TIMEOUT_S)
        except err.AuthError as exc:
            self.key_rejected(exc)
        except err.ApiError as exc:  # the lanes' holds already say what is wrong: one line each, not one per probe
            self.recovery.probe_failed(exc)
        else:
            self.characters.learn(characters)
            self.recovery.answered()

    def send_context(self, item: QueuedContext, timeout: Optional[float] = None) -> bool:
        now = self.clock()
        ttl = None if item.expires_at is None else max(1, math.ceil(item.expires_at - now))
        content = item.action.content
        try:
            with self.in_flight("context"):
                self.client().send_context(content, event_type=item.action.event_type, ttl=ttl, timeout=timeout)
        except err.ApiError as exc:
            item.tries += 1
            decision = self.lanes[dt.CONTEXT].after(exc, item.tries, self.clock())
            if isinstance(decision, dt.GiveUp):
                self.outbox.remove(item)
            self._failed("context", content, exc, decision)
            return False
        self.outbox.remove(item)
        self.lanes[dt.CONTEXT].succeeded()
        self._sent("context", content, f"context: {abbreviate(content)}")
        return True

    def send_generation(self, batch: Batch, timeout: Optional[float] = None) -> None:
        try:
            with self.in_flight("generation"):
                self.client().send_generation(
                    batch.content, event_type=batch.event_type, timeout=timeout, features=dict(batch.features) or None
                )
        except err.ApiError as exc:
            now = self.clock()
            decision = self.lanes[dt.REACTIONS].after(exc, batch.tries + 1, now)
            if isinstance(decision, (dt.Retry, dt.Pause)):
                self.pacer.requeue(batch)
                if isinstance(exc, err.RateLimitedError):
                    self.pacer.sent(now)  # the window restarts: the server counted this one
                if isinstance(decision, dt.Retry) and not self.lanes[dt.REACTIONS].outage:
                    self.pacer.hold_until(decision.at)  # the server's wait; an outage's is the lane's, and may end
            else:
                self.pacer.sent(now)
            self._failed("reaction", batch.content, exc, decision)
            return
        self.pacer.sent(self.clock())
        self.lanes[dt.REACTIONS].succeeded()
        presses = f" ({batch.presses} presses)" if batch.presses > 1 else ""
        self._sent("reaction", batch.content, f"reaction{presses}: {abbreviate(batch.content)}")

    def send_presence(self, request: PresenceRequest, timeout: Optional[float] = None) -> None:
        kind = "join" if request.join else "leave"
        try:
            with self.in_flight(kind):
                client = self.client()
                result = client.join(timeout=timeout) if request.join else client.leave(timeout=timeout)
        except err.ApiError as exc:
            now = self.clock()
            keep = request.join and self.keep_joining()
            decision = self.lanes[dt.PRESENCE].after(exc, request.attempts + 1, now, keep_trying=keep)
            note = self.presence.failed(request, exc, decision, now, keep_trying=keep)
            if isinstance(decision, dt.Pause):
                self.key_rejected(exc)
                self.record(kind, request.reason, "waiting", self.paused_reason)
            else:
                self.note_problem(
                    kind,
                    request.reason,
                    describe_presence(note),
                    "waiting" if isinstance(decision, dt.Retry) else "failed",
                )
            return
        self.lanes[dt.PRESENCE].succeeded()
        if request.join:
            note = self.presence.joined(request, result, self.clock())
        else:
            note = self.presence.left(request, dry_run=self.settings.dry_run)
        line = describe_presence(note)
        if note.kind in ("in_chat", "already", "left", "dry_run"):
            self.note_success(kind, request.reason, line, outcome="info" if note.kind == "dry_run" else "sent")
        else:
            self.note_problem(kind, request.reason, line, "waiting" if note.kind == "confirm_retry" else "failed")

    def test_connection(self) -> None:
        settings = self.settings
        if not settings.is_configured:
            self.connection = "Cannot test yet: " + " ".join(p.message for p in settings.problems if p.blocking)
            log.warning("%s", self.connection)
            self.record("test", "Test connection", "failed", self.connection)
            return
        client = make_client(settings, session=self._session, send=True)  # GET has no side effect
        try:
            with self.in_flight("test"):
                characters = client.list_characters()
        except err.ApiError as exc:
            if isinstance(exc, err.AuthError):
                self.key_rejected(exc)
                self.connection = "Connection test: " + self.paused_reason
                self.record("test", "Test connection", "failed", self.connection)
            else:
                self.connection = self.safe("Connection test failed: " + exc.message)
                self.note_problem("test", "Test connection", self.connection, "failed")
            return
        finally:
            client.close()
        self.characters.learn(characters)
        self.name_active(next((c.name for c in characters if c.is_active), ""), tested=True)
        if self.paused_reason:
            self.paused_reason = ""
            log.info("The key works again: sending resumes.")
        self.recovery.answered()  # a wait the server asked for (429, Retry-After) still holds
        self.note_success("test", "Test connection", self.connection)

    # --- outcomes ------------------------------------------------------------------------

    def _failed(self, kind: str, content: str, exc: err.ApiError, decision: dt.Decision) -> None:
        if isinstance(decision, dt.Pause):
            self.key_rejected(exc)
            self.record(kind, content, "waiting", self.paused_reason)
            return
        short = abbreviate(content, 40 if kind == "reaction" else 60)
        if isinstance(decision, dt.Retry):
            held = self.lanes[dt.CONTEXT].hold(self.clock()) if kind == "context" else None
            line = f"{exc.message} {describe_hold(*held) if held else 'The reaction waits for the next window.'}"
            self.note_problem(kind, content, line, "waiting")
        elif decision.reason == dt.MAY_HAVE_ARRIVED:
            # Resending could make ai_licia react twice; the streamer can press again.
            words = f"The reaction '{short}' may not have happened; it was not resent to avoid a double reaction."
            self.note_problem(kind, content, f"{exc.message} {words}", "failed")
        else:
            words = _REACTION_GIVE_UP if kind == "reaction" else _CONTEXT_GIVE_UP
            self.note_problem(
                kind, content, f"{exc.message} {words.get(decision.reason, 'Gave up on: {}').format(short)}", "failed"
            )

    def _sent(self, kind: str, content: str, what: str) -> None:
        if self.settings.dry_run:
            self.note_success(kind, content, f"Dry run: would have sent {what}", outcome="info")  # nothing was sent
        else:
            self.note_success(kind, content, f"Sent {what}")

    def safe(self, text: str) -> str:
        """``text`` with the key masked in any letter case (a key pasted into the channel box is lowercased)."""
        key = self.settings.api_key.reveal()
        return redact(text, (key, key.lower(), key.upper()) if len(key) >= 8 else ())

    def note_success(self, kind: str, content: str, line: str, outcome: str = "sent") -> None:
        line = self.safe(line)
        self.last_success = f"{self._time_of_day()} {line}"
        log.info("%s", line)
        self.record(kind, content, outcome, line)

    def note_problem(self, kind: str, content: str, line: str, outcome: str) -> None:
        self.error(line)
        self.record(kind, content, outcome, line)

    def error(self, line: str) -> None:
        line = self.safe(line)
        self.last_error = f"{self._time_of_day()} {line}"
        log.warning("%s", line)

    def record(self, kind: str, content: str, outcome: str, detail: str = "") -> None:
        self.activity.add(self._wall_clock(), kind, content, outcome, self.safe(detail))

    def _time_of_day(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self._wall_clock()))

    # --- the client ------------------------------------------------------------------------

    @contextlib.contextmanager
    def in_flight(self, what: str) -> Iterator[None]:
        """Marks what is being sent (the worker's stop checks whether it is stuck) and tells when it ended."""
        self.busy = what
        try:
            yield
        finally:
            self.busy = None
            self.recovery.request_ended()

    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings, session=self._session)
        return self._client

    def close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
