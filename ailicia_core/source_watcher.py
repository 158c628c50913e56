"""SourceWatcher: the core-side thread behind watched sources.

The glue reports what watched OBS sources show (:data:`~.events.WATCH_READINGS`)
through :meth:`SourceWatcher.submit`, which only appends and sets an Event, so
it is safe on any OBS thread. The watcher thread:

- reads the file behind a from-file text source itself, when its modification
  time or size changes (OBS reloads such files internally and emits no signal),
  at most :data:`MAX_FILE_BYTES`, decoded as UTF-8 (a BOM tells UTF-16), never raising.
  Only a regular file is read: it is checked with ``os.stat`` before it is opened,
  opened non-blocking where the platform allows, and checked again once open, so a
  pipe or a device named as the file can never hold the thread; it is a problem
  for the status (:data:`~.watch.FILE_NOT_REGULAR`) and the other sources go on.
  A refused read (a writer that denies sharing, an antivirus scanning a fresh file)
  counts only after :data:`PERMISSION_GRACE_POLLS` polls in a row;
- debounces and deduplicates every reading (:class:`~.watch.WatchTracker`);
- hands each settled reading to ``emit`` as a :class:`~.events.WatchedSourceSettled`;
- keeps the facts of sources it cannot read, for the status (:meth:`problems`).

:meth:`start` and :meth:`stop` are paired here; ``stop`` returns by its deadline.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Optional, Tuple

from . import events as ev
from .status import watch_problem_words
from .watch import FILE_DENIED, FILE_NOT_REGULAR, FILE_UNREADABLE, WatchTracker, media_text

log = logging.getLogger("ailicia")

__all__ = ["FILE_DENIED", "FILE_NOT_REGULAR", "FILE_UNREADABLE", "NotARegularFile", "SourceWatcher", "read_text_file"]

#: How often the files behind from-file text sources are checked (seconds).
FILE_POLL_S = 0.5
#: A now-playing or HUD file is a few hundred bytes; more than this is read only up to here.
MAX_FILE_BYTES = 16 * 1024
#: A refused read is taken as passing (Windows share-deny, an antivirus scan) for this many polls in a row.
PERMISSION_GRACE_POLLS = 4
#: Opening never waits: not for a pipe's writer, nor for a device (O_NONBLOCK where it exists).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)


class NotARegularFile(OSError):
    """The path names a pipe, a device, a folder: anything but a regular file."""


@dataclass(frozen=True)
class WatchProblem:
    """A watched source that cannot be read: ``reason`` is an events.SOURCE_* value or a watch.FILE_* one."""

    source: str
    reason: str
    detail: str = ""


def read_text_file(path: str) -> str:
    """The start of the regular file at ``path`` as text (UTF-8, or UTF-16 with a BOM; bad bytes replaced).

    Raises :class:`NotARegularFile` for anything else, without waiting on it; ``OSError`` when it cannot be read.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotARegularFile(path)
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a pipe between the stat and the open
            raise NotARegularFile(path)
        raw = _read_at_most(fd, MAX_FILE_BYTES)
    finally:
        os.close(fd)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class SourceWatcher:
    """Debounces watched-source readings and reads from-file sources; see the module docstring."""

    def __init__(
        self,
        emit: Callable[[ev.WatchedSourceSettled], None],
        *,
        debounce_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self.debounce_s = debounce_ms / 1000.0
        self._inbox: Deque = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: Optional[threading.Thread] = None
        self._tracker = WatchTracker()
        self._files: Dict[str, str] = {}  # source -> path
        self._stamps: Dict[str, Tuple[int, int]] = {}  # source -> (mtime_ns, size) last read
        self._next_file_poll = float("-inf")
        self._problems: Dict[str, WatchProblem] = {}
        self._denied: Dict[str, int] = {}  # source -> refused reads in a row

    # --- any thread ---------------------------------------------------------------

    def submit(self, reading: object) -> None:
        """Queue one of :data:`~.events.WATCH_READINGS`; never blocks."""
        self._inbox.append((self._clock(), reading))
        self._wake.set()

    def configure(self, debounce_ms: int) -> None:
        self.debounce_s = debounce_ms / 1000.0
        self._wake.set()

    def problems(self) -> Tuple[WatchProblem, ...]:
        """The watched sources that cannot be read right now (a copy; safe from any thread)."""
        return tuple(dict(self._problems).values())

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ailicia-watch", daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop the thread within ``timeout`` seconds; True when it ended."""
        self._stopping = True
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping:
            due = self.run_once()
            wait = max(0.0, min(due, self._next_file_poll if self._files else due) - self._clock())
            self._wake.wait(min(wait, FILE_POLL_S))
            self._wake.clear()

    # --- one turn (the thread, or a test with a fake clock) -------------------------------

    def run_once(self) -> float:
        """Take readings, check files, emit what settled; returns when the next turn has work."""
        try:
            self._drain()
            now = self._clock()
            if self._files and now >= self._next_file_poll:
                self._next_file_poll = now + FILE_POLL_S
                self._poll_files(now)
            for source, text, kind, first in self._tracker.settle(self._clock(), self.debounce_s):
                self._emit(ev.WatchedSourceSettled(source=source, text=text, kind=kind, first=first))
        except Exception:  # a bug must not end the thread; the next turn tries again
            log.debug("ai_licia-obs: watched sources", exc_info=True)
        due = self._tracker.due_at(self.debounce_s)
        return self._clock() + FILE_POLL_S if due is None else due

    def _drain(self) -> None:
        while self._inbox:
            at, reading = self._inbox.popleft()
            source = reading.source
            if isinstance(reading, ev.WatchedSourceUnavailable):
                self._files.pop(source, None)
                self._set_problem(WatchProblem(source, reading.reason, reading.kind))
                continue
            self._problems.pop(source, None)
            if isinstance(reading, ev.WatchedFileNamed):
                if self._files.get(source) != reading.path:
                    self._files[source] = reading.path
                    self._stamps.pop(source, None)
                    self._denied.pop(source, None)
                    self._next_file_poll = float("-inf")  # read the new file at once
                continue
            self._files.pop(source, None)
            if isinstance(reading, ev.WatchedMediaRead):
                self._tracker.observe(source, media_text(reading.title, reading.artist), at, "media")
            else:
                self._tracker.observe(source, reading.text, at)

    def _poll_files(self, now: float) -> None:
        for source, path in list(self._files.items()):
            try:
                info = os.stat(path)
                if not stat.S_ISREG(info.st_mode):
                    raise NotARegularFile(path)
                stamp = (info.st_mtime_ns, info.st_size)
                if stamp == self._stamps.get(source):
                    self._denied.pop(source, None)
                    continue
                text = read_text_file(path)
            except PermissionError:
                self._stamps.pop(source, None)  # read it again at the next poll
                self._denied[source] = self._denied.get(source, 0) + 1
                if self._denied[source] >= PERMISSION_GRACE_POLLS:
                    self._set_problem(WatchProblem(source, FILE_DENIED, path))
                continue
            except (OSError, ValueError) as exc:
                reason = FILE_NOT_REGULAR if isinstance(exc, NotARegularFile) else FILE_UNREADABLE
                self._set_problem(WatchProblem(source, reason, path))
                self._stamps.pop(source, None)
                self._denied.pop(source, None)
                continue
            self._stamps[source] = stamp
            self._denied.pop(source, None)
            self._problems.pop(source, None)
            self._tracker.observe(source, text, now)

    def _set_problem(self, problem: WatchProblem) -> None:
        """Keep ``problem`` for the status; a new one also gets its line in the Script Log, once."""
        if self._problems.get(problem.source) != problem:
            log.warning("Watched source: %s", watch_problem_words(problem))
        self._problems[problem.source] = problem
