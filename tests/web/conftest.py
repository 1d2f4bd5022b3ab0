"""Fixtures for the dashboard's tests: its app over the test database, and httpx clients signed in or not.

Pages are tested through httpx against the ASGI app (no browser, no socket): `signed_in` is a
client of a signed-in owner; every state-changing request it sends must carry the CSRF token,
as a form field (`form_with_csrf`) or the `X-CSRF-Token` header (`csrf_headers`).
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Iterator

import httpx
from argon2 import PasswordHasher, profiles
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bot.contact_commands import ContactCommands
from bot.pipeline import ReplySender
from bot.post_commands import PostCommands
from bot.publisher import Publisher
from bot.queue_commands import QueueCommands
from bot.report import ReportCommands
from bot.scheduler import PostScheduler
from bot.web.app import create_app
from bot.web.context import WebContext
from bot.web.passwords import PasswordStore
from brain.service import Brain
from connectors.console import ConsoleConnector
from core.config import Settings
from fakes.generator import ScriptedGenerator

PASSWORD = "correct horse battery staple"
BASE_URL = "http://dashboard.test"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def _no_notice(platform: str, text: str) -> None:
    pass


@pytest.fixture
def console_out() -> io.StringIO:
    """What the console connector of `web_context` printed: the replies the dashboard sent."""
    return io.StringIO()


@pytest.fixture
def web_context(settings: Settings, engine: Engine, console_out: io.StringIO) -> Iterator[WebContext]:
    """The bot's parts as `bot run` wires them (bot/app.py), on the console connector, with the
    real brain loading nothing until asked and an instant scripted language model."""
    connectors = {"console": ConsoleConnector("owner", stdin=io.StringIO(), stdout=console_out, prompt=False)}
    brain = Brain(settings, generator=ScriptedGenerator("Thanks for writing to us!"))
    sender = ReplySender(engine, connectors)
    publisher = Publisher(engine, connectors, settings.schedule, _no_notice)
    scheduler = PostScheduler(engine, publisher, settings.schedule, _no_notice)
    yield WebContext(
        settings=settings,
        engine=engine,
        queue=QueueCommands(engine, sender, brain.known_labels),
        posts=PostCommands(engine, brain, scheduler, settings),
        reports=ReportCommands(engine, settings),
        contacts=ContactCommands(engine),
        brain=brain,
        connectors=connectors,
    )
    brain.close()


@pytest.fixture
def web_app(web_context: WebContext) -> Starlette:
    """The dashboard with the owner's password (PASSWORD) set."""
    # The cheapest argon2 parameters: the real cost takes a second a hash on a busy test machine.
    PasswordStore(web_context.settings.data_dir, PasswordHasher.from_parameters(profiles.CHEAPEST)).set(PASSWORD)
    return create_app(web_context)


@pytest.fixture
async def anonymous(web_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that has not signed in (it follows no redirects, so tests see them)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url=BASE_URL) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    token = await csrf_token(client, "/signin")
    return await client.post("/signin", data={"password": password, "csrf_token": token})


async def csrf_token(client: httpx.AsyncClient, path: str = "/inbox") -> str:
    """The CSRF token of the client's session, as a page shows it."""
    page = await client.get(path)
    found = CSRF_META.search(page.text)
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


async def form_with_csrf(client: httpx.AsyncClient, data: dict[str, str] | None = None) -> dict[str, str]:
    return {**(data or {}), "csrf_token": await csrf_token(client)}


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": await csrf_token(client)}


@pytest.fixture
async def signed_in(web_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of the owner, signed in."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url=BASE_URL) as client:
        answer = await sign_in(client)
        assert answer.status_code == 303, answer.text
        yield client
