"""The character lane: character switches, queued and retried on their own.

A scene mapped in ``scene_characters`` asks for a character once it stayed on air
past the scene debounce. The lane holds at most one wanted switch (a newer scene
supersedes it, an unmapped scene calls it off), resolves the name through a cached
``GET /v1/characters`` list (refreshed on a miss), sends ``PUT
/v1/characters/{id}/active`` only when the character is not active already, and
backs off on the delivery's own ``character`` lane (:mod:`~.lanes`, policy in
:mod:`~.decide`): a context backoff never holds a switch, and a failing switch never
slows context down.

:meth:`Delivery.step <ailicia_core.delivery.Delivery.step>` calls :func:`switch` when
:meth:`CharacterLane.ready` says so; the outcome is put in words by
:func:`~.status.character_words`. A 401 pauses all sending (the decision table's Pause).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

from . import decide as dt
from . import errors as err
from .characters import (  # noqa: F401 (the outcomes stay importable as character_lane.<OUTCOME>)
    ACTIVATED,
    ALREADY_ACTIVE,
    DRY_RUN,
    FORBIDDEN,
    GAVE_UP,
    NOT_FOUND,
    PAUSED,
    RETRYING,
    UNKNOWN,
    Activate,
    AlreadyActive,
    decide,
    find_character,
    with_active,
)
from .status import character_words


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
    error: Optional[err.ApiError] = None

    @property
    def ok(self) -> bool:
        return self.outcome in (ACTIVATED, ALREADY_ACTIVE, DRY_RUN)


class CharacterLane:
    """One wanted character switch and the cached character list (the backoff is the delivery's lane)."""

    def __init__(self) -> None:
        self.pending: Optional[CharacterSwitch] = None
        self._characters: Optional[Tuple[Any, ...]] = None

    def request(self, scene: str, character: str, at: float, debounce_s: float) -> None:
        """Want ``character`` once ``scene`` stayed on air for ``debounce_s``; "" calls a waiting switch off."""
        self.pending = CharacterSwitch(scene, character, at + debounce_s) if character else None

    def learn(self, characters: Sequence[Any]) -> None:
        """Characters a connection test listed: the cache starts from them."""
        self._characters = tuple(characters)

    def names(self) -> Tuple[str, ...]:
        """The names of the characters last listed (empty when none were)."""
        return tuple(c.name for c in self._characters or ())

    def forget(self) -> None:
        """Another key or address: the cached list is someone else's."""
        self._characters = None

    def due_at(self) -> Optional[float]:
        return None if self.pending is None else self.pending.due_at

    def ready(self, now: float, lane: Any) -> bool:
        return self.pending is not None and now >= self.pending.due_at and not lane.blocked(now)

    def send(self, client: Any, now: float, lane: Any) -> CharacterOutcome:
        """Resolve and send the pending switch with ``client``; failures are decided on ``lane``."""
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
        except err.AuthError as exc:
            lane.after(exc, switch.tries + 1, now)
            return CharacterOutcome(PAUSED, switch.character, switch.scene, error=exc)
        except err.ForbiddenError:
            return self._done(FORBIDDEN, switch, getattr(decision, "name", ""))
        except err.NotFoundError:
            self._characters = None
            return self._done(NOT_FOUND, switch, getattr(decision, "name", ""))
        except err.ApiError as exc:
            return self._failed(switch, now, exc, lane)
        lane.succeeded()
        if isinstance(decision, Activate):
            return self._done(ACTIVATED, switch, decision.name)
        if isinstance(decision, AlreadyActive):
            return self._done(ALREADY_ACTIVE, switch, decision.name)
        return self._done(UNKNOWN, switch, known=decision.known)

    def _done(self, outcome: str, switch: CharacterSwitch, name: str = "", known: Tuple[str, ...] = ()):
        if self.pending == switch:
            self.pending = None
        return CharacterOutcome(outcome, name or switch.character, switch.scene, known)

    def _failed(self, switch: CharacterSwitch, now: float, exc: err.ApiError, lane: Any) -> CharacterOutcome:
        tries = switch.tries + 1
        if not isinstance(lane.after(exc, tries, now), dt.Retry):
            return self._done(GAVE_UP, switch)
        if self.pending == switch:
            self.pending = CharacterSwitch(switch.scene, switch.character, switch.due_at, tries)
        return CharacterOutcome(RETRYING, switch.character, switch.scene)


def switch(delivery: Any) -> None:
    """Send the pending switch on ``delivery``'s character lane; the feed gets kind ``character``."""
    lane = delivery.lanes[dt.CHARACTER]
    pending = delivery.characters.pending
    with delivery.in_flight("character"):
        outcome = delivery.characters.send(delivery.client(), delivery.clock(), lane)
    content = f"{pending.scene} → {pending.character}"
    if outcome.outcome == PAUSED:
        delivery.key_rejected(outcome.error)
        delivery.record("character", content, "waiting", delivery.paused_reason)
        return
    words = character_words(outcome.outcome, outcome.name, outcome.scene, outcome.known)
    if outcome.ok:
        if outcome.outcome != DRY_RUN:
            delivery.name_active(outcome.name)
            delivery.on_character_activated(delivery.active_character)
        if outcome.outcome == ALREADY_ACTIVE:  # nothing was sent: not worth the panel's "Last success"
            delivery.record("character", content, "info", words)
        else:
            delivery.note_success("character", content, words, outcome="info" if outcome.outcome == DRY_RUN else "sent")
    else:
        delivery.note_problem("character", content, words, "waiting" if outcome.outcome == RETRYING else "failed")
