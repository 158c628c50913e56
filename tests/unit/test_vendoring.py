"""ailicia_core.vendoring: the zip's ailicia_vendor folder wins over any installed copy, once, and never mixes.

Each case builds a script folder with a vendored ``requests``/``urllib3`` and a stand-in
site-packages with other copies, then runs a fresh interpreter, so this process's own
``sys.modules`` is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ailicia_core import vendoring

REPO = Path(__file__).resolve().parents[2]


def package(folder: Path, name: str, origin: str, body: str = "") -> None:
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "__init__.py").write_text(f"ORIGIN = {origin!r}\n{body}")


def layout(tmp_path: Path) -> tuple:
    script_dir, site = tmp_path / "ailicia-obs", tmp_path / "site-packages"
    vendor = script_dir / vendoring.VENDOR_FOLDER
    # The vendored requests records which urllib3 it found, as the real one would use it.
    package(vendor, "requests", "vendored", "import urllib3\nURLLIB3 = urllib3.ORIGIN\n")
    package(vendor, "urllib3", "vendored")
    (vendor / "requests-9.9.dist-info").mkdir()
    package(site, "requests", "site", "import urllib3\nURLLIB3 = urllib3.ORIGIN\n")
    package(site, "urllib3", "site")
    return script_dir, site


def run(code: str, *path: Path) -> dict:
    """Run ``code`` in a fresh Python whose sys.path starts with ``path`` then ailicia_core; its last line is JSON."""
    prelude = f"import sys, json; sys.path[:0] = {[str(p) for p in path]!r} + [{str(REPO)!r}]\n"
    result = subprocess.run([sys.executable, "-I", "-c", prelude + code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_vendored_requests_wins_over_a_site_packages_copy_earlier_on_the_path(tmp_path):
    script_dir, site = layout(tmp_path)
    # OBS appends the script folder: site-packages comes first, as in every real setup.
    out = run(
        f"""
from ailicia_core import vendoring
setup = vendoring.use_vendored({str(script_dir)!r})
import requests
print(json.dumps({{"requests": requests.ORIGIN, "urllib3": requests.URLLIB3, "first": sys.path[0],
                   "folder": setup.folder, "forgotten": list(setup.forgotten)}}))
""",
        site,
    )
    assert out["requests"] == "vendored" and out["urllib3"] == "vendored"
    assert out["first"] == out["folder"] == str(script_dir / vendoring.VENDOR_FOLDER)
    assert out["forgotten"] == []


def test_an_installed_urllib3_already_imported_is_never_mixed_with_the_vendored_requests(tmp_path):
    script_dir, site = layout(tmp_path)
    out = run(
        f"""
import urllib3  # another OBS script imported the installed copies first
import requests as theirs
from ailicia_core import vendoring
setup = vendoring.use_vendored({str(script_dir)!r})
import requests
print(json.dumps({{"requests": requests.ORIGIN, "urllib3": requests.URLLIB3, "theirs": theirs.URLLIB3,
                   "forgotten": list(setup.forgotten)}}))
""",
        site,
    )
    assert out == {
        "requests": "vendored",
        "urllib3": "vendored",
        "theirs": "site",
        "forgotten": ["requests", "urllib3"],
    }


def test_fifty_loads_leave_one_path_entry(tmp_path):
    script_dir, site = layout(tmp_path)
    out = run(
        f"""
from ailicia_core import vendoring
for _ in range(50):
    vendoring.use_vendored({str(script_dir)!r})
import requests
print(json.dumps({{"entries": sum(1 for p in sys.path if p.endswith({vendoring.VENDOR_FOLDER!r})),
                   "forgotten": list(vendoring.use_vendored({str(script_dir)!r}).forgotten)}}))
""",
        site,
    )
    assert out == {"entries": 1, "forgotten": []}  # the vendored modules already loaded are kept


def test_without_the_folder_nothing_changes_and_the_installed_requests_is_used(tmp_path):
    script_dir, site = layout(tmp_path)
    (script_dir / vendoring.VENDOR_FOLDER / "requests" / "__init__.py").unlink()
    for child in sorted((script_dir / vendoring.VENDOR_FOLDER).rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    (script_dir / vendoring.VENDOR_FOLDER).rmdir()
    out = run(
        f"""
from ailicia_core import vendoring
before = list(sys.path)
setup = vendoring.use_vendored({str(script_dir)!r})
import requests
print(json.dumps({{"requests": requests.ORIGIN, "active": setup.active, "same": before == sys.path}}))
""",
        site,
    )
    assert out == {"requests": "site", "active": False, "same": True}


def test_vendored_names_are_the_folders_packages_and_modules(tmp_path):
    script_dir, _ = layout(tmp_path)
    vendor = script_dir / vendoring.VENDOR_FOLDER
    (vendor / "six.py").write_text("")
    assert vendoring.vendored_names(str(vendor)) == ("requests", "six", "urllib3")


def test_is_inside_needs_a_real_child_path(tmp_path):
    folder = tmp_path / "ailicia_vendor"
    assert vendoring.is_inside(str(folder / "requests" / "__init__.py"), str(folder))
    assert not vendoring.is_inside(str(tmp_path / "ailicia_vendor2" / "x.py"), str(folder))
    assert not vendoring.is_inside(None, str(folder))


def test_vendoring_imports_only_the_standard_library():
    out = run("""
before = set(sys.modules)
import ailicia_core.vendoring
print(json.dumps(sorted(m for m in set(sys.modules) - before if not m.startswith("ailicia_core"))))
""")
    assert not [m for m in out if m.split(".")[0] in ("requests", "urllib3", "obspython")]
