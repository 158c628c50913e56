"""The size limits hold: small modules, the worker at most 300 lines, typed commands."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ailicia_core import commands, intake

CORE = Path(__file__).resolve().parents[2] / "ailicia_core"


def test_no_core_module_is_over_400_lines_and_the_worker_is_at_most_300():
    sizes = {
        p.relative_to(CORE).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in CORE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 400} == {}
    assert sizes["worker.py"] <= 300


def test_every_command_has_a_handler_dispatched_by_type():
    typed = {c for c in vars(commands).values() if isinstance(c, type) and c.__module__ == commands.__name__}
    assert typed == set(intake.COMMANDS)


def test_no_file_refers_to_this_projects_issue_numbers():
    """History belongs in git: code, tests and documents say why, not which issue asked for it.
    Citations of other projects' issues ("obs-studio issues #11461", "cpython#91913") are sources, not history."""
    root = Path(__file__).resolve().parents[2]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    mention = re.compile(r"\bissues? #?\d+\b", re.IGNORECASE)
    upstream = re.compile(r"(obs-studio|cpython|upstream)[^.\n]{0,40}issues? #?\d+", re.IGNORECASE)
    found = []
    for name in tracked:
        path = root / name
        if path.suffix not in {".py", ".md", ".txt", ".toml", ".sh", ""} or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if mention.search(upstream.sub("", line)):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert found == [], "\n".join(found)


def test_every_test_file_has_its_own_base_name():
    """pytest imports test files by base name (no packages under tests/): two alike stop collection."""
    tests = Path(__file__).resolve().parents[1]
    names = sorted(p.name for p in tests.rglob("test_*.py"))
    assert sorted({n for n in names if names.count(n) > 1}) == []
