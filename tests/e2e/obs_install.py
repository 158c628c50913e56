"""Which real OBS the end-to-end tests run, and how to start a program inside it.

Three OBS versions are tested, chosen by ``AILICIA_OBS`` (default ``29``):

======  =========================  ===========  =====================================
label   where                      Python       how
======  =========================  ===========  =====================================
29      the host (Debian 12)       3.11         ``obs`` from ``scripts/setup-system``
30      a Debian 13 (trixie) root  3.13         ``scripts/setup-obs-chroots trixie``
32      a Debian sid root          3.14         ``scripts/setup-obs-chroots sid``
======  =========================  ===========  =====================================

OBS in a chroot sees the host's files through bind mounts made here, once per process, and
undone at exit (only the mounts this process made): ``/proc``, ``/sys``, ``/dev`` (with
``/dev/pts`` and ``/dev/shm``), ``/tmp`` (the tests' work dirs and Xvfb's socket) and the
checkout, each at the same path inside as outside, so every path the harness writes means the
same file in both. Xvfb and the nginx RTMP listener run on the host: loopback and the X socket
are shared.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROOTS = Path(os.environ.get("AILICIA_CHROOTS", "/var/tmp/ailicia-obs-chroots"))
SUITES = {"29": "", "30": "trixie", "32": "sid"}


@dataclass(frozen=True)
class ObsInstall:
    """One OBS Studio build the tests can start: on the host (``root`` None) or in a chroot."""

    label: str
    root: Optional[Path]

    @property
    def name(self) -> str:
        """What a failure report calls it: ``OBS 32.2.2 (sid chroot)``."""
        where = f"{self.root.name} chroot" if self.root else "host"
        return f"OBS {self.version or self.label} ({where})"

    @property
    def version(self) -> str:
        """The obs-studio package version (``32.2.2``), or "" when not installed."""
        return _package_version(self.root)

    @property
    def version_number(self) -> int:
        """The version as OBS's ``MAKE_SEMANTIC_VERSION`` (global.ini's ``LastVersion``)."""
        parts = [int(p) for p in re.findall(r"\d+", self.version)[:3]] + [0, 0, 0]
        return (parts[0] << 24) | (parts[1] << 16) | parts[2]

    def path(self, inside: str) -> Path:
        """A path inside this install's root, as the host sees it."""
        return (self.root or Path("/")) / inside.lstrip("/")

    def command(self, argv: List[str], cwd: Optional[Path] = None) -> List[str]:
        """``argv`` to run inside this install (``cwd``: its working directory there)."""
        if self.root is None:
            return argv
        prefix = ["chroot", str(self.root), "/usr/bin/env"]
        if cwd is not None:
            prefix += ["-C", str(cwd)]
        return prefix + argv

    def missing(self) -> List[str]:
        """What this machine lacks to run this OBS (empty when all is there)."""
        if self.root is not None and not (self.root / ".ailicia-ready").exists():
            return [f"the {self.root.name} chroot (run `bash scripts/setup-obs-chroots {self.root.name}` as root)"]
        missing = [] if self.path("/usr/bin/obs").exists() else ["obs"]
        if not list(self.path("/usr/lib").glob("*/obs-scripting/obspython.py")):
            missing.append("OBS Python scripting (obspython)")
        python = self.path("/usr/bin/python3")
        if not python.exists():
            missing.append("/usr/bin/python3")
        elif subprocess.run(self.command(["python3", "-c", "import requests"]), capture_output=True).returncode:
            missing.append("python3-requests (for OBS's own Python)")
        return missing

    def prepare(self) -> None:
        """Make the host's files visible inside (a chroot's bind mounts); nothing on the host."""
        if self.root is not None:
            _mount_host_paths(self.root)


def current() -> ObsInstall:
    """The OBS that ``AILICIA_OBS`` names (``29``, ``30`` or ``32``; default ``29``)."""
    label = os.environ.get("AILICIA_OBS", "29").strip() or "29"
    if label not in SUITES:
        raise ValueError(f"AILICIA_OBS={label!r}: choose one of {', '.join(SUITES)}")
    suite = SUITES[label]
    return ObsInstall(label, CHROOTS / suite if suite else None)


def _package_version(root: Optional[Path]) -> str:
    status = (root or Path("/")) / "var/lib/dpkg/status"
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return ""
    match = re.search(r"^Package: obs-studio\n(?:[^\n]+\n)*?Version: (?:\d+:)?([\d.]+)", text, re.M)
    return match.group(1).rstrip(".") if match else ""


_mounted: List[Path] = []
_mount_lock = threading.Lock()


def _mount_host_paths(root: Path) -> None:
    with _mount_lock:
        sources = ["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/tmp"]
        if not str(REPO_ROOT).startswith("/tmp/"):
            sources.append(str(REPO_ROOT))  # a checkout outside /tmp (under /tmp it is seen already)
        for source in sources:
            target = root / source.lstrip("/")
            if not os.path.exists(source) or _is_mountpoint(target):
                continue
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", source, str(target)], check=True, capture_output=True)
            if not _mounted:
                atexit.register(_unmount_all)
            _mounted.append(target)


def _is_mountpoint(path: Path) -> bool:
    return path.exists() and subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


def _unmount_all() -> None:
    """Undo this process's mounts, innermost first; lazily, so a straggler cannot keep one."""
    while _mounted:
        target = _mounted.pop()
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def have_tool(install: ObsInstall, tool: str) -> bool:
    """Whether ``tool`` is on the PATH inside ``install``."""
    if install.root is None:
        return shutil.which(tool) is not None
    return any(install.path(f"{d}/{tool}").exists() for d in ("/usr/bin", "/bin", "/usr/sbin"))
