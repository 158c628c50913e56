"""logsafe for every input (hypothesis): no piece of a key survives, in any case, in any text or log record.

"A piece" is any run of 8 or more characters of the key, or of the key as it travels
(URL-quoted, JSON-escaped); "in any case" is what ``re.IGNORECASE`` matches. Each
example registers its own key in a clean registry and puts the old one back.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import uuid
from typing import Iterator
from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ailicia_core import logsafe
from ailicia_core.logsafe import MASK, PIECE_CHARS, RedactingFilter, clean_external, redact, register_secret

EXAMPLES = settings(max_examples=200, deadline=None)

#: What API keys are made of: printable ASCII, no spaces (the settings strip them).
KEYS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=PIECE_CHARS, max_size=64)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)


@contextlib.contextmanager
def registry_with(key: str) -> Iterator[None]:
    saved = logsafe._registry
    logsafe._registry = logsafe.SecretRegistry()
    try:
        register_secret(key)
        yield
    finally:
        logsafe._registry = saved


@st.composite
def embedded_pieces(draw, forms=lambda key: [key]):
    """(key, text): a piece of the key (or of one of its ``forms``), recased at random, inside any text."""
    key = draw(KEYS)
    form = draw(st.sampled_from(forms(key)))
    start = draw(st.integers(0, len(form) - PIECE_CHARS))
    end = draw(st.integers(start + PIECE_CHARS, len(form)))
    flips = draw(st.lists(st.booleans(), min_size=end - start, max_size=end - start))
    piece = "".join(ch.swapcase() if flip else ch for ch, flip in zip(form[start:end], flips, strict=False))
    return key, draw(ANY_TEXT) + piece + draw(ANY_TEXT) + piece.lower() + draw(ANY_TEXT)


def assert_no_piece(key: str, text: str, forms=lambda key: [key]) -> None:
    for form in forms(key):
        for start in range(len(form) - PIECE_CHARS + 1):
            piece = form[start : start + PIECE_CHARS]
            assert not re.search(re.escape(piece), text, re.IGNORECASE), (piece, text)


def travelling_forms(key: str) -> list:
    return [key, quote(key, safe=""), json.dumps(key)[1:-1]]


@EXAMPLES
@given(case=embedded_pieces())
@example(case=("sk-LEAKCANARY-7f3a9c2e", "channel 'sk-leakcanary-7f3a9c2e' refused"))
@example(case=("***abcde", "***abcde" + "abcde"))  # masking must not assemble a new piece
def test_no_piece_of_the_key_survives_redaction_in_any_case(case):
    key, text = case
    with registry_with(key):
        assert_no_piece(key, redact(text))


@EXAMPLES
@given(case=embedded_pieces(travelling_forms))
def test_no_piece_of_the_key_survives_url_quoting_or_json_escaping(case):
    key, text = case
    with registry_with(key):
        assert_no_piece(key, redact(text), travelling_forms)


@EXAMPLES
@given(key=KEYS, text=ANY_TEXT)
def test_text_without_the_key_is_left_alone(key, text):
    with registry_with(key):
        if not any(
            re.search(re.escape(form[i : i + PIECE_CHARS]), text, re.IGNORECASE)
            for form in travelling_forms(key)
            for i in range(len(form) - PIECE_CHARS + 1)
        ):
            assert redact(text) == text


@EXAMPLES
@given(case=embedded_pieces())
def test_no_piece_survives_a_log_record_message_args_or_traceback(case):
    key, text = case
    logger = logging.getLogger(f"ailicia.test.{uuid.uuid4().hex}")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.addFilter(RedactingFilter())
    try:
        with registry_with(key):
            logger.warning("server said %s", text)
            logger.warning(text.replace("%", "%%"))
            try:
                raise ValueError(text)
            except ValueError:
                logger.error("failed", exc_info=True)
    finally:
        logger.removeHandler(handler)
    assert_no_piece(key, stream.getvalue())


@EXAMPLES
@given(case=embedded_pieces(), limit=st.integers(0, 300), breaks=st.sampled_from(["\n", "\r\n", "\x00", "\x1b[2J"]))
def test_clean_external_gives_one_short_line_without_the_key(case, limit, breaks):
    key, text = case
    with registry_with(key):
        cleaned = clean_external(breaks.join([text, "Connected: all good"]), limit)
    assert "\n" not in cleaned and "\r" not in cleaned and "\x00" not in cleaned and "\x1b" not in cleaned
    assert len(cleaned) <= limit
    assert_no_piece(key, cleaned)


def test_a_key_split_by_control_characters_is_caught_after_cleaning():
    key = "sk-obs-LEAKCANARY-7f3a9c2e"
    with registry_with(key):
        assert clean_external("x " + key[:10] + "\x00\x07" + key[10:] + " y") == f"x {MASK} y"


def test_clean_external_takes_anything():
    assert clean_external(None) == ""
    assert clean_external(12345) == "12345"
    assert clean_external("a\n\tb  c") == "a b c"
