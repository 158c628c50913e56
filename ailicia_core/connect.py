"""Connect with ai_licia: get the API key and channel from the ai_licia app, with the streamer's consent.

The ai_licia dashboard app, running on the streamer's computer, serves a local
WebSocket (``ws://127.0.0.1:51743``; facts in ``shared/api/local-websocket.md``).
The flow: we send ``hello``, the app answers ``welcome`` (listing
``integration.auth`` only while the streamer is signed in), we send
``request_access`` for ``rest.full``, the app shows a consent dialog
(``access_pending``) and answers ``access_granted`` (key and channel) or
``access_denied``; ``error`` answers carry a ``code``.

Three parts, from pure to not:

- message building and parsing (:func:`hello_message`, :func:`request_access_message`,
  :func:`parse_message`);
- :class:`Handshake`, a pure state machine fed with each answer and the time; it
  says what to send next and how the flow stands (:class:`ConnectState`). Its wait
  is bounded (:data:`CONSENT_WAIT_S`, for a person to click Allow);
- :class:`~ailicia_core.connect_runner.ConnectRunner` (its own module), which runs one
  handshake at a time over a real socket on its own daemon thread (``websocket-client``:
  no hand-written framing) and leaves the grant in a mailbox; its ``stop`` closes the
  socket, so it ends within the unload budget even mid-wait.

The key is an :class:`~ailicia_core.settings.ApiKey` as soon as it is parsed and is
registered with :mod:`~ailicia_core.logsafe`; frames are never logged, and
nothing here puts a frame, a key or a server's text into an exception. Outcomes are
facts (:data:`NO_APP`, :data:`DENIED` with the reason...); the words for people are
in :func:`ailicia_core.status.connect_words` and the command line's module.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, List, Optional

from . import __version__
from .limits import APP_GRANT_MAX_CHANNEL_CHARS
from .logsafe import clean_external
from .retry_policy import CONSENT_WAIT_S, OPEN_TIMEOUT_S  # noqa: F401 (connect_runner imports them here)
from .settings import ApiKey, normalize_channel

CLIENT_ID = "ailicia-obs"
DISPLAY_NAME = "ai_licia for OBS"
SCOPE = "rest.full"
AUTH_CAPABILITY = "integration.auth"
DEFAULT_APP_PORT = 51743
APP_HOST = "127.0.0.1"
#: How often the runner looks at the clock and the stop flag while it waits for an answer.
POLL_S = 0.25
#: An identifier from the app (a reason, a code) is shown at most this long.
MAX_CODE_CHARS = 40

#: The ``error`` codes and ``access_denied`` reasons the docs list (others may come; they get general words).
ERROR_CODES = (
    "missing_hello",
    "invalid_client_type",
    "invalid_client_id",
    "invalid_scope",
    "not_ready",
    "request_pending",
    "rate_limited",
    "ui_unavailable",
)
DENY_REASONS = ("user_denied", "timeout", "not_ready")

# Phases: where the flow stands.
IDLE = "idle"
OPENING = "opening"
WELCOME_AWAITED = "welcome_awaited"
REQUESTED = "requested"
PENDING = "pending"
GRANTED = "granted"
FAILED = "failed"
RUNNING_PHASES = (OPENING, WELCOME_AWAITED, REQUESTED, PENDING)

# Outcomes of a failed flow (``detail`` adds the app's reason or code where there is one).
NO_APP = "no_app"  # nothing listens on the port
NOT_THE_APP = "not_the_app"  # something else answers there (not a WebSocket, or not ai_licia's)
SIGNED_OUT = "signed_out"  # welcome without integration.auth
DENIED = "denied"  # access_denied; detail: user_denied | timeout | not_ready | other
APP_ERROR = "app_error"  # error; detail: its code (rate_limited, request_pending, ...)
TIMED_OUT = "timed_out"  # no decision within CONSENT_WAIT_S
DROPPED = "dropped"  # the app closed the connection mid-flow
ODD_ANSWER = "odd_answer"  # not JSON, or a grant without a usable key or channel
NO_LIBRARY = "no_library"  # websocket-client is not installed
STOPPED = "stopped"  # the script unloaded mid-flow


@dataclass(frozen=True)
class Incoming:
    """One message from the app: its ``type`` and ``payload`` (a dict, empty when absent)."""

    type: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Grant:
    """What ``access_granted`` hands over. ``repr`` shows the channel, never the key."""

    api_key: ApiKey
    channel: str


@dataclass(frozen=True)
class ConnectState:
    """How the flow stands: plain facts, no words, never the key."""

    phase: str = IDLE
    outcome: str = ""
    #: The app's reason or error code (cleaned and short), "" when none.
    detail: str = ""
    channel: str = ""
    port: int = DEFAULT_APP_PORT
    wait_s: float = CONSENT_WAIT_S

    @property
    def running(self) -> bool:
        return self.phase in RUNNING_PHASES


def _message(kind: str, payload: dict) -> str:
    return json.dumps({"type": kind, "payload": payload}, separators=(",", ":"))


def hello_message(version: str = __version__) -> str:
    """The ``hello`` frame: we are an integration, with a stable id, a name the streamer sees and our version."""
    return _message(
        "hello",
        {"clientType": "integration", "clientId": CLIENT_ID, "displayName": DISPLAY_NAME, "version": version},
    )


def request_access_message() -> str:
    """The ``request_access`` frame for ``rest.full`` (the only scope of v1)."""
    return _message("request_access", {"clientId": CLIENT_ID, "displayName": DISPLAY_NAME, "requestedScopes": [SCOPE]})


def parse_message(text: Any) -> Optional[Incoming]:
    """An :class:`Incoming` from one text frame, or None when it is not ``{"type": str, "payload": {...}}``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return None
    return Incoming(data["type"], payload)


