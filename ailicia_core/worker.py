"""DeliveryWorker: the one background thread that owns all network I/O, and that cannot die.

Callers on OBS threads only ever put an item in the :class:`~ailicia_core.inbox.Inbox`
and set an Event (:meth:`DeliveryWorker.submit`): no I/O, no sleeping, no lock the
worker holds while it talks to the network. The worker takes each item, lets
:func:`~ailicia_core.compose.compose` decide what to send, and hands the result to
:class:`~ailicia_core.delivery.Delivery`, which sends one request per turn on its
lanes (see there for the order and the failure policies).

Policies, stated once:

- **Guards.** Each inbox item, command and turn is handled inside its own guard:
  one that raises is dropped and logged once per kind (never a traceback into
  OBS). Items that are not events, commands or settings are dropped the same way.
- **A dead thread restarts.** If the thread ever ends unexpectedly, the status
  says so and the next :meth:`submit` starts a new one.
- **After stop.** :meth:`submit` is refused (logged once); :meth:`stop` accepts any
  float (inf, nan, negative) and returns by its deadline whatever the server does.
  It sends, while time remains, a pending leave (or the leave for a live stream
  when OBS quits), waiting context and one generation if its window is open. If
  the worker is stuck in a slow request when a leave is needed, a one-off courier
  thread sends the leave with its own client from the one factory.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Optional, get_args

from . import events as ev
from . import intake, transport
from . import shutdown as sd
from .commands import ApplySettings
from .compose import Notice, StreamState, compose
from .delivery import Delivery
from .inbox import AUTOMATIC_CAPACITY, Inbox
from .outbox import AUTOMATIC_CAPACITY as CONTEXT_BACKLOG
from .retry_policy import LONGEST_SLEEP_S, MAX_CONTEXT_TRIES
from .settings import Settings
from .status import Status, describe_presence

log = logging.getLogger("ailicia")

INBOX_CAPACITY = AUTOMATIC_CAPACITY
__all__ = ["DeliveryWorker", "INBOX_CAPACITY", "CONTEXT_BACKLOG", "MAX_CONTEXT_TRIES"]

_EVENTS = get_args(ev.DomainEvent)
_DIED = "The delivery thread stopped unexpectedly; it starts again with the next event."


class DeliveryWorker:
    """Owns the thread, the inbox and the guards; :class:`Delivery` does the sending.

    ``wiring`` goes to :class:`Delivery` as it is: ``wall_clock``, ``rng``, ``session``, ``activity``.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float], **wiring: Any) -> None:
        self._clock = clock
        self._inbox = Inbox()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = False
        self._stop_requested = False
        self._stopped = False
        self._stop_deadline = 0.0
        self._stop_leave = False
        self._leave_claim = threading.Lock()
        self._restart_claim = threading.Lock()
        self._idle = threading.Condition()
        self._flushed_all = True
        self._in_turn = False
        self._reported: set = set()
        self._died = ""
        self._state = StreamState()
        self._notes: tuple = ()
        self.delivery = Delivery(settings, clock=clock, **wiring)
        self._status = Status()
        self._publish()

    # --- called from any thread (never blocks) ------------------------------------

    def submit(self, item: Any) -> None:
        """Queue a domain event or a command; see the module docstring for what happens after stop."""
        if self._stop_requested:
            self._report_once("after-stop", "ai_licia-obs has stopped; ignored a %s.", type(item).__name__)
            return
        automatic = isinstance(item, intake.AUTOMATIC)
        self._inbox.put(item, self._clock(), automatic=automatic, merge_key=intake.merge_key(item))
        self._wake.set()
        if self._started and self._thread is not None and not self._thread.is_alive():
            self._restart()

    def submit_settings(self, settings: Settings) -> None:
        self.submit(ApplySettings(settings))

    def snapshot(self, settings: Settings) -> Status:
        """The latest status, completed with ``settings``' problems and the live countdowns."""
        now = self._clock()
        return replace(
            self._status,
            configured=settings.is_configured,
            problems=tuple(p.message for p in settings.problems),
            enabled=settings.enabled,
            dry_run=settings.dry_run,
            next_generation_in_s=self.delivery.pacer.seconds_until_allowed(now),
            waits=self.delivery.holds(now),
        )

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None and not self._stop_requested:
            self._started = True
            self._thread = threading.Thread(target=self._run, name="ailicia-delivery", daemon=True)
            self._thread.start()

    def _restart(self) -> None:
        if not self._restart_claim.acquire(blocking=False):
            return  # another thread is restarting it right now
        try:
            if self._thread is not None and not self._thread.is_alive() and not self._stop_requested:
                log.warning("The ai_licia-obs delivery thread had stopped; starting it again.")
                self._thread, self._died = None, ""
                self.start()
        finally:
            self._restart_claim.release()

    def stop(self, timeout: float, *, leave_if_live: bool = False) -> bool:
        """Stop by ``timeout`` seconds from now (any float), sending what fits first; True if nothing was left."""
        deadline = time.monotonic() + sd.clamp_timeout(timeout)
        self._stop_deadline, self._stop_leave, self._stop_requested = deadline, leave_if_live, True
        self._wake.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            if not self._stopped:
                self._stopped = True
                self._guard("shutdown", lambda: self._final_flush(deadline))
            return self._flushed_all
        self._cut_in_flight(deadline)
        courier = None
        if self._leave_wanted() and self.delivery.busy not in (None, "leave"):
            # The worker is stuck in a slow request (a join can take 15 s): the leave must not wait for it.
            args = (self.delivery.settings, deadline, self._leave_claim)
            courier = threading.Thread(target=sd.courier_leave, args=args, name="ailicia-leave", daemon=True)
            courier.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        if courier is not None:
            courier.join(max(0.0, deadline - time.monotonic()))
        finished = not thread.is_alive()
        if not finished:
            unsent = len(self.delivery.outbox) + self.delivery.pacer.waiting_presses
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
        """One turn of the loop without waiting: take the inbox, send at most one request, publish.

        Returns when (on the worker's clock) the next turn has work, or None when
        idle. Tests with a fake clock drive the worker with this instead of a thread.
        """
        self._in_turn = True  # wait_idle must not see the gap between taking work and sending it
        self._wake.clear()
        self._drain_inbox()
        due = self._guard("turn", self.delivery.step, fallback=self._clock() + 1.0)
        self._in_turn = False
        self._publish()
        return due

    # --- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop_requested:
                due = self.run_once()
                if self._stop_requested:
                    break
                wait = None if due is None else due - self._clock()
                if wait is None or wait > 0:
                    self._wake.wait(None if wait is None else min(wait, LONGEST_SLEEP_S))
            self._stopped = True
            self._guard("shutdown", lambda: self._final_flush(self._stop_deadline))
        except BaseException:  # the thread must never end silently
            self._died = _DIED
            log.warning("%s", _DIED)
            log.debug("ai_licia-obs: the delivery thread ended", exc_info=True)
            self._in_turn = False
        self._publish()

    def _guard(self, kind: str, work: Callable[[], Any], fallback: Any = None) -> Any:
        try:
            return work()
        except Exception as exc:  # a bug in one item must not kill the only network thread
            self._report_once(
                kind,
                "Internal error in ai_licia-obs while handling a %s (%s); it was dropped, carrying on.",
                kind,
                type(exc).__name__,
            )
            self.delivery.error(f"Internal error in ai_licia-obs ({type(exc).__name__}); carrying on.")
            log.debug("ai_licia-obs internal error", exc_info=True)
            return fallback

    def _report_once(self, key: str, message: str, *args: Any) -> None:
        if (key, args) not in self._reported:
            self._reported.add((key, args))
            log.warning(message, *args)

    def _is_idle(self) -> bool:
        """Nothing will happen without new input: the inbox is empty and nothing can be sent."""
        delivery = self.delivery
        if self._in_turn or self._inbox or delivery.pending_test or delivery.busy:
            return False
        return not delivery.can_send() or not delivery.has_work()

    # --- intake (worker thread) -----------------------------------------------------

    def _drain_inbox(self) -> None:
        for item in self._inbox.take():
            self._guard(type(item.payload).__name__, lambda item=item: self._apply(item.payload, item.at, item.count))

    def _apply(self, item: Any, at: float, count: int) -> None:
        handler = intake.COMMANDS.get(type(item))
        if handler is not None:
            handler(self.delivery, item, at)
            return
        if not isinstance(item, _EVENTS):
            self._report_once(
                "unknown", "Ignored something that is not an event ai_licia-obs knows (%s).", type(item).__name__
            )
            return
        self._state, actions = compose(item, self.delivery.settings, self._state, at)
        self.delivery.live = self._state.live
        for action in actions:
            if isinstance(action, Notice):
                self._notes = (self._notes + (action.message,))[-3:]
                log.info("%s", action.message)
            else:
                intake.accept(self.delivery, action, at, count)

    def _leave_wanted(self) -> bool:
        return sd.leave_wanted(self.delivery, live=self._state.live, leave_if_live=self._stop_leave)

    def _final_flush(self, deadline: float) -> None:
        self._drain_inbox()
        wants_leave = self._leave_wanted()
        self._flushed_all = sd.final_flush(
            self.delivery, deadline, wants_leave=wants_leave, leave_claim=self._leave_claim
        )

    def _cut_in_flight(self, deadline: float) -> None:
        # A request stuck in a slow answer (a trickle) must end by the deadline, not at its own later one.
        if self._thread is not None:
            transport.cut_in_flight(self._thread, max(0.0, deadline - time.monotonic() - sd.MIN_SHUTDOWN_SLICE_S))

    def _publish(self) -> None:
        delivery = self.delivery
        self._status = Status(
            live=self._state.live,
            in_chat=delivery.presence.in_chat,
            presence=delivery.safe(describe_presence(delivery.presence.note)),
            connection=delivery.connection,
            paused_reason=delivery.paused_reason,
            last_success=delivery.last_success,
            last_error=delivery.last_error,
            queued_context=len(delivery.outbox),
            queued_generations=delivery.pacer.waiting_presses,
            dropped_context=delivery.outbox.dropped + self._inbox.dropped,
            notes=self._notes + delivery.notes,
            automatic_paused=delivery.automatic_paused,
            active_character=delivery.active_character,
            worker_problem=self._died,
        )
        with self._idle:
            self._idle.notify_all()
