"""The release zip (bash scripts/package): contents, size, dates, reproducibility, updates, its vendored requests.

The vendored copy is checked in real interpreters: OBS's own Debian Python, whose
dist-packages holds requests 2.28 and urllib3 1.26, must still get the zip's copies;
and requests must work without charset_normalizer (left out of the zip on purpose).
The command line runs from the unzipped folder with no PYTHONPATH; a new version unzipped
over an old one keeps the script's path and runs the new code, whatever the old one left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ailicia_core import vendoring
from tests.support import release_zip

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = "/usr/bin/python3"
PINNED = dict(re.findall(r"^([\w.-]+)==([\w.]+)", (REPO / "vendor" / "requirements.txt").read_text(), re.M))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return release_zip.build(tmp_path_factory.mktemp("dist-a"))


@pytest.fixture(scope="module")
def unpacked(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return release_zip.unpack(built, tmp_path_factory.mktemp("unzipped"))


def test_two_builds_are_byte_identical(built: Path, tmp_path: Path) -> None:
    again = release_zip.build(tmp_path)
    assert again.name == built.name
    assert again.read_bytes() == built.read_bytes()


VERSION = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)


def zip_time(epoch: int) -> tuple:
    """The time a zip entry stores for ``epoch`` (UTC, seconds in steps of two)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second - moment.second % 2)


