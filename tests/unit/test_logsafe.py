"""logsafe: registered secrets never survive into a log line or a redacted text."""

from __future__ import annotations

import io
import logging
import unicodedata
import uuid

import pytest

from ailicia_core import logsafe
from ailicia_core.logsafe import MASK, RedactingFilter, install_redaction, redact, register_secret

SECRET = "sk-secret-0a1b2c3d4e"


@pytest.fixture(autouse=True)
def no_registered_secrets(monkeypatch):
    # The registry is process-wide; each test starts empty and leaves it as it was.
    monkeypatch.setattr(logsafe, "_registry", logsafe.SecretRegistry())


@pytest.fixture
def logged():
    """A fresh logger with redaction installed, and a function returning what it printed."""
    logger = logging.getLogger(f"ailicia.test.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    install_redaction(logger)
    yield logger, stream.getvalue
    logger.removeHandler(handler)


def test_redact_masks_registered_secrets():
    assert redact(f"key={SECRET}") == f"key={SECRET}"  # nothing registered yet
    register_secret(SECRET)
    assert redact(f"key={SECRET} and again {SECRET}") == f"key={MASK} and again {MASK}"
    assert redact("nothing here") == "nothing here"


def test_redact_also_masks_secrets_passed_in():
    assert redact("a hunter2 b", ["hunter2"]) == f"a {MASK} b"
    assert redact("a b", [""]) == "a b"  # an empty extra secret masks nothing


def test_very_short_values_are_not_registered():
    for value in ("", "a", "abc"):
        register_secret(value)
    assert logsafe._registry.secrets() == ()
    assert redact("a cab abc") == "a cab abc"
    register_secret("abcd")
    assert redact("xabcdx") == f"x{MASK}x"


def test_the_longest_secret_is_masked_first():
    register_secret("abcd")
    register_secret("abcdefgh")
    assert redact("abcdefgh") == MASK
    assert redact("abcd efgh") == f"{MASK} efgh"


def test_log_arguments_are_masked(logged):
    logger, output = logged
    register_secret(SECRET)
    logger.warning("sending with %s to %s", f"Bearer {SECRET}", "mychannel")
    logger.info(f"inline {SECRET}")
    logger.error("error: %r", ValueError(f"server echoed {SECRET}"))
    text = output()
    assert SECRET not in text
    assert f"WARNING sending with Bearer {MASK} to mychannel" in text
    assert f"INFO inline {MASK}" in text
    assert f"error: ValueError('server echoed {MASK}')" in text


def test_tracebacks_and_stack_info_are_masked(logged):
    logger, output = logged
    register_secret(SECRET)
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        logger.debug("internal error", exc_info=True, stack_info=True)
    text = output()
    assert "RuntimeError: boom with ***" in text
    assert "Stack (most recent call last)" in text
    assert SECRET not in text


def test_records_without_secrets_pass_unchanged(logged):
    logger, output = logged
    register_secret(SECRET)
    logger.info("count=%d name=%s", 3, "x")
    assert output() == "INFO count=3 name=x\n"


def test_nothing_is_rewritten_while_no_secret_is_registered():
    record = logging.LogRecord("ailicia", logging.INFO, __file__, 1, "a %s", ("b",), None)
    assert RedactingFilter().filter(record) is True
    assert (record.msg, record.args) == ("a %s", ("b",))


def test_a_bad_format_string_does_not_break_logging(logged):
    logger, output = logged
    register_secret(SECRET)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, f"%d {SECRET}", ("not a number",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"%d {MASK}"
    logger.handle(record)
    assert output() == f"INFO %d {MASK}\n"


def test_install_redaction_is_idempotent():
    logger = logging.getLogger(f"ailicia.test.{uuid.uuid4().hex}")
    install_redaction(logger)
    install_redaction(logger)
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1


def test_an_api_client_registers_its_key():
    from ailicia_core.client import ApiClient
    from ailicia_core.settings import ApiKey

    ApiClient(base_url="https://api.example.test", api_key=ApiKey(SECRET), channel="c").close()
    assert redact(f"x {SECRET} y") == f"x {MASK} y"


# --- the registry: bounded, and no masking work where the logging happens --------------------


def _key(n: int, size: int = 40) -> str:
    return (f"key{n:05d}-" + "abcdefghijklmnopqrstuvwxyz0123456789" * (size // 36 + 1))[:size]


def test_the_registry_keeps_the_newest_keys_and_forgets_the_old_ones():
    keys = [_key(n) for n in range(logsafe.MAX_SECRETS + 3)]
    for key in keys:
        register_secret(key)
    assert logsafe._registry.secrets() == tuple(keys[-logsafe.MAX_SECRETS :])
    assert redact(f"x {keys[-1]} y") == f"x {MASK} y"
    assert redact(f"x {keys[0][:10]} y") == f"x {keys[0][:10]} y"  # its own prefix is no piece of the others


def test_registering_a_key_again_keeps_it_among_the_newest():
    first = _key(0)
    register_secret(first)
    for n in range(1, logsafe.MAX_SECRETS):
        register_secret(_key(n))
    register_secret(first)  # the current key, registered again (a new client, a settings change)
    register_secret(_key(99))
    assert first in logsafe._registry.secrets()
    assert _key(1) not in logsafe._registry.secrets()


def test_two_hundred_large_keys_leave_a_table_of_at_most_the_newest_few():
    for n in range(200):
        register_secret(_key(n, size=10_000))
    pieces = sum(len(windows) for _, windows in logsafe._registry.table)
    # Each remembered 10 kB key brings at most one piece per position (its forms are all the same here).
    assert pieces <= logsafe.MAX_SECRETS * 10_000
    assert redact(_key(199, size=10_000)) == MASK


def test_redact_builds_nothing_it_only_reads_the_table_built_at_registration(monkeypatch):
    register_secret(SECRET)

    def no_building(secret):
        raise AssertionError("masking pieces were built while redacting")

    monkeypatch.setattr(logsafe, "_pieces_of", no_building)
    assert redact(f"a {SECRET.upper()} b") == f"a {MASK} b"
    assert redact(f"a {SECRET} b", [SECRET, SECRET.lower(), SECRET.upper()]) == f"a {MASK} b"


def test_a_key_longer_than_any_key_is_refused_by_the_settings():
    from ailicia_core.settings import parse_settings

    settings = parse_settings({"api_key": "k" * (logsafe.MAX_SECRET_CHARS + 1), "channel": "mychannel"})
    assert not settings.api_key
    assert any(p.key == "api_key" and p.blocking for p in settings.problems)


def test_holding_a_key_in_settings_registers_it():
    from ailicia_core.settings import parse_settings

    parse_settings({"api_key": SECRET, "channel": "mychannel", "dry_run": True, "eventsub_enabled": False})
    assert redact(f"x {SECRET.swapcase()} y") == f"x {MASK} y"


@pytest.mark.parametrize(
    "mark",
    ["\n", "\r", "\u2028", "\x85", "\u200f", "\u202e", "\u2066", "\u200b", "\ufeff", "\x1b", "\u061c"],
)
def test_outside_text_cannot_start_a_line_or_reorder_one(mark):
    shown = logsafe.clean_external(f"chan{mark}nel{mark}Last success: a lie")
    breaks_line = mark in "\n\r\u2028\x85"  # a line break becomes a space; other marks simply go
    assert shown == ("chan nel Last success: a lie" if breaks_line else "channelLast success: a lie")
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") for ch in shown)


def test_outside_text_is_cleaned_in_bounded_time_however_long():
    shown = logsafe.clean_external("x" * 5_000_000, 50)
    assert len(shown) <= 50
