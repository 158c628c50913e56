"""The release zip (bash scripts/package): contents, size, reproducibility, and its vendored requests.

The vendored copy is checked in real interpreters: OBS's own Debian Python, whose
dist-packages holds requests 2.28 and urllib3 1.26, must still get the zip's copies;
and requests must work without charset_normalizer (left out of the zip on purpose).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
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


def test_the_zip_holds_one_folder_with_the_script_the_core_and_the_vendored_packages(built: Path) -> None:
    version = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert built.name == f"ailicia-obs-{version}.zip"
    assert built.stat().st_size < 2 * 1024 * 1024
    with zipfile.ZipFile(built) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    root = f"ailicia-obs-{version}/"
    assert all(n.startswith(root) for n in names)
    inside = {n[len(root) :] for n in names if not n.endswith("/")}
    tracked = subprocess.run(
        ["git", "ls-files", "ailicia_core"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(tracked) <= inside, "every file git tracks under ailicia_core/ ships"
    assert {"ailicia_obs.py", "README.txt", "install.md", "ailicia_vendor/LICENSES.txt"} <= inside
    for top in ("requests", "urllib3", "idna", "certifi", "websocket"):
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
    # Fixed metadata: the same commit gives the same bytes.
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
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
