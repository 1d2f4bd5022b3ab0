"""All wiring in one place: settings, database, brain and connectors, opened and closed once."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from sqlalchemy.engine import Engine

from bot.commands import OwnerCommands
from bot.config import Settings
from bot.pipeline import FollowerPipeline, ReplySender
from bot.post_commands import PostCommands
from bot.publisher import Publisher
from bot.queue_commands import QueueCommands
from bot.report import ReportCommands
from bot.scheduler import PostScheduler
from brain.service import Brain
from connectors.base import Connector, IncomingMessage
from storage.db import make_engine

log = logging.getLogger(__name__)

# Followers may paste anything; we keep what a platform could plausibly send and no more.
MAX_MESSAGE_CHARS = 50_000


class App:
    """The running bot. Use as `async with App(settings, [connector]) as app: await app.run()`."""

    def __init__(self, settings: Settings, connectors: list[Connector], brain: Brain | None = None) -> None:
        self.settings = settings
        self.connectors = {c.platform: c for c in connectors}
        self.brain = brain or Brain(settings)
        self.engine: Engine | None = None
        self.pipeline: FollowerPipeline | None = None
        self.commands: OwnerCommands | None = None
        self.scheduler: PostScheduler | None = None

    async def __aenter__(self) -> App:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.settings.database_url)
        await self.brain.load()
        sender = ReplySender(self.engine, self.connectors)
        self.pipeline = FollowerPipeline(self.settings, self.engine, self.brain, sender, self.notify_owner)
        publisher = Publisher(self.engine, self.connectors, self.settings.schedule, self.notify_about_post)
        self.scheduler = PostScheduler(self.engine, publisher, self.settings.schedule)
        # Every owner command set, listed explicitly.
        self.commands = OwnerCommands(
            self.brain,
            [
                QueueCommands(self.engine, sender),
                PostCommands(self.engine, self.brain, self.scheduler, self.settings),
                ReportCommands(self.engine, self.settings),
            ],
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        for connector in self.connectors.values():
            await connector.stop()
        self.brain.close()
        if self.engine is not None:
            self.engine.dispose()

    def is_owner(self, incoming: IncomingMessage) -> bool:
        if incoming.platform == "console":
            return incoming.user_id == self.settings.console.owner_id
        return self.settings.is_owner(incoming.platform, incoming.user_id)

    async def on_message(self, incoming: IncomingMessage) -> None:
        """Route one incoming message. The one error hook: nothing here may stop the bot."""
        connector = self.connectors[incoming.platform]
        try:
            if not incoming.text.strip():
                log.info("empty message %s/%s skipped", incoming.platform, incoming.message_id)
                return
            if len(incoming.text) > MAX_MESSAGE_CHARS:
                incoming = _truncated(incoming)
            assert self.pipeline is not None and self.commands is not None
            if self.is_owner(incoming):
                await self.commands.handle(incoming, connector)
            else:
                await self.pipeline.handle(incoming)
        except Exception:
            log.exception("handling message %s/%s failed", incoming.platform, incoming.message_id)
            try:
                await connector.send_text(
                    self.owner_chat(incoming.platform), "something went wrong handling a message; see the log"
                )
            except Exception:
                log.exception("could not tell the owner about the failure")

    def owner_chat(self, platform: str) -> str:
        if platform == "console":
            return "owner"
        owners = self.settings.owners.get(platform, [])
        return str(owners[0]) if owners else ""

    async def notify_owner(self, platform: str, text: str) -> None:
        chat = self.owner_chat(platform)
        if not chat:
            log.warning("no owner configured for %s; notification dropped", platform)
            return
        await self.connectors[platform].send_text(chat, text)

    async def notify_about_post(self, platform: str, text: str) -> None:
        """Tell the owner about a post: where it was to be published, else on any connector."""
        await self.notify_owner(platform if platform in self.connectors else next(iter(self.connectors)), text)

    async def run(self) -> None:
        """Start every connector, then the post scheduler (it publishes through them), and return
        when any connector closes (Ctrl-D, /quit, stop())."""
        for connector in self.connectors.values():
            await connector.start(self.on_message)
        assert self.pipeline is not None and self.scheduler is not None
        await self.scheduler.start()
        resumed = await self.pipeline.resume()
        if resumed:
            log.info("finished %d messages left half-way by the last run", resumed)
        log.info("bot running on %s", ", ".join(self.connectors))
        waits = [asyncio.create_task(c.wait_closed()) for c in self.connectors.values()]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()


def _truncated(incoming: IncomingMessage) -> IncomingMessage:
    from dataclasses import replace

    log.warning("message %s/%s truncated from %d chars", incoming.platform, incoming.message_id, len(incoming.text))
    return replace(incoming, text=incoming.text[:MAX_MESSAGE_CHARS])
