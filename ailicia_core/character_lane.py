"""The character lane: character switches, queued and retried on their own.

A scene mapped in ``scene_characters`` asks for a character once it stayed on air
past the scene debounce. The lane holds at most one wanted switch (a newer scene
supersedes it, an unmapped scene calls it off), resolves the name through a cached
``GET /v1/characters`` list (refreshed on a miss), sends ``PUT
/v1/characters/{id}/active`` only when the character is not active already, and
backs off with its **own** :class:`~.backoff.Backoff`: a context backoff never holds
a switch, and a failing switch never slows context down.

The worker calls :meth:`CharacterLane.send` when :meth:`ready` says so and turns
the :class:`CharacterOutcome` into words (:func:`~.status.character_words`). A 401
is raised to the worker, which pauses all sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Tuple

from . import errors as err
from .backoff import Backoff
from .characters import Activate, AlreadyActive, decide, find_character, with_active

#: A switch that could not reach ai_licia this many times is given up.
MAX_CHARACTER_TRIES = 5

ACTIVATED = "activated"
ALREADY_ACTIVE = "already active"
UNKNOWN = "unknown"
FORBIDDEN = "forbidden"
NOT_FOUND = "not found"
RETRYING = "retrying"
GAVE_UP = "gave up"
DRY_RUN = "dry run"


@dataclass(frozen=True)
class CharacterSwitch:
    """The wanted switch: ``character`` for ``scene``, not before ``due_at`` (worker clock)."""

    scene: str
    character: str
    due_at: float
    tries: int = 0


@dataclass(frozen=True)
class CharacterOutcome:
    """What :meth:`CharacterLane.send` did; ``ok`` says whether it is a success."""

    outcome: str
    name: str
    scene: str
    known: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome in (ACTIVATED, ALREADY_ACTIVE, DRY_RUN)


class CharacterLane:
    """One wanted character switch, the cached character list and the lane's own backoff."""

    def __init__(self, rng: Callable[[], float]) -> None:
        self.backoff = Backoff(rng)
        self.pending: Optional[CharacterSwitch] = None
        self._characters: Optional[Tuple[Any, ...]] = None

    def request(self, scene: str, character: str, at: float, debounce_s: float) -> None:
        """Want ``character`` once ``scene`` stayed on air for ``debounce_s``; "" calls a waiting switch off."""
        self.pending = CharacterSwitch(scene, character, at + debounce_s) if character else None

    def learn(self, characters: Sequence[Any]) -> None:
        """Characters a connection test listed: the cache starts from them."""
        self._characters = tuple(characters)

    def forget(self) -> None:
        """Another key or address: the cached list is someone else's."""
        self._characters = None
        self.backoff.succeeded()

    def due_at(self) -> Optional[float]:
        if self.pending is None:
            return None
        return max(self.pending.due_at, self.backoff.until)

    def ready(self, now: float) -> bool:
        return self.pending is not None and now >= self.pending.due_at and not self.backoff.blocked(now)

    def send(self, client: Any, now: float) -> CharacterOutcome:
        """Resolve and send the pending switch with ``client``; raises only :class:`AuthError`."""
        switch = self.pending
        assert switch is not None
        if getattr(client, "dry_run", False):  # no characters to resolve against: log the switch by name
            client.set_active_character(switch.character)
            return self._done(DRY_RUN, switch)
        decision = None
        try:
            characters = self._characters
            if characters is None or find_character(characters, switch.character) is None:
                characters = self._characters = tuple(client.list_characters())
            decision = decide(characters, switch.character)
            if isinstance(decision, Activate):
                client.set_active_character(decision.character_id)
                self._characters = with_active(characters, decision.character_id)
        except err.AuthError:
            raise
        except err.ForbiddenError:
            return self._done(FORBIDDEN, switch, getattr(decision, "name", ""))
        except err.NotFoundError:
            self._characters = None
            return self._done(NOT_FOUND, switch, getattr(decision, "name", ""))
        except err.ApiError as exc:
            return self._failed(switch, now, exc)
        self.backoff.succeeded()
        if isinstance(decision, Activate):
            return self._done(ACTIVATED, switch, decision.name)
        if isinstance(decision, AlreadyActive):
            return self._done(ALREADY_ACTIVE, switch, decision.name)
        return self._done(UNKNOWN, switch, known=decision.known)

    def _done(self, outcome: str, switch: CharacterSwitch, name: str = "", known: Tuple[str, ...] = ()):
        if self.pending == switch:
            self.pending = None
        return CharacterOutcome(outcome, name or switch.character, switch.scene, known)

    def _failed(self, switch: CharacterSwitch, now: float, exc: err.ApiError) -> CharacterOutcome:
        tries = switch.tries + 1
        if not exc.retryable or tries >= MAX_CHARACTER_TRIES:
            return self._done(GAVE_UP, switch)
        self.backoff.failed(now, getattr(exc, "retry_after", None))
        if self.pending == switch:
            self.pending = CharacterSwitch(switch.scene, switch.character, switch.due_at, tries)
        return CharacterOutcome(RETRYING, switch.character, switch.scene)
