"""One error family for everything that can go wrong talking to ai_licia.

Every error carries a ``message`` a streamer understands (shown in the panel and
the Script Log) and never the API key. ``retryable`` says whether sending the same
request again later can help; ``may_have_arrived`` says whether the server may
already have acted on it (which matters for generations: a double reaction is
worse than a missing one).
"""

from __future__ import annotations

from typing import Optional


class ApiError(Exception):
    """Base of the family. ``status_code`` is None when no HTTP answer came back."""

    retryable = False
    may_have_arrived = True

    def __init__(self, message: str, *, status_code: Optional[int] = None,
                 retryable: Optional[bool] = None, may_have_arrived: Optional[bool] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        if retryable is not None:
            self.retryable = retryable
        if may_have_arrived is not None:
            self.may_have_arrived = may_have_arrived

    def __str__(self) -> str:
        return self.message


class AuthError(ApiError):
    """401: the key is missing, wrong, or not allowed for this channel. Pauses sending."""


class ForbiddenError(ApiError):
    """403: the channel is not linked to the key, or (``requires_subscription``) no credits."""

    def __init__(self, message: str, *, requires_subscription: bool = False, status_code: int = 403) -> None:
        super().__init__(message, status_code=status_code)
        self.requires_subscription = requires_subscription


class NotFoundError(ApiError):
    """404: the channel cannot be found for this key."""


class ContentRejectedError(ApiError):
    """400 or 422: the server refused the request's content. Sending it again cannot help."""


class RateLimitedError(ApiError):
    """429: too many forced reactions. ``retry_after`` is in seconds when the server said."""

    retryable = True

    def __init__(self, message: str, *, retry_after: Optional[float] = None) -> None:
        super().__init__(message, status_code=429)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: ai_licia's side failed. 502/503/504 mean the request was not processed."""

    retryable = True

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message, status_code=status_code)
        self.may_have_arrived = status_code not in (502, 503, 504)


class NetworkError(ApiError):
    """No HTTP answer: refused, unreachable, timed out or cut off."""

    retryable = True

    def __init__(self, message: str, *, may_have_arrived: bool) -> None:
        super().__init__(message)
        self.may_have_arrived = may_have_arrived


class PlainHttpError(NetworkError):
    """An ``https://`` address whose server answered the TLS handshake in plain HTTP: nothing was sent."""

    reason = "plain_http"


class BadResponseError(ApiError):
    """The server answered something we cannot read (not the documented JSON).

    A web page answered with 200 (a captive portal, a proxy) is one too: it is
    ``retryable`` and the request never reached ai_licia.
    """


class ResponseTooLargeError(BadResponseError):
    """The answer's body was over the size cap (``transport.MAX_BODY_BYTES``): not read, connection closed.

    Not ``retryable`` by default: a server that answers megabytes will do so again.
    """

    reason = "too_large"


class UnexpectedResponseError(ApiError):
    """Any other answer (a redirect, an undocumented status)."""
