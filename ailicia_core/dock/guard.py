"""Who may talk to the dock: pure checks of one request's Host, Origin and token.

The dock listens on 127.0.0.1 only, but a web page the streamer visits can still
make the browser send requests there. These checks stop that:

- ``Host`` must name the dock itself (``127.0.0.1:<port>`` or ``localhost:<port>``),
  so a DNS-rebinding page (``evil.example`` resolving to 127.0.0.1) is refused;
- every request carries the token (GET: ``?token=`` in the URL, POST: the
  :data:`TOKEN_HEADER` header), compared in constant time; an empty token never matches;
- a POST whose ``Origin`` is not the dock's own is refused (no CSRF). A POST with
  no ``Origin`` comes from a local program, not a web page, and still needs the token.
"""

from __future__ import annotations

import hmac
from typing import Optional

TOKEN_HEADER = "X-Ailicia-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def allowed_hosts(port: int) -> frozenset:
    """The ``Host`` values that name this dock."""
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def allowed_origins(port: int) -> frozenset:
    """The ``Origin`` values of the dock's own pages."""
    return frozenset(f"http://{host}" for host in allowed_hosts(port))


def token_matches(given: Optional[str], token: str) -> bool:
    """True when ``given`` is exactly ``token`` (constant time); never for an empty token."""
    if not token or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def refusal(
    *, method: str, host: Optional[str], origin: Optional[str], given_token: Optional[str], token: str, port: int
) -> Optional[str]:
    """Why this request is refused (``bad_host``, ``bad_origin``, ``bad_token``), or None to serve it."""
    if (host or "").strip().lower() not in allowed_hosts(port):
        return "bad_host"
    if method == "POST" and origin is not None and origin.strip().lower() not in allowed_origins(port):
        return "bad_origin"
    if not token_matches(given_token, token):
        return "bad_token"
    return None
