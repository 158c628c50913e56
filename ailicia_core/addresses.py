"""The API address: https only (http only to this computer), a real host, nothing that would leak the key.

Split from :mod:`ailicia_core.settings` (which re-exports these names) to keep modules under 400 lines.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional, Tuple
from urllib.parse import urlsplit

from .limits import DEFAULT_BASE_URL

_HOSTNAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?", re.IGNORECASE)


def is_loopback_host(host: str) -> bool:
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":  # not *.localhost: some resolvers send those to DNS
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_valid_host(host: str) -> bool:
    """A DNS name or an IP literal; urlsplit alone lets "exa mple.com" or "a..b" through."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(_HOSTNAME.fullmatch(ascii_host))


def check_base_url(raw: Any) -> Tuple[str, Optional[str]]:
    """(normalized URL, problem or None). https only, except http to a loopback host."""
    text = ("" if raw is None else str(raw)).strip().rstrip("/")
    if not text:
        return DEFAULT_BASE_URL, None
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return text, "The API address is not a valid URL."
    if parts.scheme not in ("http", "https") or not host:
        return text, "The API address must start with https:// (for example https://api.getailicia.com)."
    if not _is_valid_host(host) or parts.port == 0:
        return text, "The API address is not a valid URL."
    if parts.username or parts.password:
        return text, "The API address must not contain a user name or password."
    if parts.query or parts.fragment:
        return text, "The API address must not contain '?' or '#' parts."
    if parts.scheme == "http" and not is_loopback_host(host):
        return text, ("The API address must use https:// (plain http is only allowed for this computer, "
                      "e.g. a local sandbox).")
    return text, None
