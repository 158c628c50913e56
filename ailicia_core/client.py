"""ApiClient: the ai_licia REST API over one ``requests.Session``, with typed results.

Every method either returns a typed result or raises one :class:`~ailicia_core.errors.ApiError`
stating facts (what, reason, status, Retry-After, whether it may have arrived); ``status.py``
(panel) and ``cli_support.py`` (terminal) compose the words. Redirects are never followed (the
key must not travel to another host) and TLS verification is never turned off.
:func:`make_client` is the one factory. Only the worker and the CLI call this, never OBS threads.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple
from urllib.parse import quote, urlsplit

import requests

from . import USER_AGENT, transport
from . import errors as err
from .api_bodies import (  # noqa: F401 (re-exported)
    GENERATION_FEATURES,
    character_path,
    generation_body,
    parse_retry_after,
)
from .logsafe import clean_external, register_secret
from .retry_policy import CONNECT_TIMEOUT_S, JOIN_READ_TIMEOUT_S, READ_TIMEOUT_S
from .settings import ApiKey, Settings
from .text import event_type_label

log = logging.getLogger("ailicia")


JOINED = "joined"
ALREADY_IN_CHAT = "already_in_chat"
TIMED_OUT = "timed_out"
NOT_JOINED = "not_joined"
DRY_RUN = "dry_run"


@dataclass(frozen=True)
class JoinResult:
    """What ``POST /v1/streams/{channel}`` said (JoinChannelResponse)."""

    outcome: str
    message: str = ""
    joined_at_ms: Optional[int] = None
    channel_id: Optional[str] = None
    join_request_id: Optional[str] = None

    @property
    def in_chat(self) -> bool:
        return self.outcome in (JOINED, ALREADY_IN_CHAT)


@dataclass(frozen=True)
class Character:
    """One entry of ``GET /v1/characters``."""

    id: str
    name: str
    description: str = ""
    is_active: bool = False


class _BearerAuth(requests.auth.AuthBase):
    # Passing auth explicitly also stops requests from substituting ~/.netrc credentials.
    def __init__(self, key: ApiKey) -> None:
        self._key = key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        return request


class ApiClient:
    """Calls the ai_licia API for one key, channel and base URL.

    ``timeout`` arguments override the deadline of one call: it bounds the whole
    request, answer included (transport.py); the worker shortens it while OBS is
    shutting down.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: ApiKey,
        channel: str,
        session: Optional[requests.Session] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.channel = channel
        self._auth = _BearerAuth(api_key)
        register_secret(api_key.reveal())
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def close(self) -> None:
        """Release pooled connections (only of a session this client created)."""
        if self._owns_session:
            self._session.close()

    # --- endpoints ---------------------------------------------------------------

    def send_context(
        self, content: str, *, event_type: str, ttl: Optional[int] = None, timeout: Optional[float] = None
    ) -> None:
        """``POST /v1/events``: add ``content`` to ai_licia's context."""
        data: dict = {"channelName": self.channel, "content": content}
        if ttl:
            data["ttl"] = int(ttl)
        self._call(
            "POST",
            "/v1/events",
            "context",
            json_body={"eventType": event_type_label(event_type), "data": data},
            timeout=timeout,
        )

    def send_generation(
        self,
        content: str,
        *,
        event_type: str,
        timeout: Optional[float] = None,
        features: Optional[Mapping[str, bool]] = None,
    ) -> None:
        """``POST /v1/events/generations``: ask ai_licia to react now (``features``: GenerationFeatures)."""
        body = generation_body(self.channel, content, event_type, features)
        self._call("POST", "/v1/events/generations", "reaction", json_body=body, timeout=timeout)

    def set_active_character(self, character_id: str, *, timeout: Optional[float] = None) -> None:
        """``PUT /v1/characters/{id}/active``: make that character ai_licia's persona (answers 204)."""
        self._call("PUT", character_path(character_id), "character switch", timeout=timeout)

    def join(self, *, timeout: Optional[float] = None) -> JoinResult:
        """``POST /v1/streams/{channel}``: ask ai_licia to join chat (the server waits up to 10 s)."""
        read = JOIN_READ_TIMEOUT_S if timeout is None else timeout
        response = self._call("POST", self._stream_path(), "join", timeout=read)
        return parse_join_result(response)

    def leave(self, *, timeout: Optional[float] = None) -> None:
        """``DELETE /v1/streams/{channel}``: ask ai_licia to leave chat (queued, answers 202)."""
        self._call("DELETE", self._stream_path(), "leave", timeout=timeout)

    def list_characters(self, *, timeout: Optional[float] = None) -> List[Character]:
        """``GET /v1/characters``: no side effect, so it serves as "test connection"."""
        response = self._call("GET", "/v1/characters", "connection test", timeout=timeout)
        payload = _json(response, "connection test")
        if not isinstance(payload, list):
            raise err.BadResponseError("connection test", err.UNREADABLE, status_code=response.status_code)
        return [
            Character(
                id=str(item.get("id", "")),
                name=clean_external(item.get("name", "")),  # server text: one line, capped, redacted
                description=clean_external(item.get("description", ""), 2000),
                is_active=bool(item.get("isActive", False)),
            )
            for item in payload
            if isinstance(item, dict)
        ]

    # --- plumbing ----------------------------------------------------------------

    def _stream_path(self) -> str:
        # "." and ".." are dot segments: requests would resolve "/v1/streams/.." to "/v1/".
        if self.channel.strip(".") == "":
            raise err.NotFoundError("the request", err.BAD_CHANNEL, channel=self.channel, may_have_arrived=False)
        return "/v1/streams/" + quote(self.channel, safe="")

    def _call(
        self, method: str, path: str, what: str, *, json_body: Any = None, timeout: Optional[float] = None
    ) -> requests.Response:
        # ``timeout`` bounds the whole request (connect, headers and body), not each read: see transport.py.
        try:
            response = transport.fetch(
                transport.watch(self._session),
                method,
                self.base_url + path,
                deadline_s=READ_TIMEOUT_S if timeout is None else timeout,
                json=json_body,
                auth=self._auth,
                allow_redirects=False,
            )
        except transport.BodyTooLarge:
            raise err.ResponseTooLargeError(what, err.TOO_LARGE, may_have_arrived=True, address=self.base_url) from None
        except requests.exceptions.RequestException as exc:
            error = network_error(exc, what)
            error.address = self.base_url
            raise error from None
        # The address is the host alone: with a path in it ("/v1", "/api") every path is wrong, so a 404
        # blames the address, not the channel.
        names_channel = path.startswith("/v1/streams/") and not _address_has_path(self.base_url)
        try:
            check_response(response, what, self.channel, channel_in_path=names_channel)
        except err.ApiError as exc:
            exc.address = self.base_url
            raise
        if _is_web_page(response):
            # A captive portal or a proxy answers 200 with HTML: the request never reached ai_licia.
            raise err.BadResponseError(
                what,
                err.WEB_PAGE,
                status_code=response.status_code,
                retryable=True,
                may_have_arrived=False,
                address=self.base_url,
            )
        return response


