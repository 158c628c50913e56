"""logsafe: registered secrets never survive into a log line or a redacted text."""

from __future__ import annotations

import io
import logging
import uuid

import pytest

from ailicia_core import logsafe
from ailicia_core.logsafe import MASK, RedactingFilter, install_redaction, redact, register_secret

SECRET = "sk-secret-0a1b2c3d4e"


@pytest.fixture(autouse=True)
def no_registered_secrets(monkeypatch):
    # The registry is process-wide; each test starts empty and leaves it as it was.
    monkeypatch.setattr(logsafe, "_secrets", frozenset())


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
    assert logsafe._secrets == frozenset()
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
