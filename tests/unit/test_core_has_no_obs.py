"""House point 1: only ailicia_obs.py imports obspython; ailicia_core never does."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import ailicia_core

CORE = Path(ailicia_core.__file__).resolve().parent
ROOT = CORE.parent
FORBIDDEN = "obspython"

# Run in a fresh interpreter: a finder that fails on obspython, then every core module imported.
GUARD = textwrap.dedent(
    """
    import sys

    class RefuseObs:
        def find_spec(self, name, path=None, target=None):
            if name == "obspython" or name.startswith("obspython."):
                raise ImportError("obspython imported by " + repr(sys._getframe(1).f_globals.get("__name__")))
            return None

    sys.meta_path.insert(0, RefuseObs())
    """
)

IMPORT_ALL = GUARD + textwrap.dedent(
    """
    import importlib, pkgutil
    import ailicia_core
    # __main__ is the command line itself: importing it runs it. The AST scan covers it.
    names = sorted(m.name for m in pkgutil.walk_packages(ailicia_core.__path__, "ailicia_core.")
                   if not m.name.endswith(".__main__"))
    for name in names:
        importlib.import_module(name)
    assert "obspython" not in sys.modules
    print("IMPORTED " + " ".join(names))
    """
)


def obs_imports(source: str, filename: str = "<source>") -> list:
    """Every place ``source`` imports obspython: import statements and string-named imports."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("__import__", "import_module") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{filename}:{node.lineno}" for name in names if name.split(".")[0] == FORBIDDEN]
    return found


def core_sources() -> list:
    return sorted(CORE.rglob("*.py"))


def run_python(code: str, *extra_path: Path) -> subprocess.CompletedProcess:
    path = [str(p) for p in (ROOT, *extra_path)]
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path[:0] = {path!r}\n" + code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )


def test_the_ast_scan_finds_every_kind_of_obs_import():
    samples = [
        "import obspython",
        "import obspython as obs",
        "import os, obspython",
        "from obspython import obs_source_release",
        "def f():\n    import obspython",
        "__import__('obspython')",
        "import importlib\nimportlib.import_module('obspython')",
    ]
    for sample in samples:
        assert obs_imports(sample), sample
    assert obs_imports("import obspython_helpers\nfrom . import obspython_like\nx = 'import obspython'") == []


def test_no_core_source_imports_obspython():
    sources = core_sources()
    assert len(sources) >= 10 and CORE / "compose.py" in sources
    found = [hit for path in sources for hit in obs_imports(path.read_text(encoding="utf-8"), path.name)]
    assert found == []


def test_the_import_guard_fails_on_obspython(tmp_path):
    (tmp_path / "obspython.py").write_text("LOADED = True\n")
    assert run_python("import obspython; assert obspython.LOADED", tmp_path).returncode == 0
    guarded = run_python(GUARD + "import obspython", tmp_path)
    assert guarded.returncode != 0
    assert "ImportError: obspython imported by" in guarded.stderr


def test_every_core_module_imports_without_obspython(tmp_path):
    # A stand-in obspython is importable here, so only the guard can stop it.
    (tmp_path / "obspython.py").write_text("")
    result = run_python(IMPORT_ALL, tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("IMPORTED ")]
    imported = set(line.split()[1:])
    expected = set()
    for path in CORE.rglob("*.py"):
        parts = ("ailicia_core",) + path.relative_to(CORE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if len(parts) > 1 and parts[-1] != "__main__":
            expected.add(".".join(parts))
    assert imported == expected


def test_importing_the_package_alone_does_not_need_requests():
    # The OBS script imports the package first to explain a missing `requests`.
    result = run_python("import ailicia_core, sys\nassert 'requests' not in sys.modules, 'requests imported'")
    assert result.returncode == 0, result.stderr
