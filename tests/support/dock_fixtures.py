"""Fixtures for the dock's loopback and browser tests: the sandbox, an engine talking to it, a dock serving it.

Bind the fixtures in a test module (``sandbox = dock_fixtures.sandbox``: pytest finds a fixture by its
module attribute); :func:`serving` starts a dock on a free port and checks that it stops within its 1 s.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest

from ailicia_core.dock import DockServer
from ailicia_core.engine import Engine
from ailicia_core.sandbox import Sandbox, SandboxConfig

KEY = "sandbox-key-dock-0123456789"
TOKEN = "dock-token-for-tests_0123456789abcdef"
WAIT_S = 10.0


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(quiet=True, generation_window_s=1.0, join_delay_s=0.05, api_keys=(KEY,))).start()
    yield box
    box.stop()


@pytest.fixture
def engine(sandbox: Sandbox) -> Iterator[Engine]:
    """An engine that sends everything at once (no debounce, also while offline) to the sandbox."""
    engine = Engine(
        {
            "api_key": KEY,
            "channel": "mychannel",
            "api_base_url": sandbox.url,
            "scene_debounce_ms": 0,
            "only_when_live": False,
            "generation_cooldown_s": 1,
            # These count requests and feed entries; the listener's own are covered in test_eventsub_loopback.py.
            "eventsub_enabled": False,
        }
    )
    yield engine
    engine.shutdown(timeout=2.0)


@contextlib.contextmanager
def serving(engine: Any, **options: Any) -> Iterator[DockServer]:
    """A dock for ``engine`` on a free port with :data:`TOKEN`; stopped (within 1 s, checked) afterwards."""
    server = DockServer(engine, port=0, token=TOKEN, **options)
    assert server.start().running
    try:
        yield server
    finally:
        assert server.stop(1.0)
