"""Running a real App with a connector and the stand-in brain, for connector tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.app import App
from core.config import Settings, load_settings
from brain.service import Brain
from connectors.base import Connector
from storage import repo
from storage.models import Message, MessageStatus, Reply, ReplyStatus
from fakes.generator import ScriptedGenerator
from fakes.slack_api import OWNER as SLACK_OWNER, FakeSlack
from fakes.telegram_api import FakeTelegram

# What the stand-in language model says to everyone; the rest of the brain is real.
REPLY = "Hello from Acme!"

# Send limits and backoff that keep tests fast; the rules are the same as with the defaults.
FAST_DELIVERY = """
per_chat_per_s = 1000.0
overall_per_s = 1000.0
retry_backoff_s = 0.01
"""


def settings_with(config_file: Path, extra_toml: str) -> Settings:
    """The test config with more sections appended (each test's own platform settings)."""
    config_file.write_text(config_file.read_text(encoding="utf-8") + "\n" + extra_toml, encoding="utf-8")
    return load_settings(config_file)


def telegram_settings(config_file: Path, fake: FakeTelegram, extra: str = "") -> Settings:
    return settings_with(
        config_file,
        f"""
[telegram]
base_url = "{fake.base_url}"
channel = "@acme"
poll_timeout_s = 1
{FAST_DELIVERY}
{extra}
""",
    )


def slack_settings(config_file: Path, fake: FakeSlack, extra: str = "") -> Settings:
    text = config_file.read_text(encoding="utf-8").replace("[owners]\n", f'[owners]\nslack = ["{SLACK_OWNER}"]\n')
    config_file.write_text(text, encoding="utf-8")
    return settings_with(
        config_file,
        f"""
[slack]
base_url = "{fake.base_url}"
channel = "C0POSTS1"
{FAST_DELIVERY}
{extra}
""",
    )


@asynccontextmanager
async def running(
    settings: Settings, connector: Connector | Sequence[Connector], generator: ScriptedGenerator | None = None
) -> AsyncIterator[App]:
    """The App running on `connector` (or several at once) until the block ends; when none could
    start, the error is raised here. One connector is closed at the end (the stored work is
    finished first, as after Ctrl-D); several are stopped as by SIGTERM.

    The brain is the real one (encoder, classifier, policy) with an instant scripted generator."""
    brain = Brain(settings, generator=generator or ScriptedGenerator(REPLY))
    connectors = [connector] if isinstance(connector, Connector) else list(connector)
    async with App(settings, connectors, brain=brain) as app:
        task = asyncio.create_task(app.run())
        await asyncio.sleep(0)
        try:
            yield app
        finally:
            if isinstance(connector, Connector):
                await connector.stop()
            else:
                await app.stop()
            await asyncio.wait_for(task, 10)


# A 1x1 PNG: the smallest real image a platform accepts, for posts with an image.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f0"
    "1f0005000201a5f1d6a50000000049454e44ae426082"
)


def stored_messages(app: App) -> list[Message]:
    assert app.engine is not None
    return list(repo.list_messages(app.engine))


async def wait_stored(app: App, count: int, timeout: float = 20.0) -> list[Message]:
    """The stored messages, once there are at least `count`."""

    async def poll() -> list[Message]:
        while len(found := stored_messages(app)) < count:
            await asyncio.sleep(0.02)
        return found

    return await asyncio.wait_for(poll(), timeout)


async def wait_status(app: App, status: MessageStatus, timeout: float = 10.0) -> list[Message]:
    """The stored messages in `status`, once there is at least one."""
    assert app.engine is not None
    engine: Engine = app.engine

    async def poll() -> list[Message]:
        while not (found := list(repo.list_messages(engine, status=status))):
            await asyncio.sleep(0.02)
        return found

    return await asyncio.wait_for(poll(), timeout)


async def wait_failed_send(app: App, timeout: float = 10.0) -> Reply:
    """The first reply whose sending failed: it is back in the owner's queue with the platform's reason."""
    assert app.engine is not None
    engine: Engine = app.engine

    async def poll() -> Reply:
        while True:
            for reply in repo.list_replies(engine, status=ReplyStatus.pending):
                if reply.error:
                    message = repo.get_message(engine, reply.message_id)
                    assert message is not None and message.status == MessageStatus.pending
                    return reply
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout)


async def web_url(app: App, timeout: float = 20.0) -> str:
    """The address of the bot's HTTP server (dashboard and webhooks), once it is listening."""

    async def poll() -> str:
        while app.web is None or app.web._task is None:  # it starts once the connectors did
            await asyncio.sleep(0.02)
        return app.web.url

    return await asyncio.wait_for(poll(), timeout)
