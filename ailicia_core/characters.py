"""Characters per scene: which ai_licia character a scene asks for, and what to do about it (pure).

``scene_characters`` maps scenes to character *names*; the API activates
characters by *id* (``PUT /v1/characters/{id}/active``). :func:`decide` resolves a
name against the list ``GET /v1/characters`` gave, without regard to case, and
says what to do: activate it, nothing (it is already active), or report that it
does not exist (with the names that do). No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, List, Optional, Sequence, Tuple, Union

#: What a character switch came to (the character lane reports one; the status puts it in words).
ACTIVATED = "activated"
ALREADY_ACTIVE = "already active"
UNKNOWN = "unknown"
FORBIDDEN = "forbidden"
NOT_FOUND = "not found"
RETRYING = "retrying"
GAVE_UP = "gave up"
DRY_RUN = "dry run"
PAUSED = "paused"  # a 401: every lane pauses


def parse_scene_characters(lines: Sequence[str]) -> Tuple[Tuple[Tuple[str, str], ...], Tuple[str, ...]]:
    """((scene, character name) pairs, problems in plain words) from the setting's lines; never raises."""
    pairs: List[Tuple[str, str]] = []
    problems: List[str] = []
    for line in lines:
        scene, found, character = line.partition(" = " if " = " in line else "=")
        scene, character = scene.strip(), character.strip()
        if not found or not scene or not character:
            problems.append(f"Characters per scene: '{line[:60]}' is not 'Scene name = Character name'.")
            continue
        if any(s.casefold() == scene.casefold() for s, _ in pairs):
            problems.append(f"Characters per scene: the scene '{scene[:60]}' is listed twice; the first line counts.")
            continue
        pairs.append((scene, character))
    return tuple(pairs), tuple(problems)


def character_for_scene(pairs: Sequence[Tuple[str, str]], scene: str) -> str:
    """The character name mapped to ``scene`` ("" when none): exact match first, then any case."""
    for name, character in pairs:
        if name == scene:
            return character
    folded = scene.casefold()
    return next((character for name, character in pairs if name.casefold() == folded), "")


@dataclass(frozen=True)
class Activate:
    """Make character ``character_id`` (called ``name``) active."""

    character_id: str
    name: str


@dataclass(frozen=True)
class AlreadyActive:
    """The wanted character is active already: nothing to send."""

    name: str


@dataclass(frozen=True)
class UnknownCharacter:
    """No character is called ``wanted``; ``known`` are the names that exist."""

    wanted: str
    known: Tuple[str, ...]


Decision = Union[Activate, AlreadyActive, UnknownCharacter]


def find_character(characters: Optional[Sequence[Any]], wanted: str) -> Optional[Any]:
    """The character called ``wanted`` (exact name first, then any case), or None."""
    if not characters:
        return None
    for character in characters:
        if character.name == wanted:
            return character
    folded = wanted.strip().casefold()
    return next((c for c in characters if c.name.strip().casefold() == folded), None)


def decide(characters: Sequence[Any], wanted: str) -> Decision:
    """What to do to make ``wanted`` active, given ``characters`` (objects with id, name, is_active)."""
    found = find_character(characters, wanted)
    if found is None:
        return UnknownCharacter(wanted, tuple(c.name for c in characters))
    if found.is_active:
        return AlreadyActive(found.name)
    return Activate(found.id, found.name)


def with_active(characters: Sequence[Any], character_id: str) -> Tuple[Any, ...]:
    """``characters`` after ``character_id`` became active (the others inactive)."""
    return tuple(replace(c, is_active=(c.id == character_id)) for c in characters)
