"""Debian's chromium driven by Playwright (its own browser download does not work here), the bot it talks to
(on the fake Telegram server, the owner's password set), and where screenshots go."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from playwright.async_api import Browser, Page, Playwright, async_playwright

from bot.app import App
from bot.web.passwords import PasswordStore
from connectors.telegram import TelegramConnector
from fakes.app import running, telegram_settings
from fakes.telegram_api import FakeTelegram
from tests.web.conftest import PASSWORD

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


async def shoot(page: Page, name: str) -> None:
    await page.screenshot(path=screenshot_path(name), full_page=True)


@dataclass(frozen=True)
class Dashboard:
    app: App
    browser: Browser
    url: str


@asynccontextmanager
async def dashboard(config_file: Path, fake: FakeTelegram) -> AsyncIterator[Dashboard]:
    """The bot running on the fake Telegram server (started by the caller) with its dashboard up, the owner's
    password set (cheap to hash) and chromium open; closed at the end."""
    settings = telegram_settings(config_file, fake)
    PasswordStore(settings.data_dir, PasswordHasher.from_parameters(profiles.CHEAPEST)).set(PASSWORD)
    async with running(settings, TelegramConnector(settings.telegram, token=fake.token)) as app, async_playwright() as pw:
        while app.web is None or app.web._task is None:
            await fake.wait_for("getUpdates", timeout=20)
        browser = await launch(pw)
        try:
            yield Dashboard(app, browser, app.web.url)
        finally:
            await browser.close()
