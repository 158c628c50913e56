"""Real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium.

Where Chromium, its driver or selenium is missing the tests skip with the reason;
under ``CI=true`` they fail instead, since CI installs them (``scripts/setup-system``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from browser_support import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, DOCK_WINDOW, IN_CI


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium per test module, with a fresh profile; quit afterwards."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            _unavailable(f"{path} is missing: run scripts/setup-system as root")
    try:
        from selenium import webdriver
    except ImportError:
        _unavailable("selenium is not installed: pip install -r requirements-dev.txt")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a browser online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={DOCK_WINDOW[0]},{DOCK_WINDOW[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
