"""The size limits hold: small modules, the worker at most 300 lines, typed commands."""

from __future__ import annotations

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
