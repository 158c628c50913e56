"""Keeping the API key out of every log line and status text.

The code never formats the key on purpose (``ApiKey`` masks itself). This is the
second belt: a filter on the ``ailicia`` logger that masks any registered secret
that still reaches a record, for example inside a server's error text.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterable

MASK = "***"
_MIN_SECRET_LENGTH = 4  # masking "a" would mangle every message

_TRACEBACKS = logging.Formatter()
_lock = threading.Lock()
_secrets: frozenset = frozenset()


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in log records or :func:`redact` output from now on."""
    global _secrets
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets = _secrets | {value}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and each of ``secrets``) replaced by ``***``."""
    for secret in sorted(set(_secrets) | {s for s in secrets if s}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message so that no registered secret survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a bad format string must not kill logging
                message = str(record.msg)
            cleaned = redact(message)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, ()
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text when set, so the traceback is printed masked too.
                record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger) -> None:
    """Add one :class:`RedactingFilter` to ``logger`` (idempotent)."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
