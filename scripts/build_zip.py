"""Builds the release zip: ``dist/ailicia-obs-<version>.zip`` (run it through ``bash scripts/package``).

The zip holds one folder, ``ailicia-obs/``, whose name never changes between versions: OBS
remembers a script by its full path, so unzipping the next version over the old folder keeps the
key, the channel and the hotkeys. The version is in the zip's name and in ``README.txt``. The
folder holds what a streamer needs and nothing else:

- ``ailicia_obs.py`` and every file git tracks under ``ailicia_core/`` (no tests, no bench, no caches);
- ``ailicia_vendor/``: the wheels pinned and hashed in ``vendor/requirements.txt``, installed by pip
  with ``--require-hashes --no-deps --only-binary=:all:`` (each project's license is in its
  ``*.dist-info/licenses/``; ``ailicia_vendor/LICENSES.txt`` lists them);
- ``README.txt``: the short install text for streamers (``vendor/README-streamers.txt`` with the
  version filled in), ``install.md`` (the streamer's whole guide), the pictures it shows (under
  ``docs/``, as in the repository) and ``LICENSE``.

Reproducible: the same commit gives the same bytes. Entries are sorted, files are 0644 and
folders 0755, pip writes no bytecode, and every entry carries one time: ``SOURCE_DATE_EPOCH``
when it is set, else the commit's date (in UTC). A real date, not 1980, matters beyond looks:
Python trusts a cached ``__pycache__/*.pyc`` whose recorded source time and size match the
``.py`` beside it, and OBS's Python writes those caches into this folder. Were every release
stamped 1980, a module edited without changing its size would keep running the previous
version's code after an update. (Deflate output depends on the zlib build too: two machines
with different zlib versions may differ.)

Unzipping over the old folder leaves the files the new version no longer ships. A module nothing
imports is harmless, but a package folder left behind wins over a module of the same name: a
package of a release never becomes a module (tests/integration/test_package.py keeps the list).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

REPO = Path(__file__).resolve().parents[1]
VENDOR_REQUIREMENTS = REPO / "vendor" / "requirements.txt"
STREAMER_README = REPO / "vendor" / "README-streamers.txt"
VENDOR_FOLDER = "ailicia_vendor"  # must match ailicia_core/vendoring.py VENDOR_FOLDER
CORE_FOLDER = "ailicia_core"
SCRIPT = "ailicia_obs.py"
#: The folder the zip unzips to: the same for every version (OBS keeps a script's settings by its path).
ROOT_FOLDER = "ailicia-obs"
#: Where README-streamers.txt says which version it belongs to.
VERSION_MARK = "@VERSION@"
#: The oldest time a zip entry can hold (DOS dates start in 1980).
ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=timezone.utc)
#: What pip leaves that a streamer never needs and that would differ between machines.
NOT_SHIPPED = ("bin", "__pycache__")
MAX_BYTES = 2 * 1024 * 1024


def project_version() -> str:
    """``version`` from pyproject.toml's [project] table."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    if not match:
        raise SystemExit("package: no version in pyproject.toml")
    return match.group(1)


