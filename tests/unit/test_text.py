"""Text rules: the API's way of counting, fitting at the limits, cleaning names, durations."""

from __future__ import annotations

import json

import pytest

from ailicia_core.limits import CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS
from ailicia_core.text import (
    ELLIPSIS,
    NAME_MAX_CHARS,
    abbreviate,
    api_length,
    clean_text,
    fit,
    format_duration,
    quote_name,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: two UTF-16 code units
CJK = "\u5b57"  # 字, inside the BMP: one unit
LIMITS = [CONTEXT_MAX_CHARS, GENERATION_MAX_CHARS]


def is_valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_api_length_counts_utf16_code_units():
    assert api_length("") == 0
    assert api_length("abc") == 3
    assert api_length(EMOJI) == 2
    assert api_length(CJK) == 1
    assert api_length("é") == 1
    assert api_length("e\u0301") == 2  # e + combining accent: two code points
    assert api_length(f"a{EMOJI}{CJK}b") == 5
    assert api_length("\U0001f1eb\U0001f1f7") == 4  # a flag is two regional indicators


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize(
    "text_of",
    [
        lambda n: "a" * n,
        lambda n: CJK * n,
        lambda n: EMOJI * (n // 2),
        lambda n: ("ab" + EMOJI) * (n // 4),
    ],
    ids=["ascii", "cjk", "emoji", "mixed"],
)
def test_text_exactly_at_the_limit_is_unchanged(limit, text_of):
    text = text_of(limit)
    assert api_length(text) == limit
    assert fit(text, limit) is text


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize(
    "text",
    [
        lambda n: "a" * (n + 1),
        lambda n: CJK * (n + 1),
        lambda n: EMOJI * (n // 2) + "a",
        lambda n: "a" + EMOJI * (n // 2),
        lambda n: "a" * (n - 1) + EMOJI,
        lambda n: ("ab" + EMOJI) * (n // 4) + "c",
        lambda n: (CJK + EMOJI + "x") * n,
    ],
    ids=["ascii", "cjk", "emoji-then-a", "a-then-emoji", "emoji-across-the-limit", "mixed", "mixed-long"],
)
def test_text_over_the_limit_is_shortened_with_an_ellipsis_inside_it(limit, text):
    original = text(limit)
    assert api_length(original) > limit
    shortened = fit(original, limit)
    assert shortened.endswith(ELLIPSIS)
    assert api_length(shortened) <= limit
    assert original.startswith(shortened[:-1])
    # Little is lost: at most one emoji (2 units) besides the ellipsis.
    assert api_length(shortened) >= limit - 2
    assert is_valid_utf8(shortened)


def test_an_emoji_straddling_the_limit_is_dropped_whole():
    text = "a" * 698 + EMOJI + "b"  # 701 units; the emoji occupies units 699-700
    assert fit(text, 700) == "a" * 698 + ELLIPSIS
    text = "a" * 298 + EMOJI + "b"  # 301 units; the emoji occupies units 299-300
    assert fit(text, 300) == "a" * 298 + ELLIPSIS
    text = "a" * 297 + EMOJI + "b"  # exactly 300 units: unchanged
    assert fit(text, 300) is text


def test_an_emoji_that_fits_before_the_ellipsis_is_kept():
    text = "a" * 697 + EMOJI + "bb"  # the emoji ends at unit 699, the ellipsis takes 700
    assert fit(text, 700) == "a" * 697 + EMOJI + ELLIPSIS


def test_cjk_counts_one_per_character():
    assert fit(CJK * 700, 700) == CJK * 700
    assert fit(CJK * 301, 300) == CJK * 299 + ELLIPSIS


def test_the_cut_prefers_a_nearby_word_boundary():
    words = "word " * 200  # 1000 chars
    shortened = fit(words, 300)
    assert shortened.endswith("word" + ELLIPSIS)
    assert " " + ELLIPSIS not in shortened
    assert api_length(shortened) <= 300


def test_a_far_word_boundary_is_not_used():
    text = "Intro " + "x" * 400
    shortened = fit(text, 300)
    assert shortened == "Intro " + "x" * 293 + ELLIPSIS


@pytest.mark.parametrize(("limit", "expected"), [(0, ""), (-5, ""), (1, ELLIPSIS), (2, "a" + ELLIPSIS)])
def test_tiny_limits(limit, expected):
    assert fit("abcdef", limit) == expected
    assert api_length(fit("abcdef", limit)) <= max(limit, 0)


def test_fit_leaves_short_text_alone():
    assert fit("", 10) == ""
    assert fit("hello", 10) == "hello"


def test_clean_text_makes_lone_surrogates_valid_utf8():
    cleaned = clean_text("a\ud800b\udfffc")
    assert cleaned == "a\ufffdb\ufffdc"
    assert is_valid_utf8(cleaned)
    assert json.loads(json.dumps(cleaned, ensure_ascii=False)) == cleaned


def test_clean_text_joins_a_surrogate_pair_split_into_two_code_points():
    assert clean_text("x\ud83d\ude00y") == f"x{EMOJI}y"


def test_clean_text_then_fit_never_leaves_half_a_pair():
    text = "a" * 299 + "\ud83d\ude00" + "tail"
    shortened = fit(clean_text(text), 300)
    assert is_valid_utf8(shortened)
    assert shortened == "a" * 299 + ELLIPSIS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("  padded  ", "padded"),
        ("two\nlines", "two lines"),
        ("cr\r\nlf", "cr lf"),
        ("tab\there", "tab here"),
        ("many   spaces", "many spaces"),
        ("line\u2028sep\u2029para\x85nel", "line sep para nel"),
        ("bell\x07 and\x00 nul\x1b", "bell and nul"),
        ('quote\'s "double"', 'quote\'s "double"'),
        ("\u05e9\u05dc\u05d5\u05dd world", "\u05e9\u05dc\u05d5\u05dd world"),
        (f"{EMOJI} {CJK}", f"{EMOJI} {CJK}"),
        ("", ""),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_quote_name():
    assert quote_name("Just Chatting") == "Just Chatting"
    assert quote_name("  Cam\nFront ") == "Cam Front"
    assert quote_name("") == "(unnamed)"
    assert quote_name(" \n\t") == "(unnamed)"
    long = quote_name("n" * 2000)
    assert api_length(long) <= NAME_MAX_CHARS and long.endswith(ELLIPSIS)
    assert api_length(quote_name(EMOJI * 100)) <= NAME_MAX_CHARS
    assert quote_name("abcdef", max_chars=4) == "abc" + ELLIPSIS


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (-5, "0 s"),
        (45, "45 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (12 * 60 + 30, "12 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (2 * 3600 + 13 * 60, "2 h 13 min"),
        (2 * 3600 + 13 * 60 + 59, "2 h 13 min"),
        (26 * 3600 + 60, "26 h 1 min"),
    ],
)
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected


def test_abbreviate_is_a_short_clean_preview():
    preview = abbreviate("first line\nsecond line " + "x" * 200, 30)
    assert "\n" not in preview
    assert api_length(preview) <= 30 and preview.endswith(ELLIPSIS)
    assert abbreviate("short") == "short"
