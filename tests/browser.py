"""Headless Chromium for the page tests (Debian's chromium + chromium-driver, driven by selenium)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
#: Mark a page test module: skipped (with the install hint) where the browser is absent.
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no chromium/chromedriver on PATH (apt-get install chromium chromium-driver)",
)
# No background connections: this machine's network is closed and they would be refused.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def chrome(profile_dir: Path, prefs: dict[str, Any] | None = None) -> Any:
    """A fresh headless Chromium with its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