def granted_text(value: Any, limit: int) -> str:
    """Text from the app made safe for any sentence: one line, at most ``limit`` characters, masked, and
    without control, format or bidi characters (a newline or a right-to-left mark could forge a line or
    turn one around). Anything but a string is "".
    """
    text = clean_external(value if isinstance(value, str) else "", limit)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def short_code(value: Any) -> str:
    """An identifier from the app (reason, code) safe to show: cleaned, one line, at most :data:`MAX_CODE_CHARS`."""
    return granted_text(value, MAX_CODE_CHARS)


def parse_grant(payload: dict) -> Optional[Grant]:
    """The :class:`Grant` in an ``access_granted`` payload, or None when the key or channel is unusable.

    The channel name is cleaned (:func:`granted_text`) before anything else sees it.
    """
    key = payload.get("apiKey")
    channel = normalize_channel(granted_text(payload.get("channelName"), APP_GRANT_MAX_CHANNEL_CHARS))
    if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key.strip()) or not channel:
        return None
    return Grant(ApiKey(key.strip()), channel)


class Handshake:
    """The flow as a pure state machine: feed it each answer and the time; it says what to send.

    :meth:`open` starts it (returns the ``hello`` frame) and sets the deadline,
    ``now + wait_s``. :meth:`receive` takes each parsed answer (None for a frame
    that is not a message), :meth:`closed` the end of the connection, :meth:`tick`
    the passing time. Once :attr:`done`, it ignores everything. :attr:`grant` is set
    only after ``access_granted``.
    """

    def __init__(
        self, *, port: int = DEFAULT_APP_PORT, wait_s: float = CONSENT_WAIT_S, version: str = __version__
    ) -> None:
        self.state = ConnectState(phase=IDLE, port=port, wait_s=wait_s)
        self.grant: Optional[Grant] = None
        self._version = version
        self._deadline = 0.0

    @property
    def done(self) -> bool:
        return self.state.phase in (GRANTED, FAILED)

    def open(self, now: float) -> List[str]:
        """The socket is open: send ``hello`` and wait for ``welcome``."""
        self._deadline = now + self.state.wait_s
        self.state = replace(self.state, phase=WELCOME_AWAITED)
        return [hello_message(self._version)]

    def fail(self, outcome: str, detail: str = "") -> None:
        if not self.done:
            self.state = replace(self.state, phase=FAILED, outcome=outcome, detail=detail)

    def tick(self, now: float) -> None:
        if not self.done and self.state.phase != IDLE and now >= self._deadline:
            self.fail(TIMED_OUT)

    def closed(self) -> None:
        self.fail(DROPPED)

    def receive(self, message: Optional[Incoming], now: float) -> List[str]:
        """One answer from the app; returns the frames to send in reply."""
        if self.done:
            return []
        self.tick(now)
        if self.done:
            return []
        if message is None:
            self.fail(ODD_ANSWER)
            return []
        payload = message.payload
        if message.type == "welcome":
            return self._welcomed(payload)
        if message.type == "access_pending":
            self.state = replace(self.state, phase=PENDING)
        elif message.type == "access_granted":
            self._granted(payload)
        elif message.type == "access_denied":
            self.fail(DENIED, short_code(payload.get("reason")))
        elif message.type == "error":
            self.fail(APP_ERROR, short_code(payload.get("code")))
        # Other types ("event" while her voice plays, future ones) are not for this flow.
        return []

    def _welcomed(self, payload: dict) -> List[str]:
        if self.state.phase != WELCOME_AWAITED:
            return []  # a second welcome changes nothing
        capabilities = payload.get("capabilities")
        if not isinstance(capabilities, list) or AUTH_CAPABILITY not in capabilities:
            self.fail(SIGNED_OUT)
            return []
        self.state = replace(self.state, phase=REQUESTED)
        return [request_access_message()]

    def _granted(self, payload: dict) -> None:
        grant = parse_grant(payload)
        if grant is None:
            self.fail(ODD_ANSWER)
            return
        self.grant = grant
        self.state = replace(self.state, phase=GRANTED, channel=grant.channel)
