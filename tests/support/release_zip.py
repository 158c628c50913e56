"""Builds the release zip for tests (``bash scripts/package --out DIR``) and unpacks it as an unzipper does.

The same command CI and a release use: the tests exercise the real build, wheels and hashes included.
"""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Mapping, Optional

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 300
#: The folder every release unzips to (scripts/build_zip.py ROOT_FOLDER).
ROOT_FOLDER = "ailicia-obs"


def build(out_dir: Path, env: Optional[Mapping[str, str]] = None) -> Path:
    """Build the zip into ``out_dir`` (``env`` is added to the build's environment); returns its path.

    Fails the test with pip's words when the build fails.
    """
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "package"), "--out", str(out_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, f"scripts/package failed:\n{result.stdout}\n{result.stderr}"
    zips = sorted(Path(out_dir).glob("ailicia-obs-*.zip"))
    assert len(zips) == 1, zips
    return zips[0]


def unpack(zip_path: Path, into: Path) -> Path:
    """Unzip ``zip_path`` into ``into``, over whatever is there; returns the one folder it holds.

    Like Windows' Extract All, macOS's unzip and Info-ZIP's ``unzip -o``: existing files are
    replaced, files the zip does not name are left alone, and each file gets the time stored in
    the zip (``zipfile.extractall`` alone would stamp them with the time of extraction).
    """
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
        for info in archive.infolist():
            if not info.is_dir():
                stamp = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(Path(into) / info.filename, (stamp, stamp))
    (folder,) = [p for p in Path(into).iterdir() if p.is_dir()]
    return folder
