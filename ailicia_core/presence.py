"""Presence: whether ai_licia should be in chat, and what each join/leave answer means.

Pure bookkeeping consulted by the worker (times are arguments, no I/O). At most one
join or leave waits at a time: a newer request replaces an older one that has not
gone out yet (stream started then stopped at once → only the leave goes).

Each answer leaves a :class:`PresenceNote` (an outcome, not a sentence: the panel's
words are composed by :func:`ailicia_core.status.describe_presence`).

- A join that the server reports as timed out may still complete, so it is asked
  again (:data:`MAX_JOIN_ATTEMPTS` in all, :data:`JOIN_RETRY_DELAY_S` apart); an
  answer "already in chat" settles it.
- Failures follow the decision table (:mod:`ailicia_core.decide`) of the presence
  lane: a 401 keeps the request waiting for a working key; a retry is scheduled
  when it can help (while live with auto_join on, for as long as it takes). The
  retry's time is the presence lane's hold, which a success elsewhere may end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from . import errors as err
from .client import ALREADY_IN_CHAT, DRY_RUN, JOINED, TIMED_OUT, JoinResult
from .decide import Decision, GiveUp, Pause, Retry
from .retry_policy import JOIN_RETRY_DELAY_S, MAX_JOIN_ATTEMPTS


@dataclass(frozen=True)
class PresenceRequest:
    """One join (``join=True``) or leave waiting to go out."""

    join: bool
    reason: str
    due_at: float
    attempts: int = 0
    #: When it was asked for: context that happened earlier goes before a leave.
    requested_at: float = 0.0
    #: How many times the server said the join was not confirmed in time.
    unconfirmed: int = 0


@dataclass(frozen=True)
class PresenceNote:
    """What is known about the last join or leave: ``kind`` is one of the outcomes below.

    not_asked · asking · in_chat · already · dry_run · confirm_retry · unconfirmed ·
    left · waiting_key · retrying · failed
    """

    kind: str = "not_asked"
    join: bool = True
    why: str = ""
    attempt: int = 0
    of: int = 0
    joined_at_ms: Optional[int] = None
    server_message: str = ""
    error: Optional[err.ApiError] = None
    retry_in_s: float = 0.0
    keep_trying: bool = False


class Presence:
    """The pending join/leave and what is known about ai_licia being in chat."""

    def __init__(self) -> None:
        self._pending: Optional[PresenceRequest] = None
        #: True in chat, False not, None unknown.
        self._in_chat: Optional[bool] = None
        self._note = PresenceNote()

    @property
    def in_chat(self) -> Optional[bool]:
        return self._in_chat

    @property
    def note(self) -> PresenceNote:
        return self._note

    def request(self, join: bool, why: str, now: float) -> None:
        """Ask for a join or leave as soon as possible (replaces one that has not gone out)."""
        self._pending = PresenceRequest(join=join, reason=why, due_at=now, requested_at=now)
        self._note = PresenceNote("asking", join=join, why=why)

    def due_at(self) -> Optional[float]:
        return self._pending.due_at if self._pending else None

    def requested_at(self) -> Optional[float]:
        """When the waiting leave was asked for (None when no leave waits)."""
        return self._pending.requested_at if self._pending and not self._pending.join else None

    def take(self, now: float) -> Optional[PresenceRequest]:
        """The request to send now (removed from pending), or None."""
        if self._pending is None or now < self._pending.due_at:
            return None
        request, self._pending = self._pending, None
        return request

    def pending_leave(self) -> bool:
        return self._pending is not None and not self._pending.join

    def has_work(self) -> bool:
        return self._pending is not None

    # --- outcomes -----------------------------------------------------------

    def joined(self, request: PresenceRequest, result: JoinResult, now: float) -> PresenceNote:
        """Record a join answer (and schedule another ask when it was not confirmed in time)."""
        if result.outcome in (JOINED, ALREADY_IN_CHAT):
            self._in_chat = True
            kind = "in_chat" if result.outcome == JOINED else "already"
            self._note = PresenceNote(kind, joined_at_ms=result.joined_at_ms)
        elif result.outcome == DRY_RUN:
            self._note = PresenceNote("dry_run", join=True)
        else:
            unconfirmed = request.unconfirmed + 1
            if result.outcome == TIMED_OUT and unconfirmed < MAX_JOIN_ATTEMPTS and self._pending is None:
                self._pending = replace(request, unconfirmed=unconfirmed, due_at=now + JOIN_RETRY_DELAY_S)
                self._note = PresenceNote("confirm_retry", attempt=unconfirmed + 1, of=MAX_JOIN_ATTEMPTS)
            else:
                self._in_chat = None
                self._note = PresenceNote("unconfirmed", server_message=result.message)
        return self._note

    def left(self, request: PresenceRequest, *, dry_run: bool = False) -> PresenceNote:
        if dry_run:
            self._note = PresenceNote("dry_run", join=False)
        else:
            self._in_chat = False
            self._note = PresenceNote("left", join=False)
        return self._note

    def failed(
        self,
        request: PresenceRequest,
        error: err.ApiError,
        decision: Decision,
        now: float,
        *,
        keep_trying: bool = False,
    ) -> PresenceNote:
        """Record a failure as the decision table decided it (a newer request always wins)."""
        if isinstance(decision, Pause):
            if self._pending is None:
                self._pending = request
            self._note = PresenceNote("waiting_key", join=request.join)
        elif isinstance(decision, Retry) and self._pending is None:
            # Due now: the presence lane holds it until decision.at, and that hold may end early (recovery).
            self._pending = replace(request, attempts=request.attempts + 1, due_at=now)
            self._note = PresenceNote(
                "retrying", join=request.join, error=error, retry_in_s=decision.at - now, keep_trying=keep_trying
            )
        elif isinstance(decision, GiveUp) and self._pending is None:
            if request.join:
                self._in_chat = False if isinstance(error, (err.ForbiddenError, err.NotFoundError)) else None
            self._note = PresenceNote("failed", join=request.join, error=error)
        return self._note
