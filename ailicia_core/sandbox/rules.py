"""The sandbox's rules: how each request is answered, faults first, then the API's own checks.

:class:`Rules` is mixed into :class:`~.server.Sandbox`; it reads the state the
server owns (``_config``, ``_joined``, the locks) and never touches a socket.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import Any, Callable, Dict, Sequence, Tuple
from urllib.parse import unquote

from ..limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from .config import (
    ALREADY_JOINED_MESSAGE,
    AUTH_BAD,
    AUTH_MISSING,
    AUTH_OK,
    CHARACTERS,
    FOREIGN_CHARACTER_ID,
    GARBAGE_BODY,
    JOIN_TIMEOUT_MESSAGE,
    JOINED_MESSAGE,
    NO_ANSWER,
    NO_CREDITS_MESSAGE,
    Answer,
    Incoming,
    SandboxConfig,
    empty_answer,
    json_answer,
    utf16_length,
)


class Rules:
    """How the sandbox answers; see the package docstring for the order of checks."""

    _config: SandboxConfig

    def answer(self, req: Incoming) -> Answer:
        """Decide the answer to one request, waiting where a delay says so."""
        arrived = time.monotonic()
        if self._stopping.is_set():
            return NO_ANSWER
        # The event stream has its own fault switches (eventsub.py); only delay_s holds it too.
        fault = None if req.path == "/v1/eventsub/stream" else self._take_fault()
        if fault == "drop" or not self._hold(arrived):
            return NO_ANSWER
        if fault == "fail":
            return empty_answer(503)
        if fault == "garbage":
            return Answer(200, GARBAGE_BODY, content_type="text/html")
        return self._route(req)

    def _take_fault(self) -> str | None:
        with self._lock:
            config = self._config
            for name, fault in (("drop_first", "drop"), ("fail_first", "fail"), ("garbage_first", "garbage")):
                left = getattr(config, name)
                if left > 0:
                    self._config = replace(config, **{name: left - 1})
                    return fault
            return None

    def _hold(self, arrived: float) -> bool:
        """Hold a request until ``delay_s`` after ``arrived``; False if the sandbox stops meanwhile.

        The delay is read again at every wake-up, so ``set_faults(delay_s=0)`` releases
        held requests, and :meth:`stop` (which notifies) ends the wait at once.
        """
        with self._state_changed:
            while not self._stopping.is_set():
                remaining = arrived + self._config.delay_s - time.monotonic()
                if remaining <= 0:
                    return True
                self._state_changed.wait(remaining)
            return False

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False if the sandbox stopped meanwhile."""
        return not self._stopping.wait(seconds)

    def _route(self, req: Incoming) -> Answer:
        target = _stream_channel(req.path)
        if target is not None:
            allowed = {"POST": self._join, "DELETE": self._leave}
            action = allowed.get(req.method)
            if action is None or req.auth != AUTH_OK:
                return self._refuse(req, allowed)
            return action(target)
        character = _character_of(req.path)
        if character is not None:
            allowed = {"PUT": lambda: self._activate_character(character)}
            if req.method not in allowed or req.auth != AUTH_OK:
                return self._refuse(req, allowed)
            return allowed["PUT"]()
        endpoints: Dict[str, Dict[str, Callable[[], Answer]]] = {
            "/v1/characters": {"GET": lambda: json_answer(200, self._characters())},
            "/v1/events": {"POST": lambda: self._event(req, generation=False)},
            "/v1/events/generations": {"POST": lambda: self._event(req, generation=True)},
            "/v1/eventsub/stream": {"GET": lambda: self._eventsub_stream(req)},  # eventsub.py
        }
        allowed = endpoints.get(req.path)
        if allowed is None:
            return empty_answer(404)
        action = allowed.get(req.method)
        if action is None or req.auth != AUTH_OK:
            return self._refuse(req, allowed)
        return action()

    def _characters(self) -> list:
        with self._lock:
            active = self._active_character
        return [{**c, "isActive": c["id"] == active} for c in CHARACTERS]

    def _activate_character(self, character_id: str) -> Answer:
        """204 for an owned character (it becomes the active one), 403 for another's, 404 for none."""
        if character_id == FOREIGN_CHARACTER_ID:
            return empty_answer(403)
        if character_id not in {c["id"] for c in CHARACTERS}:
            return empty_answer(404)
        with self._lock:
            self._active_character = character_id
        return empty_answer(204)

    @staticmethod
    def _refuse(req: Incoming, allowed: Dict[str, Any]) -> Answer:
        if req.method not in allowed:
            return empty_answer(405, (("Allow", ", ".join(sorted(allowed))),))
        return empty_answer(401)

    def _channel_refusal(self, channel: str) -> Answer | None:
        config = self.current()
        if channel in config.foreign_channels:
            return empty_answer(403)
        if channel not in config.channels:
            return empty_answer(404)
        return None

    def _take_counter(self, name: str) -> bool:
        """Use one of the counter ``name`` (a one-lane fault); False when none is left."""
        with self._lock:
            left = getattr(self._config, name)
            if left > 0:
                self._config = replace(self._config, **{name: left - 1})
            return left > 0

    def _join(self, channel: str) -> Answer:
        if self._take_counter("join_fail_first"):
            return empty_answer(503)
        refusal = self._channel_refusal(channel)
        if refusal is not None:
            return refusal
        with self._lock:
            config = self._config
            already = channel in self._joined
        if config.no_credits:
            return json_answer(403, {"success": False, "message": NO_CREDITS_MESSAGE, "requiresSubscription": True})
        if already:
            return json_answer(200, {"success": True, "message": ALREADY_JOINED_MESSAGE, "alreadyJoined": True})
        if not self._pause(config.join_delay_s):
            return NO_ANSWER
        with self._state_changed:
            if channel in self._joined:  # a concurrent join got there first
                return json_answer(200, {"success": True, "message": ALREADY_JOINED_MESSAGE, "alreadyJoined": True})
            self._joined.add(channel)
            self._state_changed.notify_all()
            self._eventsub_presence(channel, joined=True)
            config = self._config
            if not (config.join_always_times_out or config.join_timeouts > 0):
                return json_answer(
                    200,
                    {
                        "success": True,
                        "message": JOINED_MESSAGE,
                        "joinedAt": int(time.time() * 1000),
                        "channelId": f"ch_{channel}",
                    },
                )
            if not config.join_always_times_out:
                self._config = replace(config, join_timeouts=config.join_timeouts - 1)
            self._join_requests += 1
            request_id = f"req_{self._join_requests}"
        return json_answer(
            200, {"success": False, "message": JOIN_TIMEOUT_MESSAGE, "timeout": True, "joinRequestId": request_id}
        )

    def _leave(self, channel: str) -> Answer:
        refusal = self._channel_refusal(channel)
        if refusal is not None:
            return refusal
        with self._state_changed:
            was_joined = channel in self._joined
            self._joined.discard(channel)
            self._state_changed.notify_all()
        if was_joined:
            self._eventsub_presence(channel, joined=False)
        return empty_answer(202)

    def _event(self, req: Incoming, *, generation: bool) -> Answer:
        problem = _event_problem(req.body, req.body_is_json)
        if problem is not None:
            return json_answer(400, {"message": problem})
        data = req.body["data"]
        if data["channelName"].lower() not in self.current().channels:
            return empty_answer(401)  # openapi.yaml: "401 Not allowed to send events for this channel"
        limit = GENERATION_MAX_CHARS if generation else CONTEXT_MAX_CHARS
        length = utf16_length(data["content"])
        if length > limit:
            return json_answer(
                422,
                {"message": f"Content exceeds the {limit}-character limit ({length}, counted in UTF-16 code units)"},
            )
        if not generation:
            if self._take_counter("context_429_first"):
                wait = (("Retry-After", f"{self.current().context_retry_after_s:g}"),)
                return json_answer(429, {"message": "Too many requests"}, wait)
            return json_answer(200, {"success": True, "message": "Event received"})
        answer = self._accept_generation(req.api_key or "")
        if answer.status == 200:
            self._eventsub_generated(data["channelName"].lower(), data["content"])
        return answer

    def _accept_generation(self, api_key: str) -> Answer:
        with self._state_changed:
            remaining = self._window_remaining(api_key)
            if remaining > 0:
                config = self._config
                headers = () if config.no_retry_after else (("Retry-After", str(max(1, math.ceil(remaining)))),)
                message = f"Too many requests: one generation per {config.generation_window_s:g} seconds per API key"
                return json_answer(429, {"message": message}, headers)
            self._last_generation[api_key] = self._config.clock()
            self._state_changed.notify_all()
        return json_answer(200, {"success": True, "message": "Generation request accepted"})

    def _window_remaining(self, api_key: str | None) -> float:
        """Seconds until ``api_key`` (None: every key) may generate again. Caller holds the lock."""
        if api_key is None:
            starts = list(self._last_generation.values())
        else:
            starts = [self._last_generation[api_key]] if api_key in self._last_generation else []
        if not starts:
            return 0.0
        return self._config.generation_window_s - (self._config.clock() - max(starts))


