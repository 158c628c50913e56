"""Keeping the API key out of every log line and status text, and outside text in its place.

The code never formats the key on purpose (``ApiKey`` masks itself). This is the
second belt, for the key that arrives by another road: quoted back by a server or
a proxy, pasted into the channel box (and lowercased there), URL-quoted in a path.

- :func:`register_secret` remembers a key in the forms it may travel in (as typed,
  stripped, URL-quoted, JSON-escaped). The masking table is built there, on the
  registering thread; the registry keeps only the :data:`MAX_SECRETS` most recently
  registered keys, so old keys are forgotten and memory stays bounded.
- :func:`redact` masks, in any letter case, every piece of a registered key that is
  :data:`PIECE_CHARS` characters or longer (an abbreviated key still leaks), until
  none is left (masking can never assemble a new piece). It only reads the table
  built at registration: no masking work happens on the thread that logs.
- :class:`RedactingFilter` does the same to log records: message, arguments,
  traceback and stack text.
- :func:`clean_external` is for any text from outside (server answers, OBS names,
  granted channel names) before it reaches the status or the log: control and format
  characters (line breaks, bidi marks) go, the length is capped, secrets are masked.
  A line in the status is then always one the program composed.
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from collections import OrderedDict
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
#: Keys remembered at once: the current one, one granted by the app, and the ones just before
#: them (a request still in flight may quote the old key). Older keys are forgotten.
MAX_SECRETS = 4
#: Characters of one secret that are turned into masking pieces. A real key is under 100;
#: a pasted text this long is not a key, and its table would cost megabytes.
MAX_SECRET_CHARS = 16 * 1024

_TRACEBACKS = logging.Formatter()

#: Lowercased pieces to look for, grouped by length: ((length, pieces), ...).
_Pieces = Tuple[Tuple[int, FrozenSet[str]], ...]


class SecretRegistry:
    """The secrets to mask: at most ``capacity``, newest kept, each with its table built once.

    :meth:`register` does all the work (building the pieces of the new secret and the merged
    table) on the caller's thread; :attr:`table` is then a plain attribute read, so
    :func:`redact` costs the same on any thread however many keys came and went.
    """

    def __init__(self, capacity: int = MAX_SECRETS) -> None:
        self._capacity = max(1, capacity)
        self._lock = threading.Lock()  # held only to swap entries, never while building pieces
        self._entries: OrderedDict[str, _Pieces] = OrderedDict()
        self._folded: FrozenSet[str] = frozenset()
        #: The merged pieces of every remembered secret; replaced whole, never changed in place.
        self.table: _Pieces = ()

    def register(self, value: str) -> None:
        if not value or len(value) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._entries:
                self._entries.move_to_end(value)
                return
        pieces = _pieces_of(value)  # outside the lock: another thread's redact never waits on this
        with self._lock:
            self._entries[value] = pieces
            self._entries.move_to_end(value)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            self._folded = frozenset(secret.lower() for secret in self._entries)
            self.table = _merge(self._entries.values())

    def covers(self, value: str) -> bool:
        """True when ``value`` (in any letter case) is a remembered secret."""
        return value.lower() in self._folded

    def secrets(self) -> Tuple[str, ...]:
        """The remembered secrets, oldest first (for tests)."""
        with self._lock:
            return tuple(self._entries)

    def __bool__(self) -> bool:
        return bool(self.table)


_registry = SecretRegistry()
#: Tables of secrets passed to :func:`redact` directly (not registered), by secret; bounded.
_extra_tables: OrderedDict[str, _Pieces] = OrderedDict()
_extra_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Mask ``value`` (and its pieces, in any case) in log records and :func:`redact` output from now on.

    Builds the masking table here, on the calling thread. Only the :data:`MAX_SECRETS`
    most recently registered secrets are remembered; registering one again keeps it.
    """
    _registry.register(value)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every registered secret (and each of ``secrets``) masked as ``***``.

    Matching ignores letter case, and any run of :data:`PIECE_CHARS` or more characters
    of a secret (in any of its travelling forms) is masked, however it is embedded.
    """
    if not text:
        return text
    tables = [_registry.table] + [_extra_table(s) for s in secrets if _is_extra(s)]
    return _mask_all(text, [table for table in tables if table])


#: Outside text longer than this many times the limit is cut before cleaning: bounded work for any input.
_RAW_FACTOR = 4


def clean_external(text: Any, limit: int = EXTERNAL_MAX_CHARS) -> str:
    """Text from outside made safe to show: one line, at most ``limit`` characters, redacted.

    Control characters (Unicode ``Cc``) and format characters (``Cf``: bidi marks such as
    U+200F and U+202E, zero-width characters) go, line breaks become spaces, so outside text
    can never start a line of its own or reorder the line it sits in. Redaction runs after
    cleaning, so a key split by such characters is caught once they are gone, and again
    after the cut (which can only shorten what is left).
    """
    raw = "" if text is None else str(text)
    raw = raw[: max(0, limit) * _RAW_FACTOR + 64]  # a key cut here keeps pieces long enough to be masked
    cleaned = clean_text("".join(ch for ch in raw if unicodedata.category(ch) != "Cf"))
    cleaned = redact(cleaned)
    return redact(fit(cleaned, max(0, limit)))


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no registered secret survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _registry:
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


# --- the tables ------------------------------------------------------------------------


def _pieces_of(secret: str) -> _Pieces:
    """Every lowercased window of every travelling form of ``secret``, grouped by window length."""
    by_length: Dict[int, set] = {}
    for form in _forms(secret[:MAX_SECRET_CHARS]):
        size = min(len(form), PIECE_CHARS)
        if size < _MIN_SECRET_LENGTH:
            continue
        lowered = form.lower()
        windows = by_length.setdefault(size, set())
        if len(lowered) == len(form):
            windows.update(lowered[i : i + size] for i in range(len(form) - size + 1))
        else:  # a few characters change length when lowercased: lower each window on its own
            windows.update(form[i : i + size].lower() for i in range(len(form) - size + 1))
    return tuple(sorted((size, frozenset(w)) for size, w in by_length.items()))


def _merge(tables: Iterable[_Pieces]) -> _Pieces:
    by_length: Dict[int, set] = {}
    for table in tables:
        for size, windows in table:
            by_length.setdefault(size, set()).update(windows)
    return tuple(sorted((size, frozenset(w)) for size, w in by_length.items()))


def _forms(secret: str) -> List[str]:
    """The ways a secret can travel: as given, stripped, Unicode-normalized, URL-quoted, JSON-escaped."""
    forms = {secret, secret.strip(), unicodedata.normalize("NFKC", secret)}
    for form in list(forms):
        forms.update({quote(form, safe=""), quote(form), quote_plus(form), json.dumps(form)[1:-1]})
    return [form for form in forms if form]


#: Secrets passed to :func:`redact` directly whose tables are kept (the same few come back every call).
_EXTRA_TABLES = 8


def _is_extra(secret: str) -> bool:
    """True for a usable secret that the registry does not already mask."""
    return bool(secret) and len(secret) >= _MIN_SECRET_LENGTH and not _registry.covers(secret)


def _extra_table(secret: str) -> _Pieces:
    with _extra_lock:
        table = _extra_tables.get(secret)
        if table is not None:
            _extra_tables.move_to_end(secret)
            return table
    table = _pieces_of(secret)
    with _extra_lock:
        _extra_tables[secret] = table
        while len(_extra_tables) > _EXTRA_TABLES:
            _extra_tables.popitem(last=False)
    return table


def _mask_all(text: str, tables: List[_Pieces]) -> str:
    while tables:  # until nothing matches: masking shortens the text, so this ends
        masked = text
        for pieces in tables:
            masked = _mask_once(masked, pieces)
        if masked == text:
            break
        text = masked
    return text


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
