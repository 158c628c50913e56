"""Watched files that are not what they seem: a FIFO, a device, a folder, a file locked for a moment.

The watcher runs on its real thread here (real files, real FIFOs): the other watched
sources keep being delivered, the panel gets a line, and stop returns at once.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from typing import Callable, List

import pytest

from ailicia_core import events as ev
from ailicia_core import source_watcher as sw
from ailicia_core.source_watcher import (
    FILE_DENIED,
    FILE_NOT_REGULAR,
    PERMISSION_GRACE_POLLS,
    NotARegularFile,
    SourceWatcher,
    read_text_file,
)
from ailicia_core.status import Status, render_status
from tests.support.waiting import wait_for
from tests.unit.fake_api import Clock

WAIT_S = 10.0
posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")


def panel_lines(watcher: SourceWatcher) -> List[str]:
    return render_status(Status(watch_problems=watcher.problems())).splitlines()


@pytest.fixture
def settled():
    return []


@posix_only
def test_a_fifo_among_watched_files_never_holds_the_others_and_stop_is_prompt(tmp_path, settled, caplog):
    caplog.set_level(logging.WARNING, logger="ailicia")
    first, last = tmp_path / "song.txt", tmp_path / "hud.txt"
    first.write_text("Song A")
    last.write_text("Lap 3/12")
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    watcher = SourceWatcher(settled.append, debounce_ms=0)
    watcher.start()
    try:
        watcher.submit(ev.WatchedFileNamed("Now Playing", str(first)))
        watcher.submit(ev.WatchedFileNamed("Pipe", str(fifo)))  # no writer: a blocking open would wait forever
        watcher.submit(ev.WatchedFileNamed("Race HUD", str(last)))
        assert wait_for(lambda: {e.source for e in settled} == {"Now Playing", "Race HUD"})
        assert wait_for(lambda: watcher.problems())
        (problem,) = watcher.problems()
        assert (problem.source, problem.reason, problem.detail) == ("Pipe", FILE_NOT_REGULAR, str(fifo))
        assert any("'Pipe'" in line and "is not a regular file" in line for line in panel_lines(watcher))
        # Still delivering after the FIFO was met: a change in another file goes out.
        first.write_text("Song B")
        os.utime(first, ns=(5_000_000_000, 5_000_000_000))
        assert wait_for(lambda: any(e.text == "Song B" for e in settled))
    finally:
        assert watcher.stop(0.5)
    assert not [t for t in threading.enumerate() if t.name == "ailicia-watch" and t.is_alive()]
    warnings = [r.getMessage() for r in caplog.records if "not a regular file" in r.getMessage()]
    assert len(warnings) == 1  # one Script Log line, not one per poll


@posix_only
def test_a_fifo_swapped_in_between_the_check_and_the_open_is_refused_without_waiting(tmp_path, monkeypatch):
    fifo = tmp_path / "swapped.txt"
    os.mkfifo(fifo)
    real_stat = os.stat
    regular = real_stat(__file__)

    def looks_regular(path, *args, **kwargs):
        return regular if str(path) == str(fifo) else real_stat(path, *args, **kwargs)

    monkeypatch.setattr(sw.os, "stat", looks_regular)
    outcome: List[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(outcome, read_text_file, str(fifo)), daemon=True)
    reader.start()
    reader.join(WAIT_S)
    assert not reader.is_alive(), "opening the FIFO waited for a writer"
    assert len(outcome) == 1 and isinstance(outcome[0], NotARegularFile)


def _capture(into: List[BaseException], function: Callable, *args: object) -> None:
    try:
        function(*args)
    except BaseException as exc:  # noqa: BLE001 - the test inspects whatever came out
        into.append(exc)


@pytest.mark.parametrize("kind", ["folder", "device"])
def test_a_folder_or_a_device_is_not_read_and_gets_its_line(tmp_path, settled, kind):
    if kind == "device":
        path = os.devnull
        if sys.platform == "win32" or not stat.S_ISCHR(os.stat(path).st_mode):
            pytest.skip("no character device to name here")
    else:
        path = str(tmp_path)
    clock = Clock()
    watcher = SourceWatcher(settled.append, debounce_ms=0, clock=clock)
    watcher.submit(ev.WatchedFileNamed("Odd", path))
    watcher.run_once()
    assert [(p.source, p.reason) for p in watcher.problems()] == [("Odd", FILE_NOT_REGULAR)]
    assert settled == []


# --- a read refused for a moment ------------------------------------------------------------------------


@pytest.fixture
def refusing(monkeypatch):
    """``read_text_file`` refuses (PermissionError) while ``state['refuse']`` is above zero, counting down."""
    state = {"refuse": 0}
    real = sw.read_text_file

    def read(path: str) -> str:
        if state["refuse"] > 0:
            state["refuse"] -= 1
            raise PermissionError(13, "The process cannot access the file because it is being used")
        return real(path)

    monkeypatch.setattr(sw, "read_text_file", read)
    return state


def poll(watcher: SourceWatcher, clock: Clock, times: int) -> None:
    for _ in range(times):
        clock.t += sw.FILE_POLL_S
        watcher.run_once()


def test_a_read_refused_for_a_few_polls_is_no_problem(tmp_path, settled, refusing, caplog):
    caplog.set_level(logging.WARNING, logger="ailicia")
    song = tmp_path / "song.txt"
    song.write_text("Fresh title")
    clock = Clock()
    watcher = SourceWatcher(settled.append, debounce_ms=0, clock=clock)
    refusing["refuse"] = PERMISSION_GRACE_POLLS - 1
    watcher.submit(ev.WatchedFileNamed("Song", str(song)))
    watcher.run_once()
    poll(watcher, clock, PERMISSION_GRACE_POLLS - 2)
    assert watcher.problems() == () and settled == []
    poll(watcher, clock, 1)
    assert [e.text for e in settled] == ["Fresh title"]
    assert watcher.problems() == ()
    assert not caplog.records  # nothing said about a lock that passed


def test_a_read_refused_on_and_on_is_reported_once_in_words(tmp_path, settled, refusing, caplog):
    caplog.set_level(logging.WARNING, logger="ailicia")
    song = tmp_path / "song.txt"
    song.write_text("Locked title")
    clock = Clock()
    watcher = SourceWatcher(settled.append, debounce_ms=0, clock=clock)
    refusing["refuse"] = 10**6
    watcher.submit(ev.WatchedFileNamed("Song", str(song)))
    watcher.run_once()
    poll(watcher, clock, PERMISSION_GRACE_POLLS * 3)
    assert [(p.source, p.reason) for p in watcher.problems()] == [("Song", FILE_DENIED)]
    assert any("another program keeps it locked" in line for line in panel_lines(watcher))
    assert len(caplog.records) == 1
    refusing["refuse"] = 0  # the writer lets go
    poll(watcher, clock, 1)
    assert watcher.problems() == ()
    assert [e.text for e in settled] == ["Locked title"]
