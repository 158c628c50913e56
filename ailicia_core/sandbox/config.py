"""The sandbox's configuration, its records and its answers: plain values and their checks."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Sequence, Tuple

from ..limits import GENERATION_WINDOW_S, JOIN_SERVER_WAIT_S

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_CHANNEL = "mychannel"
DEFAULT_FOREIGN_CHANNEL = "someoneelse"
DEFAULT_JOIN_DELAY_S = 0.2
DEFAULT_CLI_PORT = 8787

AUTH_OK = "auth ok"
AUTH_BAD = "bad key"
AUTH_MISSING = "no key"

GARBAGE_BODY = b"<html>oops</html>"
#: Request bodies above this size get 413: the real limits are far below it.
MAX_BODY_BYTES = 64 * 1024
#: An idle keep-alive connection is closed after this long.
IDLE_CONNECTION_TIMEOUT_S = 30.0
CONTENT_PREVIEW_CHARS = 60

#: The examples of ``GET /v1/characters`` in openapi.yaml.
CHARACTERS = (
    {
        "id": "char_123",
        "name": "Captain Vibes",
        "description": "Energetic persona that keeps hype levels high.",
        "isActive": True,
    },
    {
        "id": "char_456",
        "name": "Cozy Willow",
        "description": "Chill storyteller for quiet late-night streams.",
        "isActive": False,
    },
)

#: A character id that exists but belongs to another streamer: ``PUT .../active`` answers 403.
FOREIGN_CHARACTER_ID = "char_999"

JOINED_MESSAGE = "AI successfully joined channel"
ALREADY_JOINED_MESSAGE = "AI already in channel"
JOIN_TIMEOUT_MESSAGE = f"Join request sent but AI join confirmation timed out after {int(JOIN_SERVER_WAIT_S)} seconds"
NO_CREDITS_MESSAGE = "ai_licia needs an active subscription or credits to join (sandbox: no_credits is on)"

#: The switches :meth:`Sandbox.set_faults` may change while the sandbox runs.
RUNTIME_SWITCHES = (
    "delay_s",
    "fail_first",
    "drop_first",
    "join_timeouts",
    "join_always_times_out",
    "garbage_first",
    "no_credits",
    "no_retry_after",
    "join_delay_s",
    "generation_window_s",
    # faults of one lane only
    "join_fail_first",
    "context_429_first",
    "context_retry_after_s",
    # EventSub (see eventsub.py)
    "eventsub_forbidden",
    "eventsub_no_pings",
    "eventsub_trickle",
    "eventsub_drop_every_s",
    "eventsub_ping_s",
    "ai_message_delay_s",
)
COUNTERS = ("fail_first", "drop_first", "join_timeouts", "garbage_first", "join_fail_first", "context_429_first")
FLAGS = (
    "join_always_times_out",
    "no_credits",
    "no_retry_after",
    "eventsub_forbidden",
    "eventsub_no_pings",
    "eventsub_trickle",
)
_DURATIONS = (
    "delay_s",
    "join_delay_s",
    "generation_window_s",
    "context_retry_after_s",
    "eventsub_drop_every_s",
    "eventsub_ping_s",
    "ai_message_delay_s",
)


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units: what a Java or JavaScript server counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class SandboxConfig:
    """How a :class:`Sandbox` behaves. ``port=0`` picks a free port.

    ``clock`` (monotonic seconds) times the generation window; tests may pass a
    fake one. :meth:`Sandbox.wait_for_generation_window` assumes the real clock.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_keys: Sequence[str] = (DEFAULT_API_KEY,)
    channels: Sequence[str] = (DEFAULT_CHANNEL,)
    foreign_channels: Sequence[str] = (DEFAULT_FOREIGN_CHANNEL,)
    generation_window_s: float = GENERATION_WINDOW_S
    join_delay_s: float = DEFAULT_JOIN_DELAY_S
    no_credits: bool = False
    no_retry_after: bool = False
    delay_s: float = 0.0
    fail_first: int = 0
    drop_first: int = 0
    join_timeouts: int = 0
    join_always_times_out: bool = False
    garbage_first: int = 0
    #: The first N joins answer 503 (an outage that starts with the join); other requests are served.
    join_fail_first: int = 0
    #: The first N contexts answer 429 with ``Retry-After: context_retry_after_s``.
    context_429_first: int = 0
    context_retry_after_s: float = 3600.0
    record_path: str | os.PathLike | None = None
    quiet: bool = False
    clock: Callable[[], float] = time.monotonic
    # EventSub fault switches and timings (eventsub.py)
    eventsub_forbidden: bool = False
    eventsub_no_pings: bool = False
    eventsub_trickle: bool = False
    eventsub_drop_every_s: float = 0.0
    eventsub_ping_s: float = 15.0
    ai_message_delay_s: float = 0.2


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the sandbox saw and answered it. ``status`` is None when no answer was sent."""

    method: str
    path: str
    channel: str | None
    body: Any
    status: int | None
    auth: str
    t: float

    def to_json(self) -> Dict[str, Any]:
        """The record-file line for this request."""
        return {
            "t": self.t,
            "method": self.method,
            "path": self.path,
            "channel": self.channel,
            "body": self.body,
            "status": self.status,
            "auth": self.auth,
        }


@dataclass(frozen=True)
class Incoming:
    """A request as read off the wire. ``api_key`` stays in memory, never in output."""

    method: str
    path: str
    auth: str
    api_key: str | None
    body: Any
    body_is_json: bool
    channel: str | None
    t: float
    query: str = ""  # the stream's types= and channelId=


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: close the connection without answering
    body: bytes = b""
    content_type: str = "application/json"
    headers: Tuple[Tuple[str, str], ...] = ()
    close: bool = False
    #: A streaming answer: ``stream(write, headers, client_gone)`` writes until it returns (True: a clean
    #: end).
    stream: Any = None


NO_ANSWER = Answer(None)


def json_answer(status: int, payload: Any, headers: Tuple[Tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, json.dumps(payload).encode("utf-8"), headers=headers)


def empty_answer(status: int, headers: Tuple[Tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, headers=headers)


def normalized(config: SandboxConfig) -> SandboxConfig:
    """``config`` with names as tuples (channels lowercase), after checking every value."""

    def names(value: str | Sequence[str], what: str, lower: bool) -> Tuple[str, ...]:
        items = (value,) if isinstance(value, str) else tuple(value)
        if not all(isinstance(item, str) and item.strip() for item in items):
            raise ValueError(f"{what} must be non-empty strings")
        return tuple(item.strip().lower() if lower else item.strip() for item in items)

    api_keys = names(config.api_keys, "api_keys", lower=False)
    if not api_keys:
        raise ValueError("the sandbox needs at least one API key")
    channels = names(config.channels, "channels", lower=True)
    foreign = names(config.foreign_channels, "foreign_channels", lower=True)
    both = sorted(set(channels) & set(foreign))
    if both:
        raise ValueError(f"a channel cannot be both owned and foreign: {', '.join(both)}")
    if not isinstance(config.port, int) or not 0 <= config.port <= 65535:
        raise ValueError("port must be 0..65535 (0 picks a free port)")
    for name in RUNTIME_SWITCHES:
        check_switch(name, getattr(config, name))
    return replace(config, api_keys=api_keys, channels=channels, foreign_channels=foreign)


def check_switch(name: str, value: Any) -> None:
    if name in COUNTERS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    elif name in FLAGS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, not {value!r}")
    elif name in _DURATIONS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
