"""Debian's chromium driven by Playwright (its own browser download does not work here), and where screenshots go."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Playwright

SCREENSHOTS = Path(__file__).resolve().parent.parent / "output" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        # `make test` installs it where it can (as root); anywhere else say how.
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium (as root), or `make test`")
    return found


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)


def screenshot_path(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
