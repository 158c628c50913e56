"""The demo's console output: colour only where it shows, and no crash on a code page like cp1252."""

from __future__ import annotations

import ctypes
import io

import pytest

from ailicia_core import demo_table
from ailicia_core.demo_table import ENABLE_VIRTUAL_TERMINAL_PROCESSING, Table, _windows_escape_codes, wants_colour


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 7


class Kernel32:
    """A stand-in for Windows' console API: a console in ``mode``, accepting changes or not."""

    def __init__(self, mode, *, is_console=True, accepts=True):
        self.mode, self.is_console, self.accepts, self.set_to = mode, is_console, accepts, None

    def GetConsoleMode(self, handle, pointer):  # noqa: N802 (Windows' name)
        ctypes.cast(pointer, ctypes.POINTER(ctypes.c_uint32)).contents.value = self.mode
        return int(self.is_console)

    def SetConsoleMode(self, handle, mode):  # noqa: N802
        self.set_to = mode
        return int(self.accepts)


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(demo_table.sys, "platform", "linux")


def test_a_terminal_gets_colour():
    assert wants_colour(Terminal())


@pytest.mark.parametrize("name, value", [("NO_COLOR", "1"), ("TERM", "dumb")])
def test_no_colour_when_the_environment_says_so(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert not wants_colour(Terminal())


def test_no_colour_into_a_file_or_a_pipe():
    assert not wants_colour(io.StringIO())


def test_windows_without_the_console_api_gets_no_colour(monkeypatch):
    # Here (not Windows) ctypes has no windll: the same as a console that cannot be asked.
    monkeypatch.setattr(demo_table.sys, "platform", "win32")
    assert not wants_colour(Terminal())


def test_windows_10_console_is_switched_to_escape_codes():
    kernel32 = Kernel32(0x0003)
    assert _windows_escape_codes(Terminal(), kernel32)
    assert kernel32.set_to == 0x0003 | ENABLE_VIRTUAL_TERMINAL_PROCESSING


def test_windows_console_already_reading_escape_codes_is_left_alone():
    kernel32 = Kernel32(0x0007)
    assert _windows_escape_codes(Terminal(), kernel32) and kernel32.set_to is None


@pytest.mark.parametrize("kernel32", [Kernel32(3, accepts=False), Kernel32(3, is_console=False)])
def test_an_old_console_or_not_a_console_gets_no_colour(kernel32):
    assert not _windows_escape_codes(Terminal(), kernel32)


def test_the_table_prints_what_cp1252_cannot_show_as_question_marks():
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="cp1252", errors="strict")
    table = Table(out, 100, colour=False)
    table.heard([type("Said", (), {"content": "GG \U0001f600 ≠ 🎉"})()])
    out.flush()
    text = raw.getvalue().decode("cp1252")
    assert '"GG ? ? ?"' in text
    assert table.rule == "-"  # the box-drawing rule became ASCII too