def parse_json(raw: bytes) -> Tuple[Any, bool]:
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
        return None, False


def authenticate(header: str | None, api_keys: Sequence[str]) -> Tuple[str, str | None]:
    """(auth word for the output, the key if it is one of ``api_keys``)."""
    if not header or not header.strip():
        return AUTH_MISSING, None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token in api_keys:
        return AUTH_OK, token
    return AUTH_BAD, None


def _stream_channel(path: str) -> str | None:
    """The channel of a ``/v1/streams/{channel}`` path (unquoted, lowercase), else None."""
    parts = path.split("/")
    if len(parts) == 4 and parts[:3] == ["", "v1", "streams"] and parts[3]:
        return unquote(parts[3]).lower()
    return None


def _character_of(path: str) -> str | None:
    """The id of a ``/v1/characters/{id}/active`` path (unquoted), else None."""
    parts = path.split("/")
    if len(parts) == 5 and parts[:3] == ["", "v1", "characters"] and parts[3] and parts[4] == "active":
        return unquote(parts[3])
    return None


def channel_of(path: str, body: Any) -> str | None:
    """The channel a request is about: from the path, else from ``data.channelName``."""
    channel = _stream_channel(path)
    if channel is not None:
        return channel
    data = body.get("data") if isinstance(body, dict) else None
    name = data.get("channelName") if isinstance(data, dict) else None
    return name.lower() if isinstance(name, str) else None


def _event_problem(body: Any, is_json: bool) -> str | None:
    """Why an events or generations body is invalid (400), or None."""
    if not is_json:
        return "the body must be JSON"
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    event_type = body.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        return "eventType is missing"
    data = body.get("data")
    if not isinstance(data, dict):
        return "data is missing"
    channel = data.get("channelName")
    if not isinstance(channel, str) or not channel.strip():
        return "data.channelName is missing"
    if not isinstance(data.get("content"), str):
        return "data.content is missing"
    ttl = data.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        return "data.ttl must be a whole number of seconds"
    return None
