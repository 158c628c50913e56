"""Typed commands for the delivery worker: what a button, the dock or another part asks of it.

The worker dispatches them by type through a ``{Command: handler}`` dict, as
:func:`ailicia_core.compose.compose` dispatches domain events. Each is a frozen
value, so it can cross threads through the inbox as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .settings import Settings


@dataclass(frozen=True)
class TestConnection:
    """Check key and address (``GET /v1/characters``, no side effect: sent even in dry run)."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class JoinNow:
    """Ask ai_licia to join chat now (panel button)."""


@dataclass(frozen=True)
class LeaveNow:
    """Ask ai_licia to leave chat now (panel button)."""


@dataclass(frozen=True)
class PauseAutomatic:
    """Stop sending automatic context (buttons, hotkeys and manual context still go)."""


@dataclass(frozen=True)
class ResumeAutomatic:
    """Send automatic context again."""


@dataclass(frozen=True)
class KeyRejected:
    """Another part (the EventSub listener) saw a 401 for the current key: enter the key pause."""


@dataclass(frozen=True)
class Rejoin:
    """ai_licia left chat while live without being asked; ask her back (the listener's rule)."""


@dataclass(frozen=True)
class ApplySettings:
    """New settings, already parsed."""

    settings: Settings


Command = Union[TestConnection, JoinNow, LeaveNow, PauseAutomatic, ResumeAutomatic, KeyRejected, Rejoin, ApplySettings]
