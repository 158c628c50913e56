"""Why a request to ai_licia failed: the ``reason`` every :class:`~ailicia_core.errors.ApiError` states.

Facts only, below both the error family (:mod:`ailicia_core.errors`, which re-exports them)
and its words (:mod:`ailicia_core.error_words`), so neither has to import the other's module to name one.
"""

# --- reasons: an answer came back ---------------------------------------------------------
KEY_REJECTED = "key_rejected"  # 401
NOT_LINKED = "not_linked"  # 403
NEEDS_SUBSCRIPTION = "needs_subscription"  # 403 with requiresSubscription
CHANNEL_NOT_FOUND = "channel_not_found"  # 404 on a path that names the channel
ADDRESS_NOT_FOUND = "address_not_found"  # 404 where the address itself is wrong
INVALID = "invalid"  # 400 / 422
RATE_LIMITED = "rate_limited"  # 429
SERVER = "server"  # 5xx
REDIRECT = "redirect"  # 3xx (never followed)
UNEXPECTED_STATUS = "unexpected_status"
WEB_PAGE = "web_page"  # 200 with HTML: a captive portal or a proxy
UNREADABLE = "unreadable"  # not the documented JSON
TOO_LARGE = "too_large"  # an answer bigger than the client reads
# --- reasons: no usable answer ----------------------------------------------------------
CONNECT_TIMEOUT = "connect_timeout"
READ_TIMEOUT = "read_timeout"
TLS = "tls"  # the certificate did not verify
NOT_HTTPS = "not_https"  # https:// to a server that speaks plain HTTP
UNREACHABLE = "unreachable"  # refused, no route, name not resolved
BROKEN = "broken"  # the connection broke mid-request
# --- reasons: nothing was sent ----------------------------------------------------------
BAD_CHANNEL = "bad_channel"  # "." or ".." cannot be a path segment
BAD_CHARACTER_ID = "bad_character_id"  # an id that cannot be a path segment ("", ".", "..")
