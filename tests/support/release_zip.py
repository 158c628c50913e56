"""Builds the release zip for tests (``bash scripts/package --out DIR``) and unpacks it.

The same command CI and a release use: the tests exercise the real build, wheels and hashes included.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 300


def build(out_dir: Path) -> Path:
    """Build the zip into ``out_dir``; returns its path (fails the test with pip's words when the build fails)."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "package"), "--out", str(out_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"scripts/package failed:\n{result.stdout}\n{result.stderr}"
    zips = sorted(Path(out_dir).glob("ailicia-obs-*.zip"))
    assert len(zips) == 1, zips
    return zips[0]


def unpack(zip_path: Path, into: Path) -> Path:
    """Unzip ``zip_path`` into ``into``; returns the one folder it holds."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    (folder,) = [p for p in Path(into).iterdir() if p.is_dir()]
    return folder