def network_error(exc: BaseException, what: str) -> err.NetworkError:
    """The :class:`NetworkError` for a ``requests`` exception (its facts, never its raw text)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return err.NetworkError(what, err.CONNECT_TIMEOUT, may_have_arrived=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return err.NetworkError(what, err.READ_TIMEOUT, may_have_arrived=True)
    if isinstance(exc, requests.exceptions.SSLError):
        if transport.speaks_plain_http(exc):
            return err.PlainHttpError(what, err.NOT_HTTPS, may_have_arrived=False)
        return err.NetworkError(what, err.TLS, may_have_arrived=False)
    if isinstance(exc, requests.exceptions.ConnectionError) and _never_connected(exc):
        return err.NetworkError(what, err.UNREACHABLE, may_have_arrived=False)
    return err.NetworkError(what, err.BROKEN, may_have_arrived=True)


def _never_connected(exc: BaseException) -> bool:
    text = repr(exc)
    return any(
        mark in text
        for mark in (
            "NewConnectionError",
            "Connection refused",
            "NameResolution",
            "Failed to resolve",
            "getaddrinfo",
            "Name or service not known",
        )
    )


def _address_has_path(base_url: str) -> bool:
    """True for an address with a path after the host ("/v1", "/api"): the API's paths would all be wrong."""
    return bool(urlsplit(base_url).path.strip("/"))


def check_response(response: requests.Response, what: str, channel: str, *, channel_in_path: bool = True) -> None:
    """Raise the matching :class:`ApiError` for any non-2xx answer.

    ``channel_in_path`` says whether the URL names the channel: only then can a 404
    mean an unknown channel; otherwise the API address itself is wrong.
    """
    code = response.status_code
    if 200 <= code < 300:
        return
    facts = {"status_code": code, "channel": channel}
    if 300 <= code < 400:
        raise err.UnexpectedResponseError(what, err.REDIRECT, **facts)
    if code == 401:
        raise err.AuthError(what, err.KEY_REJECTED, **facts)
    if code == 403:
        reason = err.NEEDS_SUBSCRIPTION if _body_flag(response, "requiresSubscription") else err.NOT_LINKED
        raise err.ForbiddenError(what, reason, **facts)
    if code == 404:
        raise err.NotFoundError(what, err.CHANNEL_NOT_FOUND if channel_in_path else err.ADDRESS_NOT_FOUND, **facts)
    if code in (400, 422):
        raise err.ContentRejectedError(what, err.INVALID, **facts)
    # A Retry-After on a 429 or a 5xx (503 during maintenance) is the server's own word: honoured as given.
    wait = parse_retry_after(response.headers.get("Retry-After"))
    if code == 429:
        raise err.RateLimitedError(what, err.RATE_LIMITED, retry_after=wait, **facts)
    if code >= 500:
        raise err.ServerError(what, err.SERVER, retry_after=wait, **facts)
    raise err.UnexpectedResponseError(what, err.UNEXPECTED_STATUS, **facts)


