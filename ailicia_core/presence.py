"""Presence: whether ai_licia should be in chat, and what to do with each join/leave answer.

Pure bookkeeping consulted by the worker (times are arguments, no I/O). At most one
join or leave waits at a time: a newer request replaces an older one that has not
gone out yet (stream started then stopped at once → only the leave goes).

- A join that the server reports as timed out may still complete, so it is retried
  (:data:`MAX_JOIN_ATTEMPTS` in all, :data:`JOIN_RETRY_DELAY_S` apart); a retry that
  answers "already in chat" settles it.
- 401/403/404 are not retried: sending again cannot help; the status says why.
- No answer at all (network, 5xx, unreadable) is retried with the shared backoff,
  :data:`MAX_ATTEMPTS` times at most.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional

from . import errors as err
from .client import ALREADY_IN_CHAT, DRY_RUN, JOINED, TIMED_OUT, JoinResult

MAX_JOIN_ATTEMPTS = 3
JOIN_RETRY_DELAY_S = 5.0
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class PresenceRequest:
    """One join (``join=True``) or leave waiting to go out."""

    join: bool
    reason: str
    due_at: float
    attempts: int = 0
    #: When it was asked for: context that happened earlier goes before a leave.
    requested_at: float = 0.0


class Presence:
    """The pending join/leave and what is known about ai_licia being in chat."""

    def __init__(self) -> None:
        self.pending: Optional[PresenceRequest] = None
        #: True in chat, False not, None unknown.
        self.in_chat: Optional[bool] = None
        self.description = "ai_licia has not been asked to join yet."

    def request(self, join: bool, reason: str, now: float) -> None:
        """Ask for a join or leave as soon as possible (replaces one that has not gone out)."""
        self.pending = PresenceRequest(join=join, reason=reason, due_at=now, requested_at=now)
        verb = "join" if join else "leave"
        self.description = f"Asking ai_licia to {verb} chat ({reason})."

    def due_at(self) -> Optional[float]:
        return self.pending.due_at if self.pending else None

    def take(self, now: float) -> Optional[PresenceRequest]:
        """The request to send now (removed from pending), or None."""
        if self.pending is None or now < self.pending.due_at:
            return None
        request, self.pending = self.pending, None
        return request

    def pending_leave(self) -> bool:
        return self.pending is not None and not self.pending.join

    # --- outcomes -----------------------------------------------------------

    def joined(self, request: PresenceRequest, result: JoinResult, now: float) -> str:
        """Record a join answer; returns the status line (and schedules a retry on timeout)."""
        if result.outcome in (JOINED, ALREADY_IN_CHAT):
            self.in_chat = True
            since = _clock_time(result.joined_at_ms)
            self.description = ("ai_licia is in chat" + (f" (joined at {since})." if since else ".")
                                if result.outcome == JOINED else "ai_licia is in chat (she was already there).")
            return self.description
        if result.outcome == DRY_RUN:
            self.description = "Dry run: ai_licia would have been asked to join chat."
            return self.description
        attempts = request.attempts + 1
        if result.outcome == TIMED_OUT and attempts < MAX_JOIN_ATTEMPTS and self.pending is None:
            self.pending = replace(request, attempts=attempts, due_at=now + JOIN_RETRY_DELAY_S)
            self.description = (f"ai_licia did not confirm joining in time; asking again "
                                f"(try {attempts + 1} of {MAX_JOIN_ATTEMPTS}). She may still join.")
            return self.description
        self.in_chat = None
        detail = result.message or "no confirmation"
        self.description = (f"ai_licia did not confirm joining chat ({detail}). She may still join; "
                            "press 'Join chat now' to ask again.")
        return self.description

    def left(self, request: PresenceRequest) -> str:
        self.in_chat = False
        self.description = "ai_licia was asked to leave chat."
        return self.description

    @staticmethod
    def will_retry(error: err.ApiError) -> bool:
        """Whether :meth:`failed` retries after ``error`` (an unreadable answer counts as none)."""
        return error.retryable or isinstance(error, err.BadResponseError)

    def failed(self, request: PresenceRequest, error: err.ApiError, now: float, retry_at: float) -> str:
        """Record an error answer; returns the status line (a retry is scheduled when it can help).

        A 401 keeps the request waiting: the worker pauses until the key changes,
        and then the join or leave still goes out.
        """
        what = "join" if request.join else "leave"
        if isinstance(error, err.AuthError):
            if self.pending is None:
                self.pending = request
            self.description = f"Waiting for a working API key to ask ai_licia to {what} chat."
            return self.description
        attempts = request.attempts + 1
        can_retry = self.will_retry(error)
        if can_retry and attempts < MAX_ATTEMPTS and self.pending is None:
            self.pending = replace(request, attempts=attempts, due_at=retry_at)
            self.description = f"Could not {what} yet: {error.message} Trying again shortly."
            return self.description
        if request.join:
            self.in_chat = None if can_retry else False
        self.description = f"ai_licia could not {what} chat: {error.message}"
        return self.description



def _clock_time(epoch_ms: Optional[int]) -> str:
    """"HH:MM" local time of an epoch in ms; "" when absent or absurd."""
    try:
        return time.strftime("%H:%M", time.localtime(epoch_ms / 1000)) if epoch_ms else ""
    except (OverflowError, OSError, ValueError):
        return ""
