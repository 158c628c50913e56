"""One way for tests to wait on another thread: poll a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

#: Long enough for a loaded CI machine; a passing test returns as soon as its condition holds.
DEFAULT_TIMEOUT_S = 10.0
POLL_S = 0.01


def wait_for(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Poll ``predicate`` until it is truthy (that value is returned) or ``timeout`` passes (the last value)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        pause.wait(POLL_S)


def wait_until(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT_S, what: str = "condition") -> Any:
    """:func:`wait_for`, but a timeout is an ``AssertionError`` that says what was waited for."""
    value = wait_for(predicate, timeout)
    if not value:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
    return value
