"""Engine: the one object the OBS glue (and the command line) talks to.

It wires settings, the API client and the delivery worker together. Every public
method returns at once: none does network I/O, sleeps, or waits on a lock the
worker holds while it talks to the network. That makes every method safe to call
from any OBS thread (UI, hotkey, graphics, signal threads).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional, Tuple, Union

from . import commands as cmd
from . import events as ev
from .activity import ActivityFeed
from .connect import GRANTED, ConnectState, Grant
from .connect_runner import ConnectRunner
from .hearing import Hearing
from .logsafe import install_redaction
from .settings import Settings, parse_settings
from .shutdown import clamp_timeout
from .source_watcher import SourceWatcher
from .status import Status, connect_words, render_status
from .worker import DeliveryWorker

log = logging.getLogger("ailicia")

#: What shutdown gives "Connect with ai_licia" to end (it closes its socket, so this is plenty).
CONNECT_STOP_S = 0.2

SettingsInput = Union[Settings, Mapping[str, Any], None]


class Engine:
    """Turns domain events into ai_licia requests, sent by one background worker.

    ``clock`` (monotonic seconds), ``wall_clock`` (epoch seconds), ``sleep`` and
    ``rng`` are injectable so tests run without real waiting; ``session`` is the
    ``requests.Session`` to use (tests pass one mocked by ``responses``).
    ``start=False`` leaves the worker thread unstarted: tests then drive it with
    :meth:`DeliveryWorker.run_once`.
    """

    def __init__(
        self,
        settings: SettingsInput = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        session: Any = None,
        start: bool = True,
        connector: Any = None,
        listener_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._settings = _as_settings(settings)
        install_redaction(log)
        #: What happened, newest last: requests and their outcomes, what ai_licia said (for the dock).
        self.activity = ActivityFeed()
        self._automatic_paused = False
        self.worker = DeliveryWorker(
            self._settings, clock=clock, wall_clock=wall_clock, rng=rng, session=session, activity=self.activity
        )
        #: Watched sources: debounces what they show, reads from-file text sources.
        self.watcher = SourceWatcher(self.worker.submit, debounce_ms=self._settings.watch_debounce_ms, clock=clock)
        #: "Connect with ai_licia" (its own daemon thread, only while a flow runs).
        self.connector = connector if connector is not None else ConnectRunner()
        # ai_licia's live events (EventSub) on their own thread; see hearing.py / listener.py.
        self.hearing = Hearing(
            self._settings,
            activity=self.activity,
            live=lambda: self.worker.snapshot(self._settings).live,
            rejoin=lambda: self.worker.submit(cmd.Rejoin()),
            key_rejected=self.report_key_rejected,
            clock=clock,
            wall_clock=wall_clock,
            rng=rng,
            session=session,
            **dict(listener_options or {}),
        )
        # The script's own accepted switch is the active character (no live event may follow it).
        self.worker.delivery.on_character_activated = self.hearing.character_switched
        if start:
            self.worker.start()
            self.hearing.start()
            self.watcher.start()

    @property
    def settings(self) -> Settings:
        return self._settings

    def handle(self, event: ev.DomainEvent) -> None:
        """Hand one domain event to the worker. Never blocks; safe from any thread.

        After :meth:`shutdown` the event is refused (logged once). Presses of one hotkey
        merge while they wait; an odd event (a ``None`` name) is dropped by the worker,
        logged once, and the worker goes on.

        Watched-source readings go to the source watcher instead.
        """
        if isinstance(event, ev.WATCH_READINGS):
            self.watcher.submit(event)
            return
        self.worker.submit(event)

    def reconfigure(self, settings: SettingsInput) -> Settings:
        """Apply new settings in place (the worker picks them up); returns them parsed."""
        self._settings = _as_settings(settings)
        self.worker.submit_settings(self._settings)
        self.hearing.reconfigure(self._settings)
        self.watcher.configure(self._settings.watch_debounce_ms)
        return self._settings

    def submit(self, command: cmd.Command) -> None:
        """Ask for ``command`` (a panel button, the dock); the worker carries it out. Never blocks; any thread."""
        if isinstance(command, cmd.LeaveNow):
            self.hearing.leave_asked()  # the system.left that follows is expected
        elif isinstance(command, (cmd.PauseAutomatic, cmd.ResumeAutomatic)):
            self._automatic_paused = isinstance(command, cmd.PauseAutomatic)
        self.worker.submit(command)

    def test_connection(self) -> None:
        """Ask the worker to check key and address (GET /v1/characters); result in the status."""
        self.submit(cmd.TestConnection())

    def join_now(self) -> None:
        """Ask ai_licia to join chat now (panel button)."""
        self.submit(cmd.JoinNow())

    def leave_now(self) -> None:
        """Ask ai_licia to leave chat now (panel button)."""
        self.submit(cmd.LeaveNow())

    def pause_automatic(self) -> None:
        """Stop sending automatic context (the dock's pause); buttons, hotkeys and manual context still go."""
        self.submit(cmd.PauseAutomatic())

    def resume_automatic(self) -> None:
        """Send automatic context again."""
        self.submit(cmd.ResumeAutomatic())

    @property
    def automatic_paused(self) -> bool:
        """True from the moment the streamer paused automatic context until they resume it.

        The worker applies the command in its next turn; this answers at once, so the dock's
        button shows what was asked for.
        """
        return self._automatic_paused

    def report_key_rejected(self) -> None:
        """Another part saw a 401 for the current key: delivery pauses as if its own request got one.

        Safe from any thread; never blocks.
        """
        self.worker.submit(cmd.KeyRejected())

    def latest_caption(self) -> Tuple[int, str]:
        """``(seq, text)`` of ai_licia's latest words for the caption source; never blocks."""
        return self.hearing.captions.latest()

    def report_caption_target(self, outcome: str) -> None:
        """Record what the OBS glue found under ``caption_source`` (see hearing.py)."""
        self.hearing.report_caption_target(outcome)

    def status(self) -> Status:
        """The latest snapshot, with the current settings' problems. Never blocks."""
        status = self.worker.snapshot(self._settings)
        state = self.connector.state()
        # "Connected as X via the app" only while X is still the channel in use (not after a manual change).
        stale = state.phase == GRANTED and state.channel != self._settings.channel
        app_connect = "" if stale else connect_words(state)
        return replace(
            status, app_connect=app_connect, watch_problems=self.watcher.problems(), **self.hearing.status_fields()
        )

    # --- Connect with ai_licia -----------------------------------------------------------

    def connect_with_app(self) -> bool:
        """Ask the ai_licia app on this computer for the key and channel (its consent dialog).

        Returns at once; False when a request is already under way (never two at a
        time). Progress is in :meth:`connect_state` and the status; the grant waits
        for :meth:`take_connect_grant`, which the OBS glue calls from an OBS timer.
        """
        return self.connector.start(self._settings.dashboard_ws_port)

    def connect_state(self) -> ConnectState:
        return self.connector.state()

    def connect_text(self) -> str:
        """:meth:`connect_state` in words ("" before any attempt)."""
        return connect_words(self.connector.state())

    def take_connect_grant(self) -> Optional[Grant]:
        """The key and channel the app granted, once (None when there is none)."""
        return self.connector.take_grant()

    def status_text(self) -> str:
        """:meth:`status` rendered as the panel's lines."""
        return render_status(self.status())

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is waiting to be sent (or ``timeout``): for tests and the CLI only."""
        return self.worker.wait_idle(timeout)

    def shutdown(self, timeout: float = 2.0, *, leave_if_live: bool = False) -> bool:
        """Stop the worker, sending what it can before ``timeout`` seconds: a leave first.

        With ``leave_if_live`` (OBS is quitting while streaming, ``auto_leave`` on)
        a leave is queued before everything else. Always returns by the deadline,
        even if the server hangs; True when nothing was left unsent. ``timeout`` may be
        any float (inf, nan, negative): it is clamped to 0–60 s, never raises.
        """
        timeout = clamp_timeout(timeout)
        started = time.monotonic()
        self.hearing.request_stop()  # wakes the listener's read; it ends while the worker flushes
        self.watcher.stop(min(0.2, timeout / 4))  # it never waits on the network: it ends at once
        self.connector.stop(min(CONNECT_STOP_S, timeout / 4))  # closes its socket: at once
        flushed = self.worker.stop(max(0.0, timeout - (time.monotonic() - started)), leave_if_live=leave_if_live)
        self.hearing.join(max(0.0, timeout - (time.monotonic() - started)))
        return flushed


def _as_settings(settings: SettingsInput) -> Settings:
    return settings if isinstance(settings, Settings) else parse_settings(settings or {})
