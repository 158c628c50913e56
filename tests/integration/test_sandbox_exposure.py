"""The sandbox warns when it listens where other machines can reach it.

The run test goes through the real ``run()``: the sandbox it starts is the real one,
asked for ``0.0.0.0`` but bound to 127.0.0.1 (tests never listen beyond loopback),
and it stops on a SIGTERM it sends itself as soon as it is up, so nothing waits on time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import replace

import pytest

from ailicia_core.sandbox import Sandbox
from ailicia_core.sandbox import cli as sandbox_cli


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_a_loopback_address_gets_no_warning(host):
    assert sandbox_cli.exposure_warning(host) == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "myhost.lan"])
def test_any_other_address_gets_a_warning_naming_it(host):
    warning = sandbox_cli.exposure_warning(host)
    assert warning.startswith("WARNING: the sandbox listens on ") and "--host 127.0.0.1" in warning
    assert (host or "all addresses") in warning


def _run(argv, monkeypatch):
    class LoopbackSandbox(Sandbox):
        def __init__(self, config):
            super().__init__(replace(config, host="127.0.0.1"))

        def start(self):
            started = super().start()
            os.kill(os.getpid(), signal.SIGTERM)  # run() has its handler installed: it stops at once
            return started

    monkeypatch.setattr(sandbox_cli, "Sandbox", LoopbackSandbox)
    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    return sandbox_cli.run(parser.parse_args([*argv, "--port", "0", "--quiet"]))


needs_main_thread_signals = pytest.mark.skipif(
    sys.platform == "win32" or threading.current_thread() is not threading.main_thread(),
    reason="sends itself SIGTERM, handled in the main thread",
)


@needs_main_thread_signals
def test_run_on_a_non_loopback_address_warns_on_stderr(monkeypatch, capsys):
    assert _run(["--host", "0.0.0.0"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "WARNING: the sandbox listens on 0.0.0.0, which is not loopback" in err
    assert "sandbox stopped" in out


@needs_main_thread_signals
def test_run_on_loopback_does_not_warn(monkeypatch, capsys):
    assert _run(["--host", "127.0.0.1"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "WARNING" not in err + out
