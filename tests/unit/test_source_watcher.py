"""The source watcher with a fake clock: files read when they change, bounded and decoded safely, problems kept."""

from __future__ import annotations

import os

import pytest

from ailicia_core import events as ev
from ailicia_core.engine import Engine
from ailicia_core.source_watcher import FILE_UNREADABLE, MAX_FILE_BYTES, SourceWatcher, read_text_file
from tests.unit.fake_api import Clock


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def settled():
    return []


@pytest.fixture
def watcher(clock, settled):
    return SourceWatcher(settled.append, debounce_ms=2000, clock=clock)


def write(path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_reading_settles_after_the_debounce(watcher, clock, settled):
    watcher.submit(ev.WatchedTextRead("HUD", "Lap 1"))
    watcher.run_once()
    clock.t += 1.9
    watcher.run_once()
    assert settled == []
    clock.t += 0.1
    watcher.run_once()
    assert settled == [ev.WatchedSourceSettled("HUD", "Lap 1", "text", first=True)]


def test_the_file_behind_a_source_is_read_when_it_changes(watcher, clock, settled, tmp_path):
    song = tmp_path / "current_song.txt"
    write(song, b"Song A", 1_000_000_000)
    watcher.configure(0)
    watcher.submit(ev.WatchedFileNamed("Now Playing", str(song)))
    watcher.run_once()
    assert settled == [ev.WatchedSourceSettled("Now Playing", "Song A", "text", first=True)]
    clock.t += 1.0
    watcher.run_once()  # unchanged: not read again
    write(song, b"Song B", 2_000_000_000)
    clock.t += 1.0
    watcher.run_once()
    assert [e.text for e in settled] == ["Song A", "Song B"]


def test_a_rewrite_with_the_same_mtime_but_another_size_is_noticed(watcher, clock, settled, tmp_path):
    song = tmp_path / "song.txt"
    write(song, b"A", 5)
    watcher.configure(0)
    watcher.submit(ev.WatchedFileNamed("Song", str(song)))
    watcher.run_once()
    write(song, b"A longer title", 5)
    clock.t += 1.0
    watcher.run_once()
    assert [e.text for e in settled] == ["A", "A longer title"]


def test_files_are_read_only_up_to_the_bound(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (MAX_FILE_BYTES * 4))
    assert len(read_text_file(str(big))) == MAX_FILE_BYTES


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Café ☕".encode(), "Café ☕"),
        ("\ufeffWith BOM".encode(), "With BOM"),
        ("Wide".encode("utf-16"), "Wide"),
        (b"bad \xff\xfe bytes", "bad \ufffd\ufffd bytes"),
    ],
)
def test_files_are_decoded_safely(tmp_path, data, text):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    assert read_text_file(str(path)) == text


def test_an_unreadable_file_is_a_problem_until_it_appears(watcher, clock, settled, tmp_path):
    missing = tmp_path / "not-yet.txt"
    watcher.configure(0)
    watcher.submit(ev.WatchedFileNamed("Song", str(missing)))
    watcher.run_once()
    (problem,) = watcher.problems()
    assert (problem.source, problem.reason, problem.detail) == ("Song", FILE_UNREADABLE, str(missing))
    write(missing, b"Here now", 7)
    clock.t += 1.0
    watcher.run_once()
    assert watcher.problems() == ()
    assert [e.text for e in settled] == ["Here now"]


def test_a_source_that_stops_reading_a_file_is_no_longer_polled(watcher, clock, settled, tmp_path):
    song = tmp_path / "song.txt"
    write(song, b"From file", 1)
    watcher.configure(0)
    watcher.submit(ev.WatchedFileNamed("Song", str(song)))
    watcher.run_once()
    watcher.submit(ev.WatchedTextRead("Song", "Typed in"))
    watcher.run_once()
    write(song, b"Changed file", 2)
    clock.t += 1.0
    watcher.run_once()
    assert [e.text for e in settled] == ["From file", "Typed in"]


def test_unavailable_sources_are_kept_as_facts_and_cleared_by_a_reading(watcher):
    watcher.submit(ev.WatchedSourceUnavailable("Ghost", ev.SOURCE_MISSING))
    watcher.submit(ev.WatchedSourceUnavailable("Cam", ev.SOURCE_UNREADABLE_KIND, "v4l2_input"))
    watcher.run_once()
    assert {(p.source, p.reason, p.detail) for p in watcher.problems()} == {
        ("Ghost", ev.SOURCE_MISSING, ""),
        ("Cam", ev.SOURCE_UNREADABLE_KIND, "v4l2_input"),
    }
    watcher.submit(ev.WatchedTextRead("Ghost", "hello"))
    watcher.run_once()
    assert [p.source for p in watcher.problems()] == ["Cam"]


def test_the_thread_starts_and_stops_within_its_deadline(settled):
    watcher = SourceWatcher(settled.append, debounce_ms=0)
    watcher.start()
    watcher.submit(ev.WatchedMediaRead("Playlist", "Rainy Day", "Chillhop"))
    assert watcher.stop(2.0)


def test_the_engine_routes_readings_to_the_watcher_and_settled_ones_to_the_worker(clock):
    engine = Engine(
        {
            "api_key": "k-123456",
            "channel": "c",
            "only_when_live": False,
            "watch_debounce_ms": 0,
            "watched_sources": "HUD",
        },
        clock=clock,
        start=False,
    )
    engine.handle(ev.WatchedTextRead("HUD", "Lap 1"))
    assert len(engine.worker._inbox) == 0  # nothing reached the worker yet
    engine.watcher.run_once()
    (item,) = list(engine.worker._inbox.take())
    assert item.payload == ev.WatchedSourceSettled("HUD", "Lap 1", "text", first=True)
    engine.handle(ev.WatchedSourceUnavailable("Ghost", ev.SOURCE_MISSING))
    engine.watcher.run_once()
    assert "there is no source called 'Ghost'" in engine.status_text()


def test_each_new_problem_gets_one_script_log_line(watcher, caplog):
    caplog.set_level("WARNING", logger="ailicia")
    for _ in range(3):  # the glue reports a change only, but a reload reports it again
        watcher.submit(ev.WatchedSourceUnavailable("Ghost", ev.SOURCE_MISSING))
        watcher.run_once()
    assert caplog.messages == [
        "Watched source: there is no source called 'Ghost': check the name in 'Watched sources' (any case works)."
    ]