def release_time() -> Tuple[int, int, int, int, int, int]:
    """The time every entry carries: ``SOURCE_DATE_EPOCH`` if set, else the commit's date; UTC, 2 s steps."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        epoch = subprocess.run(
            ["git", "log", "-1", "--format=%ct", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
    try:
        moment = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    except (ValueError, OverflowError, OSError) as err:
        raise SystemExit(f"package: SOURCE_DATE_EPOCH {epoch!r} is not a time in seconds ({err})") from err
    moment = max(moment, ZIP_EPOCH)
    # A zip stores seconds in steps of two: round down here so the entry says exactly what is stored.
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second - moment.second % 2)


def streamer_readme(version: str) -> str:
    """README.txt: vendor/README-streamers.txt with the version filled in."""
    text = STREAMER_README.read_text(encoding="utf-8")
    if VERSION_MARK not in text:
        raise SystemExit(f"package: {STREAMER_README.name} does not say where the version goes ({VERSION_MARK})")
    return text.replace(VERSION_MARK, version)


def guide_pictures() -> List[str]:
    """The pictures install.md shows (``![…](docs/….png)`` or ``<img src="docs/….png">``), relative to the repo."""
    guide = (REPO / "install.md").read_text(encoding="utf-8")
    found = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", guide) + re.findall(r'<img[^>]*\ssrc="([^"]+)"', guide)
    pictures = sorted(set(found))
    missing = [p for p in pictures if not (REPO / p).is_file() or p.startswith(("/", "..")) or "://" in p]
    if missing:
        raise SystemExit(f"package: install.md shows pictures that are not in the repository: {missing}")
    return pictures


def tracked_core_files() -> List[str]:
    """Every file git tracks under ailicia_core/, except bytecode (paths relative to the repo)."""
    listed = (
        subprocess.run(["git", "ls-files", "-z", "--", CORE_FOLDER], cwd=REPO, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    return sorted(
        p for p in listed if p and "__pycache__/" not in p and not p.endswith(".pyc") and (REPO / p).is_file()
    )


def install_vendored(target: Path, wheels: Path) -> None:
    """pip-installs vendor/requirements.txt into ``target``: hashed wheels, no dependencies, no bytecode."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Download first (hash-checked), then install from that folder only: the build is the same
    # whatever Python builds it, since the wheels are pure and we ask for 3.10 ones.
    subprocess.run(
        [
            *pip,
            "download",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.10",
            "-r",
            str(VENDOR_REQUIREMENTS),
            "-d",
            str(wheels),
        ],
        check=True,
    )
    subprocess.run(
        [
            *pip,
            "install",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "--no-index",
            "--find-links",
            str(wheels),
            "--no-compile",
            "--python-version",
            "3.10",
            "--target",
            str(target),
            "-r",
            str(VENDOR_REQUIREMENTS),
        ],
        check=True,
    )
    for name in NOT_SHIPPED:
        shutil.rmtree(target / name, ignore_errors=True)
    for cache in list(target.rglob("__pycache__")) + list(target.glob("*/tests")):
        shutil.rmtree(cache)  # bytecode differs between machines; a package's own tests are not needed
    (target / "LICENSES.txt").write_text(license_index(target), encoding="utf-8")


def license_index(target: Path) -> str:
    """LICENSES.txt: each vendored project, its version, its license and where its text is."""
    lines = ["Third-party packages in this folder, each under its own license:", ""]
    for dist_info in sorted(target.glob("*.dist-info")):
        meta = _metadata(dist_info / "METADATA")
        licenses = sorted(
            p.relative_to(target).as_posix()
            for p in dist_info.rglob("*")
            if p.is_file() and p.parent.name == "licenses"
        )
        kind = meta.get("License-Expression") or meta.get("License") or "see its license file"
        lines.append(f"{meta.get('Name', dist_info.name)} {meta.get('Version', '')}: {kind}")
        lines.extend(f"    {path}" for path in licenses)
    return "\n".join(lines) + "\n"


def _metadata(path: Path) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            break  # the description follows the headers
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def write_zip(out: Path, root: str, files: Dict[str, Path], when: Tuple[int, int, int, int, int, int]) -> None:
    """Write ``files`` (archive name → file on disk) under ``root/``, sorted, every entry dated ``when``."""
    names = sorted(files)
    folders = sorted({"/".join(name.split("/")[:i]) for name in names for i in range(1, name.count("/") + 1)})
    with zipfile.ZipFile(out, "w") as archive:
        for folder in [""] + folders:
            info = zipfile.ZipInfo(f"{root}/{folder}/" if folder else f"{root}/", when)
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
        for name in names:
            info = zipfile.ZipInfo(f"{root}/{name}", when)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].read_bytes(), compresslevel=9)


def files_under(folder: Path, prefix: str) -> Iterable[tuple]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield f"{prefix}/{path.relative_to(folder).as_posix()}", path


def build(out_dir: Path) -> Path:
    version = project_version()
    when = release_time()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{ROOT_FOLDER}-{version}.zip"
    with tempfile.TemporaryDirectory(prefix="ailicia-package-") as tmp:
        vendored = Path(tmp) / VENDOR_FOLDER
        install_vendored(vendored, Path(tmp) / "wheels")
        readme = Path(tmp) / "README.txt"
        readme.write_text(streamer_readme(version), encoding="utf-8")
        files: Dict[str, Path] = {
            SCRIPT: REPO / SCRIPT,
            "README.txt": readme,
            "install.md": REPO / "install.md",
            "LICENSE": REPO / "LICENSE",
        }
        files.update({name: REPO / name for name in tracked_core_files() + guide_pictures()})
        files.update(dict(files_under(vendored, VENDOR_FOLDER)))
        partial = out.with_suffix(".zip.part")
        write_zip(partial, ROOT_FOLDER, files, when)
        partial.replace(out)
    size = out.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"package: {out} is {size} bytes, over the 2 MB limit")
    return out


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the release zip (ailicia_obs.py + ailicia_core + vendored).")
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="folder for the zip (default: dist/)")
    args = parser.parse_args(argv)
    out = build(args.out)
    print(f"package: {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
