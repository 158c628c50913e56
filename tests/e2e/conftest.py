"""Fixtures for the real-OBS tests: requirements, scenarios (sandbox + OBS), failure reports.

Where OBS, Xvfb, nginx-rtmp or python3-requests is missing the tests skip with
the reason; under ``CI=true`` they fail instead, since CI installs all of them.
A failed test's report carries the OBS, nginx and Xvfb log tails, the work
directory and the sandbox's traffic.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest
from obs_harness import AILICIA_SCRIPT, OBS, missing_requirements

IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true, so the real-OBS tests must run)", pytrace=False)
    pytest.skip(reason)


def pytest_report_header() -> str:
    return f"real-OBS tests run on {OBS.name} (AILICIA_OBS={OBS.label})"


@pytest.fixture(scope="session")
def real_obs() -> None:
    """Skips (fails under CI=true) unless real OBS can run here."""
    missing = missing_requirements()
    if missing:
        _unavailable(f"real-OBS tests need {', '.join(missing)}: run `bash scripts/setup-system` as root")
    if not AILICIA_SCRIPT.exists():
        _unavailable(f"{AILICIA_SCRIPT.name} is missing from the repository root")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or item.get_closest_marker("e2e") is None:
        return
    # Three OBS versions run the same tests: a failure names its own first.
    report.sections.insert(0, ("OBS under test", OBS.name))
    for value in getattr(item, "funcargs", {}).values():
        diagnose = getattr(value, "diagnostics", None)
        if callable(diagnose):
            try:
                text = diagnose()
            except Exception as exc:  # a report must never hide the failure it explains
                text = f"(diagnostics failed: {exc!r})"
            report.sections.append(("e2e diagnostics", text))