def parse_join_result(response: requests.Response) -> JoinResult:
    """A :class:`JoinResult` from a 200 JoinChannelResponse."""
    payload = _json(response, "join")
    if not isinstance(payload, dict):
        raise err.BadResponseError("join", err.UNREADABLE, status_code=response.status_code)
    message = clean_external(payload.get("message") or "")  # shown in the status: one line, capped, redacted
    if payload.get("timeout"):
        outcome = TIMED_OUT
    elif payload.get("success") and payload.get("alreadyJoined"):
        outcome = ALREADY_IN_CHAT
    elif payload.get("success"):
        outcome = JOINED
    else:
        outcome = NOT_JOINED
    return JoinResult(
        outcome=outcome,
        message=message,
        joined_at_ms=_int_or_none(payload.get("joinedAt")),
        channel_id=_str_or_none(payload.get("channelId")),
        join_request_id=_str_or_none(payload.get("joinRequestId")),
    )


def _is_web_page(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    head = response.content[:64].lstrip().lower()
    return "text/html" in content_type or head.startswith((b"<!doctype html", b"<html"))


def _json(response: requests.Response, what: str) -> Any:
    try:
        return json.loads(response.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise err.BadResponseError(what, err.UNREADABLE, status_code=response.status_code) from None


def _body_flag(response: requests.Response, name: str) -> bool:
    try:
        payload = json.loads(response.content.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(payload, dict) and bool(payload.get(name))


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):  # json.loads reads Infinity and 1e999 as inf
        return None


def _str_or_none(value: Any) -> Optional[str]:
    return None if value is None else str(value)


class DryRunClient:
    """Same interface as :class:`ApiClient`; logs each request it would send and sends nothing."""

    #: Callers that would have to look something up first (the character lane) skip it in a dry run.
    dry_run = True

    def __init__(self, *, base_url: str, channel: str, **_ignored: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self.channel = channel

    def close(self) -> None:
        pass

    def _log(self, method: str, path: str, body: Any = None) -> None:
        shown = "" if body is None else " " + json.dumps(body, ensure_ascii=False)
        log.info("Dry run: would send %s %s%s", method, path, shown)

    def send_context(self, content: str, *, event_type: str, ttl: Optional[int] = None, **_: Any) -> None:
        data: dict = {"channelName": self.channel, "content": content}
        if ttl:
            data["ttl"] = int(ttl)
        self._log("POST", "/v1/events", {"eventType": event_type_label(event_type), "data": data})

    def send_generation(
        self, content: str, *, event_type: str, features: Optional[Mapping[str, bool]] = None, **_: Any
    ) -> None:
        self._log("POST", "/v1/events/generations", generation_body(self.channel, content, event_type, features))

    def set_active_character(self, character_id: str, **_: Any) -> None:
        self._log("PUT", character_path(character_id))

    def join(self, **_: Any) -> JoinResult:
        self._log("POST", "/v1/streams/" + quote(self.channel, safe=""))
        return JoinResult(outcome=DRY_RUN, message="Dry run: ai_licia was not asked to join.")

    def leave(self, **_: Any) -> None:
        self._log("DELETE", "/v1/streams/" + quote(self.channel, safe=""))

    def list_characters(self, **_: Any) -> List[Character]:
        self._log("GET", "/v1/characters")
        return []


def make_client(settings: Settings, *, session: Optional[requests.Session] = None, send: bool = False) -> Any:
    """The one client factory: an :class:`ApiClient` for ``settings``, or a :class:`DryRunClient` in dry run.

    ``send=True`` asks for a real client even in dry run (the connection test has no side effect).
    """
    client_type = DryRunClient if settings.dry_run and not send else ApiClient
    return client_type(
        base_url=settings.api_base_url, api_key=settings.api_key, channel=settings.channel, session=session
    )


def timeouts_for(remaining: float) -> Tuple[float, float]:
    """(connect, read) timeouts that both end within ``remaining`` seconds."""
    remaining = max(0.05, remaining)
    return (min(CONNECT_TIMEOUT_S, remaining), remaining)
