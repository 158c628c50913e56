"""One error family for everything that can go wrong talking to ai_licia: facts, not sentences.

An error states what was asked (``what``: "context", "reaction", "join", "leave",
"connection test"), why it failed (``reason``, one of the constants below), the
HTTP ``status_code`` when an answer came back, the server's ``retry_after`` in
seconds when it gave one, and whether the server may already have acted on the
request (``may_have_arrived``: a double reaction is worse than a missing one),
and the API ``address`` it was sent to when known (a wrong address is blamed on it).
``retryable`` says whether sending the same request again later can help.

The words a person reads are composed elsewhere, from one table
(:mod:`ailicia_core.error_words`): the panel's by :func:`ailicia_core.status.describe_error`
(which :attr:`ApiError.message` returns, so a log line or a traceback is still
readable), the terminal's by ``cli_support.py``.
No error ever holds the API key: only the channel, already normalized, is kept.
"""

from __future__ import annotations

from typing import Optional

from .error_words import explain_error
from .reasons import (  # noqa: F401 (every reason is named as errors.<REASON> too)
    ADDRESS_NOT_FOUND,
    BAD_CHANNEL,
    BAD_CHARACTER_ID,
    BROKEN,
    CHANNEL_NOT_FOUND,
    CONNECT_TIMEOUT,
    INVALID,
    KEY_REJECTED,
    NEEDS_SUBSCRIPTION,
    NOT_HTTPS,
    NOT_LINKED,
    RATE_LIMITED,
    READ_TIMEOUT,
    REDIRECT,
    SERVER,
    TLS,
    TOO_LARGE,
    UNEXPECTED_STATUS,
    UNREACHABLE,
    UNREADABLE,
    WEB_PAGE,
)


class ApiError(Exception):
    """Base of the family. ``status_code`` is None when no HTTP answer came back."""

    retryable = False
    may_have_arrived = True

    def __init__(
        self,
        what: str,
        reason: str,
        *,
        status_code: Optional[int] = None,
        retry_after: Optional[float] = None,
        channel: str = "",
        retryable: Optional[bool] = None,
        may_have_arrived: Optional[bool] = None,
        address: str = "",
    ) -> None:
        super().__init__(what, reason)
        self.what = what
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after
        self.channel = channel
        self.address = address
        if retryable is not None:
            self.retryable = retryable
        if may_have_arrived is not None:
            self.may_have_arrived = may_have_arrived

    @property
    def message(self) -> str:
        """The panel's sentence for this error (the same words as :func:`ailicia_core.status.describe_error`)."""
        return explain_error(self).text

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(what={self.what!r}, reason={self.reason!r}, status_code={self.status_code!r})"


class AuthError(ApiError):
    """401: the key is missing, wrong, or not allowed for this channel. Pauses sending."""


class ForbiddenError(ApiError):
    """403: the channel is not linked to the key, or (``requires_subscription``) no credits."""

    @property
    def requires_subscription(self) -> bool:
        return self.reason == NEEDS_SUBSCRIPTION


class NotFoundError(ApiError):
    """404: the channel cannot be found for this key, or the address is wrong (``reason`` says which)."""


class ContentRejectedError(ApiError):
    """400 or 422: the server refused the request's content. Sending it again cannot help."""


class RateLimitedError(ApiError):
    """429: too many requests on this lane. ``retry_after`` is in seconds when the server said."""

    retryable = True
    may_have_arrived = False


class ServerError(ApiError):
    """5xx: ai_licia's side failed. 502/503/504 mean the request was not processed."""

    retryable = True

    def __init__(self, what: str, reason: str = SERVER, **kwargs) -> None:
        super().__init__(what, reason, **kwargs)
        self.may_have_arrived = self.status_code not in (502, 503, 504)


class NetworkError(ApiError):
    """No HTTP answer: refused, unreachable, timed out or cut off."""

    retryable = True


class PlainHttpError(NetworkError):
    """An ``https://`` address whose server answered the TLS handshake in plain HTTP (reason ``NOT_HTTPS``).

    Nothing was sent.
    """


class BadResponseError(ApiError):
    """The server answered something we cannot read (not the documented JSON, or too large).

    A web page answered with 200 (a captive portal, a proxy) is one too: it is
    ``retryable`` and the request never reached ai_licia.
    """


class ResponseTooLargeError(BadResponseError):
    """The answer's body was over the size cap (``transport.MAX_BODY_BYTES``): not read, connection closed.

    Not ``retryable`` by default: a server that answers megabytes will do so again (reason ``TOO_LARGE``).
    """


class UnexpectedResponseError(ApiError):
    """Any other answer (a redirect, an undocumented status)."""
