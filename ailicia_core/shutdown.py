"""Shutdown: what the worker still sends when OBS closes, within a deadline that always holds.

In this order and while time remains: a pending leave (or the leave for a live
stream when OBS quits with ``auto_leave`` on), waiting context, and one generation
if its window is open; everything else is counted in one log line. A lane's hold
is honoured to the end, except an outage backoff when ai_licia answered in the last
few seconds (:meth:`~ailicia_core.lanes.Recovery.may_go_at_quit`): the leave's own
answer counts. If the worker
is stuck in a slow request when a leave is needed, :func:`courier_leave` sends the
leave from a one-off thread with its own client (from the one factory,
:func:`~ailicia_core.client.make_client`). Whichever of the two gets the leave
claim first sends it; the other does not.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from . import errors as err
from .client import make_client
from .decide import CONTEXT, REACTIONS
from .delivery import Delivery
from .settings import Settings

log = logging.getLogger("ailicia")

#: Below this much time left at shutdown, no new request is started.
MIN_SHUTDOWN_SLICE_S = 0.1
#: The longest a stop waits, whatever it is given (a float may be inf).
MAX_STOP_TIMEOUT_S = 60.0


def clamp_timeout(timeout: Any) -> float:
    """Any float (inf, nan, negative) or junk as a usable number of seconds: never raises."""
    try:
        seconds = float(timeout)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), MAX_STOP_TIMEOUT_S)


def time_left(deadline: float) -> bool:
    return deadline - time.monotonic() > MIN_SHUTDOWN_SLICE_S


def leave_wanted(delivery: Delivery, *, live: bool, leave_if_live: bool) -> bool:
    """Whether a leave must go out before the worker ends."""
    settings = delivery.settings
    live_leave = leave_if_live and live and settings.auto_leave and settings.enabled
    return delivery.can_send() and (delivery.presence.pending_leave() or live_leave)


def final_flush(delivery: Delivery, deadline: float, *, wants_leave: bool, leave_claim: threading.Lock) -> bool:
    """Send what fits before ``deadline`` (monotonic); True when nothing was left unsent."""
    left_behind = 0
    if wants_leave and leave_claim.acquire(blocking=False):
        delivery.presence.request(False, "OBS is closing", -math.inf)
        request = delivery.presence.take(math.inf)
        if time_left(deadline) and request is not None:
            delivery.send_presence(request, timeout=deadline - time.monotonic())
        else:
            left_behind += 1
    recovery = delivery.recovery
    if delivery.can_send() and recovery.may_go_at_quit(CONTEXT):
        while delivery.outbox.head() is not None and time_left(deadline):
            if not delivery.send_context(delivery.outbox.head(), timeout=deadline - time.monotonic()):
                break
    if delivery.can_send() and recovery.may_go_at_quit(REACTIONS):
        batch = delivery.pacer.take(delivery.clock())
        if batch is not None and time_left(deadline):
            delivery.send_generation(batch, timeout=deadline - time.monotonic())
    left_behind += delivery.outbox.clear() + delivery.pacer.drop_all()
    if left_behind:
        log.warning("OBS is closing: %d request(s) to ai_licia could not be sent in time.", left_behind)
    delivery.close_client()
    return left_behind == 0


def courier_leave(settings: Settings, deadline: float, leave_claim: threading.Lock) -> None:
    """Send the leave on a thread of its own (the worker is stuck in a slow request)."""
    if not leave_claim.acquire(blocking=False):
        return
    client = make_client(settings)
    try:
        client.leave(timeout=max(MIN_SHUTDOWN_SLICE_S, deadline - time.monotonic()))
        if settings.dry_run:
            log.info("Dry run: ai_licia would have been asked to leave chat (OBS is closing).")
        else:
            log.info("ai_licia was asked to leave chat (OBS is closing).")
    except err.ApiError as exc:
        log.warning("Could not ask ai_licia to leave chat while OBS closed: %s", exc.message)
    finally:
        client.close()
