"""DeliveryWorker: the one background thread that owns all network I/O.

Callers on OBS threads only ever append to an inbox and set an Event
(:meth:`DeliveryWorker.submit`): no I/O, no sleeping, no lock the worker holds
while it talks to the network. The worker drains the inbox, lets
:func:`~ailicia_core.compose.compose` decide what to send, and sends one request
at a time in this order of priority: connection test, join/leave, a paced
generation, then context in arrival order.

Policies, stated once:

- **Inbox overflow.** Automatic context events (scene, source, mute, recording)
  wait in an inbox of :data:`INBOX_CAPACITY`; when it is full the *oldest* is
  dropped (newer state supersedes older) and counted. Stream start/stop, hotkeys,
  buttons and settings changes are never dropped: they are rare and they matter.
- **Context backlog.** Composed context waiting to be sent is bounded by
  :data:`CONTEXT_BACKLOG`; overflow drops the oldest, counted in the status.
- **Order and debounce.** Context goes out in the order events happened; a leave
  waits for context that happened before it (ai_licia hears "Stream ended" while
  still in chat), a join goes before anything queued after it. A scene
  switch waits ``scene_debounce_ms`` before it may go; if another switch comes
  within that time, the first is never sent.
- **Failures.** Network errors, 5xx and a 429 on context back off for *all*
  sending (:class:`~ailicia_core.backoff.Backoff`: exponential, capped, jittered).
  A context event gives up after :data:`MAX_CONTEXT_TRIES` tries or once its ttl
  has passed. A 401 pauses sending until the key, channel or address changes.
  400/403/404/422 drop the request with a status message.
- **Shutdown.** :meth:`stop` returns by its deadline whatever the server does. The
  worker then sends, in this order and while time remains, a pending leave (or the
  leave for a live stream when OBS quits), waiting context, and one generation if
  its window is open. If the worker is stuck in a slow request when a leave is
  needed, a one-off courier thread sends the leave.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable, Deque, Optional

from . import errors as err
from . import events as ev
from .backoff import Backoff
from .character_lane import ALREADY_ACTIVE, CharacterLane
from .client import ApiClient, DryRunClient
from .compose import ChangePresence, Notice, SendContext, SendGeneration, StreamState, SwitchCharacter, compose
from .pacing import Batch, GenerationPacer
from .presence import Presence, PresenceRequest
from .settings import Settings
from .status import Status, character_words, characters_words
from .text import abbreviate

log = logging.getLogger("ailicia")

INBOX_CAPACITY = 1000
CONTEXT_BACKLOG = 200
MAX_CONTEXT_TRIES = 8
#: Below this much time left at shutdown, no new request is started.
MIN_SHUTDOWN_SLICE_S = 0.1

_LOSSY = (ev.SceneSwitched, ev.SourceVisibilityChanged, ev.AudioMuteChanged, ev.RecordingStarted,
          ev.RecordingStopped, ev.RecordingPaused, ev.RecordingResumed)


@dataclass
class _QueuedContext:
    action: SendContext
    happened_at: float
    not_before: float
    expires_at: Optional[float]
    tries: int = 0


class _Command:
    """A button press for the worker: ``name`` is test_connection, join or leave."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class DeliveryWorker:
    """Queues, paces and sends; see the module docstring for every policy."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float], wall_clock: Callable[[], float],
                 rng: Callable[[], float], session: Any = None) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._session = session
        self._seq = itertools.count()
        self._lossy: Deque = deque(maxlen=INBOX_CAPACITY)
        self._vital: Deque = deque()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._stop_requested = False
        self._stop_deadline = 0.0
        self._stop_leave = False
        self._leave_claim = threading.Lock()
        self._idle = threading.Condition()
        self._flushed_all = True

        self._settings = settings
        self._client: Any = None
        self._state = StreamState()
        self._context: Deque[_QueuedContext] = deque()
        self._pacer = GenerationPacer(settings.generation_cooldown_s)
        self._presence = Presence()
        self._backoff = Backoff(rng)
        #: Character switches (issue 13): their own lane and backoff; see character_lane.py.
        self._character_lane = CharacterLane(rng)
        self._paused_reason = ""
        self._pending_test = False
        self._busy: Optional[str] = None
        self._in_turn = False
        self.inbox_dropped = 0
        self._context_dropped = 0
        self._connection = "Connection not tested yet."
        self._last_success = ""
        self._last_error = ""
        self._notes: tuple = ()
        self._status = Status()
        self._publish()

    # --- called from any thread (never blocks) ------------------------------------

    def submit(self, event: ev.DomainEvent) -> None:
        """Queue a domain event; see "Inbox overflow" in the module docstring."""
        item = (next(self._seq), self._clock(), event)
        if isinstance(event, _LOSSY):
            if len(self._lossy) >= INBOX_CAPACITY:
                self.inbox_dropped += 1
            self._lossy.append(item)
        else:
            self._vital.append(item)
        self._wake.set()

    def submit_settings(self, settings: Settings) -> None:
        self._vital.append((next(self._seq), self._clock(), settings))
        self._wake.set()

    def submit_command(self, name: str) -> None:
        self._vital.append((next(self._seq), self._clock(), _Command(name)))
        self._wake.set()

    def snapshot(self, settings: Settings) -> Status:
        """The latest status, completed with ``settings``' problems and the live countdown."""
        problems = tuple(p.message for p in settings.problems)
        return replace(
            self._status,
            configured=settings.is_configured,
            problems=problems,
            enabled=settings.enabled,
            dry_run=settings.dry_run,
            next_generation_in_s=self._pacer.seconds_until_allowed(self._clock()),
        )

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ailicia-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float, *, leave_if_live: bool = False) -> bool:
        """Stop by ``timeout`` seconds from now, sending what fits first; True if nothing was left."""
        deadline = time.monotonic() + max(0.0, timeout)
        self._stop_deadline = deadline
        self._stop_leave = leave_if_live
        self._stop_requested = True
        self._wake.set()
        if self._thread is None:
            self._final_flush(deadline)
            return self._flushed_all
        courier = None
        if self._leave_wanted_at_stop() and self._busy not in (None, "leave"):
            # The worker is stuck in a slow request (a join can take 10 s): the leave must not wait for it.
            courier = threading.Thread(target=self._courier_leave, args=(deadline,),
                                       name="ailicia-leave", daemon=True)
            courier.start()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if courier is not None:
            courier.join(max(0.0, deadline - time.monotonic()))
        finished = not self._thread.is_alive()
        if not finished:
            unsent = len(self._context) + self._pacer.waiting_presses
            log.warning("ai_licia did not answer before OBS closed; %d waiting request(s) were not sent.", unsent)
        return finished and self._flushed_all

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (tests and the command line only)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while not self._is_idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.05))
        return True

    def run_once(self) -> Optional[float]:
        """One turn of the loop without waiting: drain, send at most one request, publish.

        Returns when (on the worker's clock) the next turn has work, or None when
        idle. Tests with a fake clock drive the worker with this instead of a thread.
        """
        self._in_turn = True  # wait_idle must not see the gap between taking work and sending it
        self._wake.clear()
        self._drain_inbox()
        due = self._guarded_step()
        self._in_turn = False
        self._publish()
        return due

    # --- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop_requested:
            due = self.run_once()
            if self._stop_requested:
                break
            wait = None if due is None else due - self._clock()
            if wait is None or wait > 0:
                self._wake.wait(None if wait is None else min(wait, 3600.0))
        try:
            self._final_flush(self._stop_deadline)
        except Exception:  # never let a shutdown detail escape into OBS
            log.debug("ai_licia-obs: error while shutting down", exc_info=True)
        self._publish()

    def _guarded_step(self) -> Optional[float]:
        try:
            return self._step()
        except Exception as exc:  # a bug must not kill the only network thread
            self._error(f"Internal error in ai_licia-obs ({type(exc).__name__}); carrying on.")
            log.debug("ai_licia-obs internal error", exc_info=True)
            return self._clock() + 1.0

    def _is_idle(self) -> bool:
        """Nothing will happen without new input: the inbox is empty and nothing can be sent."""
        if self._in_turn or self._lossy or self._vital or self._pending_test or self._busy:
            return False
        stuck = not self._can_send()  # paused or unconfigured: waiting for new settings
        return stuck or not (self._context or self._pacer.has_work() or self._presence.pending
                             or self._character_lane.pending)

    # --- intake (worker thread) -----------------------------------------------------

    def _drain_inbox(self) -> None:
        while self._lossy or self._vital:
            lossy_seq = self._lossy[0][0] if self._lossy else math.inf
            vital_seq = self._vital[0][0] if self._vital else math.inf
            try:
                _, at, item = (self._lossy if lossy_seq < vital_seq else self._vital).popleft()
            except IndexError:  # emptied by overflow between the peek and the pop
                continue
            self._apply(at, item)

    def _apply(self, at: float, item: Any) -> None:
        if isinstance(item, Settings):
            self._apply_settings(item)
        elif isinstance(item, _Command):
            self._apply_command(item.name, at)
        else:
            self._state, actions = compose(item, self._settings, self._state, at)
            for action in actions:
                self._accept(action, at)

    def _apply_settings(self, new: Settings) -> None:
        old, self._settings = self._settings, new
        self._pacer.cooldown_s = float(new.generation_cooldown_s)
        if new.connection_key != old.connection_key or new.dry_run != old.dry_run:
            self._close_client()
            self._backoff.succeeded()
            self._character_lane.forget()
            if self._paused_reason:
                log.info("Settings changed: sending resumes.")
            self._paused_reason = ""
            self._connection = "Connection not tested yet."
        if [p.message for p in new.problems] != [p.message for p in old.problems]:
            for problem in new.problems:
                log.warning("Settings: %s", problem.message)

    def _apply_command(self, name: str, at: float) -> None:
        if name == "test_connection":
            self._pending_test = True
        elif name in ("join", "leave"):
            if not self._can_send():
                self._error(self._cannot_send_reason())
                return
            self._presence.request(name == "join", "you pressed the button", at)

    def _accept(self, action: Any, at: float) -> None:
        if isinstance(action, Notice):
            self._note(action.message)
            return
        if not self._can_send():
            if isinstance(action, SendGeneration):
                self._error(f"Reaction not sent: {self._cannot_send_reason()}")
            return
        if isinstance(action, SendContext):
            self._queue_context(action, at)
        elif isinstance(action, SwitchCharacter):
            self._character_lane.request(action.scene, action.character, at, self._settings.scene_debounce_ms / 1000.0)
        elif isinstance(action, SendGeneration):
            problem = self._pacer.add(action.content, action.event_type, action.features)
            if problem:
                self._error(problem)
        elif isinstance(action, ChangePresence):
            self._presence.request(action.join, action.reason, at)

    def _queue_context(self, action: SendContext, at: float) -> None:
        debounce = self._settings.scene_debounce_ms / 1000.0
        if action.kind == "scene" and debounce > 0:
            self._drop_superseded_scene(at, debounce)
        if len(self._context) >= CONTEXT_BACKLOG:
            self._context.popleft()
            self._context_dropped += 1
            if self._context_dropped in (1, 10) or self._context_dropped % 100 == 0:
                log.warning("Too much context is waiting; dropped the oldest (%d so far).", self._context_dropped)
        ttl = action.ttl
        self._context.append(_QueuedContext(
            action=action,
            happened_at=at,
            not_before=at + (debounce if action.kind == "scene" else 0.0),
            expires_at=at + ttl if ttl else None,
        ))

    def _drop_superseded_scene(self, at: float, debounce: float) -> None:
        for queued in reversed(self._context):
            if queued.action.kind == "scene":
                if queued.tries == 0 and at - queued.happened_at < debounce:
                    self._context.remove(queued)
                    log.debug("Scene switch superseded within the debounce: %s", abbreviate(queued.action.content))
                return

    # --- sending (worker thread) ----------------------------------------------------

    def _step(self) -> Optional[float]:
        now = self._clock()
        if self._pending_test:
            self._pending_test = False
            self._test_connection()
            return now
        if not self._can_send():
            return None
        if self._character_lane.ready(now):  # its own lane: a context backoff never holds it
            self._switch_character()
            return now
        if self._backoff.blocked(now):
            return min(t for t in (self._backoff.until, self._character_lane.due_at()) if t is not None)
        if not self._context_goes_first(now):
            request = self._presence.take(now)
            if request is not None:
                self._send_presence(request)
                return now
        batch = self._pacer.take(now)
        if batch is not None:
            self._send_generation(batch)
            return now
        self._drop_expired(now)
        if self._context and self._context[0].not_before <= now:
            self._send_context(self._context[0])
            return now
        upcoming = [t for t in (self._presence.due_at(), self._pacer.due_at(), self._character_lane.due_at(),
                                self._context[0].not_before if self._context else None) if t is not None]
        return min(upcoming) if upcoming else None

    def _context_goes_first(self, now: float) -> bool:
        """True when a leave must wait for context that happened before it ("Stream ended…")."""
        pending = self._presence.pending
        head = self._context[0] if self._context else None
        return (pending is not None and not pending.join and head is not None
                and head.happened_at <= pending.requested_at and head.not_before <= now)

    def _send_context(self, item: _QueuedContext, timeout: Optional[float] = None) -> bool:
        now = self._clock()
        ttl = None if item.expires_at is None else max(1, math.ceil(item.expires_at - now))
        try:
            with self._in_flight("context"):
                self._get_client().send_context(item.action.content, event_type=item.action.event_type,
                                                ttl=ttl, timeout=timeout)
        except err.AuthError as exc:
            self._pause(exc)
            return False
        except err.ApiError as exc:
            if not exc.retryable:
                self._remove_context(item)
                self._error(f"{exc.message} Not sent: {abbreviate(item.action.content)}")
                return False
            item.tries += 1
            if item.tries >= MAX_CONTEXT_TRIES:
                self._remove_context(item)
                self._error(f"{exc.message} Gave up on: {abbreviate(item.action.content)}")
            else:
                wait = self._backoff.failed(self._clock(), getattr(exc, "retry_after", None))
                self._error(f"{exc.message} Trying again in {wait:.0f} s.")
            return False
        self._remove_context(item)
        self._backoff.succeeded()
        self._success(f"Sent context: {abbreviate(item.action.content)}")
        return True

    def _send_generation(self, batch: Batch, timeout: Optional[float] = None) -> None:
        try:
            with self._in_flight("generation"):
                self._get_client().send_generation(batch.content, event_type=batch.event_type, timeout=timeout,
                                                   features=dict(batch.features) or None)
        except err.RateLimitedError as exc:
            problem = self._pacer.rate_limited(batch, self._clock(), exc.retry_after)
            self._error(problem or f"{exc.message} The reaction waits for the next window.")
            return
        except err.AuthError as exc:
            self._pacer.retry_later(batch)
            self._pause(exc)
            return
        except err.ApiError as exc:
            if not exc.retryable:
                self._pacer.sent(self._clock())
                self._error(f"{exc.message} Reaction not sent: {abbreviate(batch.content, 40)}")
            elif exc.may_have_arrived:
                # Resending could make ai_licia react twice; the streamer can press again.
                self._pacer.sent(self._clock())
                self._error(f"{exc.message} The reaction '{abbreviate(batch.content, 40)}' may not have "
                            "happened; it was not resent to avoid a double reaction.")
            else:
                wait = self._backoff.failed(self._clock())
                problem = self._pacer.retry_later(batch)
                self._error(problem or f"{exc.message} The reaction waits; trying again in {wait:.0f} s.")
            return
        self._pacer.sent(self._clock())
        self._backoff.succeeded()
        presses = f" ({batch.presses} presses)" if batch.presses > 1 else ""
        self._success(f"Sent reaction{presses}: {abbreviate(batch.content)}")

    def _send_presence(self, request: PresenceRequest, timeout: Optional[float] = None) -> None:
        client = self._get_client()
        try:
            with self._in_flight("join" if request.join else "leave"):
                if request.join:
                    result = client.join(timeout=timeout)
                else:
                    client.leave(timeout=timeout)
        except err.AuthError as exc:
            self._presence.failed(request, exc, self._clock(), self._clock())
            self._pause(exc)
            return
        except err.ApiError as exc:
            retry_at = self._clock()
            if self._presence.will_retry(exc):
                retry_at += self._backoff.failed(self._clock())
            self._error(self._presence.failed(request, exc, self._clock(), retry_at))
            return
        self._backoff.succeeded()
        if request.join:
            line = self._presence.joined(request, result, self._clock())
            if self._presence.in_chat:
                self._success(line)
            else:
                self._error(line)
        else:
            self._success(self._presence.left(request))

    def _test_connection(self) -> None:
        settings = self._settings
        if not settings.is_configured:
            self._connection = "Cannot test yet: " + " ".join(p.message for p in settings.problems if p.blocking)
            log.warning(self._connection)
            return
        # GET /v1/characters has no side effect, so it is sent even in dry run.
        client = ApiClient(base_url=settings.api_base_url, api_key=settings.api_key, channel=settings.channel,
                           session=self._session)
        try:
            with self._in_flight("test"):
                characters = client.list_characters()
        except err.AuthError as exc:
            self._connection = "Connection test: " + exc.message
            self._pause(exc)
            return
        except err.ApiError as exc:
            self._connection = "Connection test failed: " + exc.message
            self._error(self._connection)
            return
        finally:
            client.close()
        active = next((c.name for c in characters if c.is_active), "")
        self._character_lane.learn(characters)
        self._connection = (f"Connected: ai_licia accepted the key ({len(characters)} character(s)"
                            + (f", active: {abbreviate(active, 40)}" if active else "") + ").")
        self._note(characters_words(tuple(c.name for c in characters), active))  # names to copy
        if self._paused_reason:
            self._paused_reason = ""
            log.info("The key works again: sending resumes.")
        self._backoff.succeeded()
        self._success(self._connection)

    def _switch_character(self) -> None:
        """Send the character lane's pending switch (issue 13)."""
        try:
            with self._in_flight("character"):
                outcome = self._character_lane.send(self._get_client(), self._clock())
        except err.AuthError as exc:
            self._pause(exc)
            return
        words = character_words(outcome.outcome, outcome.name, outcome.scene, outcome.known)
        if outcome.outcome == ALREADY_ACTIVE:
            log.info("%s", words)  # nothing was sent: not worth the panel's "Last success"
        elif outcome.ok:
            self._success(words)
        else:
            self._error(words)

    # --- shutdown -------------------------------------------------------------------

    def _leave_wanted_at_stop(self) -> bool:
        settings = self._settings
        live_leave = self._stop_leave and self._state.live and settings.auto_leave and settings.enabled
        return self._can_send() and (self._presence.pending_leave() or live_leave)

    def _final_flush(self, deadline: float) -> None:
        self._drain_inbox()
        left_behind = 0
        if self._leave_wanted_at_stop() and self._leave_claim.acquire(blocking=False):
            self._presence.pending = PresenceRequest(join=False, reason="OBS is closing", due_at=0.0)
            request = self._presence.take(math.inf)
            if self._time_left(deadline) and request is not None:
                self._send_presence(request, timeout=deadline - time.monotonic())
            else:
                left_behind += 1
        if self._can_send() and not self._backoff.blocked(self._clock()):
            while self._context and self._time_left(deadline):
                if not self._send_context(self._context[0], timeout=deadline - time.monotonic()):
                    break
            batch = self._pacer.take(self._clock())
            if batch is not None and self._time_left(deadline):
                self._send_generation(batch, timeout=deadline - time.monotonic())
        left_behind += len(self._context) + self._pacer.drop_all()
        if left_behind:
            log.warning("OBS is closing: %d request(s) to ai_licia could not be sent in time.", left_behind)
        self._flushed_all = left_behind == 0
        self._close_client()

    def _courier_leave(self, deadline: float) -> None:
        if not self._leave_claim.acquire(blocking=False):
            return
        settings = self._settings
        client_type = DryRunClient if settings.dry_run else ApiClient
        client = client_type(base_url=settings.api_base_url, api_key=settings.api_key, channel=settings.channel)
        try:
            client.leave(timeout=max(MIN_SHUTDOWN_SLICE_S, deadline - time.monotonic()))
            log.info("ai_licia was asked to leave chat (OBS is closing).")
        except err.ApiError as exc:
            log.warning("Could not ask ai_licia to leave chat while OBS closed: %s", exc.message)
        finally:
            client.close()

    @staticmethod
    def _time_left(deadline: float) -> bool:
        return deadline - time.monotonic() > MIN_SHUTDOWN_SLICE_S

    # --- helpers --------------------------------------------------------------------

    def _can_send(self) -> bool:
        return not self._paused_reason and (self._settings.is_configured or self._settings.dry_run)

    def _cannot_send_reason(self) -> str:
        if self._paused_reason:
            return self._paused_reason
        blocking = [p.message for p in self._settings.problems if p.blocking]
        return " ".join(blocking) or "sending is not possible right now."

    def _get_client(self) -> Any:
        if self._client is None:
            settings = self._settings
            client_type = DryRunClient if settings.dry_run else ApiClient
            self._client = client_type(base_url=settings.api_base_url, api_key=settings.api_key,
                                       channel=settings.channel, session=self._session)
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _in_flight(self, what: str) -> _InFlight:
        return _InFlight(self, what)

    def _remove_context(self, item: _QueuedContext) -> None:
        try:
            self._context.remove(item)
        except ValueError:
            pass

    def _drop_expired(self, now: float) -> None:
        while self._context and self._context[0].expires_at is not None and self._context[0].expires_at <= now:
            expired = self._context.popleft()
            log.info("Context expired before it could be sent (ttl): %s", abbreviate(expired.action.content))

    def _pause(self, exc: err.ApiError) -> None:
        if not self._paused_reason:
            log.warning("%s", exc.message)
        self._paused_reason = exc.message
        self._last_error = f"{self._time_of_day()} {exc.message}"

    def _success(self, what: str) -> None:
        """Record ``what`` (a full sentence) as the last success and log it."""
        self._last_success = f"{self._time_of_day()} {what}"
        log.info("%s", what)

    def _error(self, message: str) -> None:
        self._last_error = f"{self._time_of_day()} {message}"
        log.warning("%s", message)

    def _note(self, message: str) -> None:
        self._notes = (self._notes + (message,))[-3:]
        log.info("%s", message)

    def _time_of_day(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self._wall_clock()))

    def _publish(self) -> None:
        self._status = Status(
            live=self._state.live,
            in_chat=self._presence.in_chat,
            presence=self._presence.description,
            connection=self._connection,
            paused_reason=self._paused_reason,
            last_success=self._last_success,
            last_error=self._last_error,
            queued_context=len(self._context),
            queued_generations=self._pacer.waiting_presses,
            dropped_context=self._context_dropped + self.inbox_dropped,
            notes=self._notes,
        )
        with self._idle:
            self._idle.notify_all()


class _InFlight:
    """Marks what the worker is sending, so :meth:`DeliveryWorker.stop` knows if it is stuck."""

    __slots__ = ("_worker", "_what")

    def __init__(self, worker: DeliveryWorker, what: str) -> None:
        self._worker = worker
        self._what = what

    def __enter__(self) -> None:
        self._worker._busy = self._what

    def __exit__(self, *exc: Any) -> None:
        self._worker._busy = None