def commit_epoch() -> int:
    out = subprocess.run(["git", "log", "-1", "--format=%ct", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return int(out.stdout.strip())


def test_the_zip_holds_one_folder_with_the_script_the_core_and_the_vendored_packages(built: Path) -> None:
    assert built.name == f"ailicia-obs-{VERSION}.zip"
    assert built.stat().st_size < 2 * 1024 * 1024
    with zipfile.ZipFile(built) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    root = "ailicia-obs/"  # the same for every version: OBS remembers a script by its full path
    assert all(n.startswith(root) for n in names)
    inside = {n[len(root) :] for n in names if not n.endswith("/")}
    tracked = subprocess.run(
        ["git", "ls-files", "ailicia_core"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(tracked) <= inside, "every file git tracks under ailicia_core/ ships"
    assert {"ailicia_obs.py", "README.txt", "install.md", "LICENSE", "ailicia_vendor/LICENSES.txt"} <= inside
    for top in ("requests", "urllib3", "idna", "certifi", "websocket", "truststore"):
        assert f"ailicia_vendor/{top}/__init__.py" in inside, top
    assert not [
        n
        for n in inside
        if n.startswith(("tests/", "bench/", "scripts/"))
        or "__pycache__" in n
        or n.endswith(".pyc")
        or n.startswith("ailicia_vendor/bin/")
    ]
    assert not [n for n in inside if "charset_normalizer" in n]
    # Fixed metadata: the same commit gives the same bytes, every entry dated by the release.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or commit_epoch())
    assert {i.date_time for i in infos} == {zip_time(epoch)}
    assert {i.external_attr >> 16 for i in infos if not i.filename.endswith("/")} == {0o100644}
    files = [n for n in names if not n.endswith("/")]
    assert files == sorted(files)


def test_each_vendored_project_ships_its_license(unpacked: Path) -> None:
    index = (unpacked / "ailicia_vendor" / "LICENSES.txt").read_text()
    for project, version in PINNED.items():
        assert f"{project} {version}:" in index, project
    listed = [line.strip() for line in index.splitlines() if line.startswith("    ")]
    assert len(listed) >= len(PINNED)
    assert all((unpacked / "ailicia_vendor" / path).is_file() for path in listed)


def _vendored_import(python: str, unpacked: Path) -> dict:
    code = f"""
import json, sys
sys.path.append({str(unpacked)!r})  # as OBS does: the script folder goes last
from ailicia_core import vendoring
setup = vendoring.use_vendored({str(unpacked)!r})
import requests, urllib3, idna, certifi, websocket
print(json.dumps({{m.__name__: [getattr(m, "__version__", ""), m.__file__]
                  for m in (requests, urllib3, idna, certifi, websocket)}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=str(unpacked.parent)
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("python", [sys.executable, DEBIAN_PYTHON])
def test_the_vendored_import_never_picks_a_site_packages_copy(unpacked: Path, python: str) -> None:
    if not os.path.exists(python):
        pytest.skip(f"{python} is not here")
    installed = subprocess.run(
        [python, "-c", "import requests; print(requests.__file__)"], capture_output=True, text=True, timeout=60
    )
    if installed.returncode != 0:
        pytest.skip(f"{python} has no installed requests that could shadow ours")
    modules = _vendored_import(python, unpacked)
    folder = str(unpacked / "ailicia_vendor")
    for name, (_version, path) in modules.items():
        assert vendoring.is_inside(path, folder), f"{name} came from {path}"
    assert modules["requests"][0] == PINNED["requests"] and modules["urllib3"][0] == PINNED["urllib3"]


def test_vendored_requests_decodes_utf8_without_charset_normalizer(unpacked: Path) -> None:
    # -I -S: no site-packages at all, so neither charset_normalizer nor chardet can be found.
    code = f"""
import json, sys, threading, warnings
from http.server import BaseHTTPRequestHandler, HTTPServer
sys.path[:0] = [{str(unpacked / "ailicia_vendor")!r}]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import requests
BODY = json.dumps({{"message": "ai_licia a rejoint le chat 🎉 — déjà"}}, ensure_ascii=False).encode()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path == "/json" else "application/x-ailicia")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{{server.server_port}}"
try:
    answer = requests.get(base + "/json", timeout=10)
    as_json, json_text = answer.json(), answer.text
    # No charset and not JSON: requests guesses, which without a detector means UTF-8.
    as_text = requests.get(base + "/other", timeout=10).text
finally:
    server.shutdown()
missing = []
for name in ("charset_normalizer", "chardet"):
    try:
        __import__(name)
    except ImportError:
        missing.append(name)
print(json.dumps({{"json": as_json["message"], "json_text": json.loads(json_text)["message"],
                  "text": json.loads(as_text)["message"], "missing": missing,
                  "warned": [str(w.message) for w in caught]}}))
"""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60, encoding="utf-8"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["missing"] == ["charset_normalizer", "chardet"]
    assert out["json"] == out["json_text"] == out["text"] == "ai_licia a rejoint le chat 🎉 — déjà"
    # The one warning requests gives here is the one the script silences at import (ailicia_obs.py Core).
    assert all("character detection" in w for w in out["warned"]), out["warned"]


def load_build_zip():
    """scripts/build_zip.py as a module (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_zip_under_test", REPO / "scripts" / "build_zip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_source_date_epoch_dates_every_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_zip = load_build_zip()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225599")  # 2025-12-31 23:59:59 UTC: a zip keeps even seconds
    when = build_zip.release_time()
    assert when == (2025, 12, 31, 23, 59, 58)
    (tmp_path / "a.txt").write_text("a")
    out = tmp_path / "dated.zip"
    build_zip.write_zip(out, build_zip.ROOT_FOLDER, {"core/a.txt": tmp_path / "a.txt"}, when)
    with zipfile.ZipFile(out) as archive:
        assert [i.filename for i in archive.infolist()] == [
            "ailicia-obs/",
            "ailicia-obs/core/",
            "ailicia-obs/core/a.txt",
        ]
        assert {i.date_time for i in archive.infolist()} == {when}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # before what a zip can hold: its first day
    assert build_zip.release_time() == (1980, 1, 1, 0, 0, 0)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_zip.release_time() == zip_time(commit_epoch())


def test_the_licence_is_mit_in_the_repository_the_zip_and_pyproject(unpacked: Path) -> None:
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Copyright (c) 2026 the ailicia-obs authors" in licence
    assert (unpacked / "LICENSE").read_text() == licence
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^license = "MIT"$', pyproject, re.M) and 'license-files = ["LICENSE"]' in pyproject


def test_readme_txt_names_the_version_the_connect_button_the_dock_and_updating(unpacked: Path) -> None:
    readme = (unpacked / "README.txt").read_text(encoding="utf-8")
    assert f"version {VERSION}" in readme.splitlines()[0]
    for words in ("Connect with ai_licia", "Dock address", "Custom Browser Docks", "unzip the new version", "LICENSE"):
        assert words in readme, words
    assert "@VERSION@" not in readme


def test_the_guide_in_the_zip_reads_whole_with_nothing_the_zip_lacks(unpacked: Path) -> None:
    guide = (unpacked / "install.md").read_text(encoding="utf-8")
    assert not re.search(r"\bthe README\b|README\.md|\btests/|\bissue \d", guide, re.I), "points outside the zip"
    local = re.findall(r"\]\((?!https?://|#)([^)]+)\)", guide) + re.findall(r'<img[^>]*\ssrc="([^"]+)"', guide)
    assert all((unpacked / link).is_file() for link in local), local
    assert any(link.endswith(".png") for link in local), "the guide shows the panel and the dock"
    anchors = set(re.findall(r"\]\(#([^)]+)\)", guide))
    headings = {
        re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", guide, re.M)
    }
    assert anchors <= headings, sorted(anchors - headings)
    topics = ("Connect with ai_licia", "Hotkeys", "dock", "Caption", "Watched sources", "Stream Deck", "Streamer.bot")
    topics += ("Updating", "Uninstalling", "Troubleshooting", "revoke")
    missing = [topic for topic in topics if topic.lower() not in guide.lower()]
    assert not missing, missing


def plain_env() -> dict:
    """The environment without any PYTHON* variable: no PYTHONPATH, as a streamer's terminal."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_line_runs_from_the_unzipped_folder_with_its_own_requests_and_no_warning(unpacked: Path) -> None:
    # -S: no site-packages, so the only requests there is is the zip's; -W always: any warning would show.
    result = subprocess.run(
        [sys.executable, "-S", "-W", "always", "-m", "ailicia_core", "check"]
        + ["--base-url", f"http://127.0.0.1:{closed_port()}"],
        cwd=unpacked,
        env={**plain_env(), "AILICIA_API_KEY": "zip-test-key-0123456789"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = result.stdout + result.stderr
    assert "needs the Python package" not in said and "Warning" not in said, said
    assert "Traceback" not in said and result.returncode not in (0, 1, 2), said  # it went as far as the network


def test_the_command_line_module_finds_the_vendored_folder_beside_the_package(unpacked: Path) -> None:
    probe = (
        "from ailicia_core import vendoring\n"
        "vendoring.use_vendored_beside_package()\n"
        "import requests\n"
        "print(requests.__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=unpacked, env=plain_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert vendoring.is_inside(result.stdout.strip(), str(unpacked / "ailicia_vendor")), result.stdout


def compile_as_obs_would(folder: Path) -> None:
    """Write __pycache__ for the core, as OBS's Python does when it imports the script's modules."""
    result = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(folder / "ailicia_core")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def imported_version(folder: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import ailicia_core; print(ailicia_core.__version__)"],
        cwd=folder,
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def make_old_release(zip_path: Path, into: Path, epoch: int) -> Path:
    """Unzip ``zip_path`` as if it were an older release dated ``epoch``, run once by OBS.

    Its ``__version__`` reads "0.0.9" (same length as the real one: only the time tells the two
    sources apart), and it has a module the new version no longer ships.
    """
    folder = release_zip.unpack(zip_path, into)
    init = folder / "ailicia_core" / "__init__.py"
    text = init.read_text()
    old = text.replace(f'__version__ = "{VERSION}"', '__version__ = "0.0.9"')
    assert old != text and len(old) == len(text)
    init.write_text(old)
    (folder / "ailicia_core" / "retired_module.py").write_text('raise ImportError("from the old version")\n')
    stamp = time.mktime((*zip_time(epoch), 0, 0, -1))
    for path in folder.rglob("*.py"):
        os.utime(path, (stamp, stamp))
    compile_as_obs_would(folder)
    assert imported_version(folder) == "0.0.9"
    return folder


def test_a_new_version_unzipped_over_the_old_one_keeps_the_path_and_runs_the_new_code(
    built: Path, tmp_path: Path
) -> None:
    older = commit_epoch() - 86_400
    old_folder = make_old_release(built, tmp_path / "home", older)
    old_script = old_folder / "ailicia_obs.py"

    new_folder = release_zip.unpack(built, tmp_path / "home")  # over the old one, as install.md says

    # OBS keeps the script's settings and hotkeys under its full path: the same path after the update.
    assert new_folder == old_folder and old_script.is_file()
    with zipfile.ZipFile(built) as archive:
        for name in (n for n in archive.namelist() if not n.endswith("/")):
            assert (tmp_path / "home" / name).read_bytes() == archive.read(name), name
    # The old version's cached bytecode is not run: the new files carry a later date.
    assert imported_version(new_folder) == VERSION
    # What the old version left and the new one does not ship is never imported.
    assert (new_folder / "ailicia_core" / "retired_module.py").exists()
    code = (
        "import sys\n"
        "from ailicia_core import vendoring\n"
        "vendoring.use_vendored_beside_package()\n"
        "import ailicia_core.engine, ailicia_core.cli, ailicia_core.dock.server\n"
        "print(sorted(m for m in sys.modules if m.startswith('ailicia_core.retired')))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=new_folder, env=plain_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_with_one_date_for_every_release_the_old_bytecode_would_win(built: Path, tmp_path: Path) -> None:
    # Why the entries carry the commit's date: with one fixed date for every release, Python
    # trusts the old version's bytecode (same recorded time, same size) over the new source.
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or commit_epoch())
    old_folder = make_old_release(built, tmp_path / "home", epoch)
    release_zip.unpack(built, tmp_path / "home")
    assert imported_version(old_folder) == "0.0.9"


#: Every package folder a release has shipped. After an unzip-over update, a folder the old version
#: left wins over a module of the same name (Python imports the package first), so none of these may
#: ever become a module. A new package is added here when it first ships.
SHIPPED_PACKAGES = ("ailicia_core", "ailicia_core/dock", "ailicia_core/sandbox")


def test_no_package_a_release_shipped_ever_becomes_a_module(unpacked: Path) -> None:
    shipped = {p.parent.relative_to(unpacked).as_posix() for p in (unpacked / "ailicia_core").rglob("__init__.py")}
    assert shipped <= set(SHIPPED_PACKAGES), f"add the new package(s) to SHIPPED_PACKAGES: {shipped}"
    assert not [name for name in SHIPPED_PACKAGES if (unpacked / f"{name}.py").exists()]
