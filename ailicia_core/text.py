"""Text rules for what we send: clean names, durations, and fitting inside the API limits.

Lengths are measured the strict way. The API documents its limits in characters
but servers written in Java or JavaScript count UTF-16 code units, where an emoji
is two. :func:`api_length` takes the larger of the two counts, so content that
fits here fits there too, and our own requests never earn a 422.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"
#: How long a single scene or source name may be inside a sentence.
NAME_MAX_CHARS = 80
#: The longest ``eventType`` label sent: it is a label, not content.
EVENT_TYPE_MAX_CHARS = 64
#: The label used when the one given is empty once cleaned.
FALLBACK_EVENT_TYPE = "GAME_EVENT"


def api_length(text: str) -> int:
    """The length the API may count: UTF-16 code units (>= code points)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean_text(text: str) -> str:
    """``text`` as valid Unicode without control characters; line breaks become spaces.

    Lone surrogates (which no valid UTF-8 can carry) become U+FFFD so the JSON we
    send is always valid UTF-8.
    """
    if _has_surrogates(text):
        # Via UTF-16 so that a split pair becomes its character again; "utf-8"/"replace"
        # would turn each surrogate into "?" rather than U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    out = []
    for ch in text:
        if ch in "\r\n\t\v\f\u2028\u2029\x85":
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def fit(text: str, limit: int) -> str:
    """``text`` shortened with an ellipsis so that :func:`api_length` <= ``limit``.

    Text that already fits is returned unchanged. The cut prefers a word boundary
    near the end, never splits a code point, and always leaves room for the
    ellipsis.
    """
    if api_length(text) <= limit:
        return text
    if limit < 1:
        return ""
    budget = limit - api_length(ELLIPSIS)
    units = 0
    cut = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > budget:
            break
        cut = index + 1
    head = text[:cut]
    space = head.rfind(" ")
    if space >= max(1, len(head) - 15):  # a nearby word boundary reads better
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def quote_name(name: str, max_chars: int = NAME_MAX_CHARS) -> str:
    """A scene or source name ready to sit between quotes in a sentence."""
    return fit(clean_text(name), max_chars) or "(unnamed)"


def format_duration(seconds: float) -> str:
    """Seconds as a streamer would say it: "45 s", "12 min", "2 h 13 min"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def abbreviate(text: str, limit: int = 60) -> str:
    """A short preview of ``text`` for log lines and status text."""
    return fit(clean_text(text), limit)


def event_type_label(raw: str) -> str:
    """``raw`` as an ``eventType`` label: one clean line of at most :data:`EVENT_TYPE_MAX_CHARS` (never empty)."""
    return fit(clean_text(str(raw)), EVENT_TYPE_MAX_CHARS) or FALLBACK_EVENT_TYPE
