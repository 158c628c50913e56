"""Keeping the API key out of every log line and status text, and outside text in its place.

The code never formats the key on purpose (``ApiKey`` masks itself). This is the
second belt, for the key that arrives by another road: quoted back by a server or
a proxy, pasted into the channel box (and lowercased there), URL-quoted in a path.

- :func:`register_secret` remembers a key in the forms it may travel in (as typed,
  stripped, URL-quoted, JSON-escaped).
- :func:`redact` masks, in any letter case, every piece of a registered key that is
  :data:`PIECE_CHARS` characters or longer (an abbreviated key still leaks), until
  none is left (masking can never assemble a new piece).
- :class:`RedactingFilter` does the same to log records: message, arguments,
  traceback and stack text.
- :func:`clean_external` is for any text from outside (server answers, OBS names)
  before it reaches the status or the log: control characters and line breaks go,
  the length is capped, secrets are masked. A line in the status is then always one
  the program composed.
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from typing import Any, Dict, FrozenSet, Iterable, List, Tuple
from urllib.parse import quote, quote_plus

from .text import clean_text, fit

MASK = "***"
#: Every piece of a key this long or longer is masked.
PIECE_CHARS = 8
#: Secrets shorter than this are not registered: masking "a" would mangle every message.
_MIN_SECRET_LENGTH = 4
#: The longest outside text shown by default (a join ``message``, a character name).
EXTERNAL_MAX_CHARS = 200

_TRACEBACKS = logging.Formatter()
_lock = threading.Lock()
_secrets: frozenset = frozenset()


def register_secret(value: str) -> None:
    """Mask ``value`` (and its pieces, in any case) in log records and :func:`redact` output from now on."""
    global _secrets
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets = _secrets | {value}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and each of ``secrets``) masked as ``***``.

    Matching ignores letter case, and any run of :data:`PIECE_CHARS` or more characters
    of a secret (in any of its travelling forms) is masked, however it is embedded.
    """
    extra = frozenset(s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH)
    pieces = _pieces(_secrets | extra)
    if not pieces or not text:
        return text
    while True:  # until nothing matches: masking shortens the text, so this ends
        masked = _mask_once(text, pieces)
        if masked == text:
            return text
        text = masked


def clean_external(text: Any, limit: int = EXTERNAL_MAX_CHARS) -> str:
    """Text from outside made safe to show: one line, no control characters, at most ``limit`` characters, redacted.

    Redaction runs after cleaning, so a key split by control characters is caught once
    they are gone, and again after the cut (which can only shorten what is left).
    """
    cleaned = redact(clean_text("" if text is None else str(text)))
    return redact(fit(cleaned, max(0, limit)))


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no registered secret survives formatting."""

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
                record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger) -> None:
    """Add one :class:`RedactingFilter` to ``logger`` (idempotent)."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


# --- matching ------------------------------------------------------------------------

#: Lowercased pieces to look for, grouped by length, for one set of secrets (the last one asked).
_Pieces = Tuple[Tuple[int, FrozenSet[str]], ...]
_cache: Dict[FrozenSet[str], _Pieces] = {}


def _pieces(secrets: FrozenSet[str]) -> _Pieces:
    found = _cache.get(secrets)
    if found is None:
        by_length: Dict[int, set] = {}
        for secret in secrets:
            for form in _forms(secret):
                size = min(len(form), PIECE_CHARS)
                if size < _MIN_SECRET_LENGTH:
                    continue
                windows = by_length.setdefault(size, set())
                windows.update(form[i : i + size].lower() for i in range(len(form) - size + 1))
        found = tuple(sorted((size, frozenset(w)) for size, w in by_length.items()))
        _cache.clear()  # one entry: secrets change rarely, and each change makes the old one useless
        _cache[secrets] = found
    return found


def _forms(secret: str) -> List[str]:
    """The ways a secret can travel: as given, stripped, Unicode-normalized, URL-quoted, JSON-escaped."""
    forms = {secret, secret.strip(), unicodedata.normalize("NFKC", secret)}
    for form in list(forms):
        forms.update({quote(form, safe=""), quote(form), quote_plus(form), json.dumps(form)[1:-1]})
    return [form for form in forms if form]


def _mask_once(text: str, pieces: _Pieces) -> str:
    # lower() per window, not once for the text: a few characters change length when lowercased.
    spans = []
    for size, windows in pieces:
        for start in range(len(text) - size + 1):
            if text[start : start + size].lower() in windows:
                spans.append((start, start + size))
    if not spans:
        return text
    spans.sort()
    out, cursor, run_start, run_end = [], 0, spans[0][0], spans[0][1]
    for start, end in spans[1:]:
        if start <= run_end:
            run_end = max(run_end, end)
            continue
        out += [text[cursor:run_start], MASK]
        cursor, run_start, run_end = run_end, start, end
    out += [text[cursor:run_start], MASK, text[run_end:]]
    return "".join(out)
