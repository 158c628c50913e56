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
from typing import Any, Callable, Mapping, Union

from . import events as ev
from .activity import ActivityFeed
from .logsafe import install_redaction
from .settings import Settings, parse_settings
from .status import Status, render_status
from .worker import DeliveryWorker

log = logging.getLogger("ailicia")

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
    ) -> None:
        self._settings = _as_settings(settings)
        install_redaction(log)
        #: What happened, newest last: requests and their outcomes, what ai_licia said (for the dock).
        self.activity = ActivityFeed()
        self._automatic_paused = False
        self.worker = DeliveryWorker(
            self._settings, clock=clock, wall_clock=wall_clock, rng=rng, session=session, activity=self.activity
        )
        if start:
            self.worker.start()

    @property
    def settings(self) -> Settings:
        return self._settings

    def handle(self, event: ev.DomainEvent) -> None:
        """Hand one domain event to the worker. Never blocks; safe from any thread.

        While automatic sending is paused (:meth:`pause_automatic`), what OBS reports on its
        own (scenes, sources, mutes, recording) is dropped; stream start/stop still go (they
        drive joining and leaving), and so does everything the streamer asks for.
        """
        if self._automatic_paused and isinstance(event, _AUTOMATIC):
            return
        self.worker.submit(event)

    # issue 14 (the dock); issue 10 may own these in its redesign: keep one pair.
    def pause_automatic(self) -> None:
        """Stop sending automatic context until :meth:`resume_automatic`; manual requests still go."""
        self._automatic_paused = True

    def resume_automatic(self) -> None:
        """Send automatic context again."""
        self._automatic_paused = False

    @property
    def automatic_paused(self) -> bool:
        return self._automatic_paused

    def reconfigure(self, settings: SettingsInput) -> Settings:
        """Apply new settings in place (the worker picks them up); returns them parsed."""
        self._settings = _as_settings(settings)
        self.worker.submit_settings(self._settings)
        return self._settings

    def test_connection(self) -> None:
        """Ask the worker to check key and address (GET /v1/characters); result in the status."""
        self.worker.submit_command("test_connection")

    def join_now(self) -> None:
        """Ask ai_licia to join chat now (panel button)."""
        self.worker.submit_command("join")

    def leave_now(self) -> None:
        """Ask ai_licia to leave chat now (panel button)."""
        self.worker.submit_command("leave")

    def status(self) -> Status:
        """The latest snapshot, with the current settings' problems. Never blocks."""
        return self.worker.snapshot(self._settings)

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
        even if the server hangs; True when nothing was left unsent.
        """
        return self.worker.stop(timeout, leave_if_live=leave_if_live)


#: What OBS reports on its own, that pausing automatic sending holds back.
_AUTOMATIC = (
    ev.SceneSwitched,
    ev.SourceVisibilityChanged,
    ev.AudioMuteChanged,
    ev.RecordingStarted,
    ev.RecordingStopped,
    ev.RecordingPaused,
    ev.RecordingResumed,
)


def _as_settings(settings: SettingsInput) -> Settings:
    return settings if isinstance(settings, Settings) else parse_settings(settings or {})
