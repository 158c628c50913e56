"""scripts/needs-system: `bash scripts/test` sets up apt packages only when the real-OBS tests will run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def needs_system(*args: str, **env: str) -> bool:
    environ = {k: v for k, v in os.environ.items() if k != "AILICIA_SETUP_SYSTEM"}
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "needs-system"), *args],
        cwd=REPO,
        timeout=30,
        env={**environ, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        (),  # the whole suite: CI's `bash scripts/test`
        ("-q",),
        ("-x", "-k", "live"),
        ("tests/e2e",),
        ("tests/e2e/test_live_session.py::test_happy_path",),
        ("tests",),
        (".",),
        ("tests/unit", "tests/e2e/test_wrong_key.py"),
        ("-m", "e2e", "tests/unit"),
        ("--markexpr=e2e", "tests/unit"),
    ],
)
def test_the_real_obs_tests_get_their_system_packages(args):
    assert needs_system(*args)


@pytest.mark.parametrize(
    "args",
    [
        ("tests/unit",),
        ("tests/unit", "-q"),
        ("tests/unit/test_vendoring.py::test_is_inside_needs_a_real_child_path",),
        ("tests/unit", "tests/glue", "tests/integration"),
        ("tests", "-m", "not e2e"),
    ],
)
def test_other_selections_never_touch_apt(args):
    assert not needs_system(*args)


def test_it_can_be_asked_for():
    assert needs_system("tests/unit", AILICIA_SETUP_SYSTEM="1")
