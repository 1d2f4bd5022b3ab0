"""All wiring in one place: settings, database, brain and connectors, opened and closed once."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from sqlalchemy.engine import Engine

from bot.commands import OwnerCommands
from core.config import Settings
from bot.inbox import StoreFirstInbox
from bot.moderation_commands import ModerationCommands
from bot.post_media import PostMediaCommands
from bot.pipeline import FollowerPipeline, ReplySender
from bot.post_commands import PostCommands
from bot.publisher import Publisher
from bot.queue_commands import QueueCommands
from bot.report import ReportCommands
from bot.scheduler import PostScheduler
from bot.web.server import WebServer
from bot.worker import MessageWorker
from brain.service import Brain
from connectors.base import Connector, IncomingMessage
from storage.db import make_engine

log = logging.getLogger(__name__)


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
        self.worker: MessageWorker | None = None
        self.inbox: StoreFirstInbox | None = None
        # The owner's command sets; the chat commands and the dashboard call the same ones.
        self.queue: QueueCommands | None = None
        self.posts: PostCommands | None = None
        self.reports: ReportCommands | None = None
        self.web: WebServer | None = None
        # The owner's commands, run one at a time; each waits for the follower messages stored before it.
        self._owner_queue: asyncio.Queue[tuple[IncomingMessage, int]] = asyncio.Queue()
        self._stopping = False

    async def __aenter__(self) -> App:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.settings.database_url)
        await self.brain.load()
        sender = ReplySender(self.engine, self.connectors)
        self.pipeline = FollowerPipeline(self.settings, self.engine, self.brain, sender, self.notify_owner)
        self.worker = MessageWorker(self.engine, self.pipeline)
        self.inbox = StoreFirstInbox(
            self.engine, self.is_owner, self.worker.wake, lambda m, through: self._owner_queue.put_nowait((m, through))
        )
        publisher = Publisher(self.engine, self.connectors, self.settings.schedule, self.notify_about_post)
        self.scheduler = PostScheduler(self.engine, publisher, self.settings.schedule, self.notify_about_post)
        self.queue = QueueCommands(self.engine, sender, self.brain.known_labels)
        self.posts = PostCommands(self.engine, self.brain, self.scheduler, self.settings)
        self.reports = ReportCommands(self.engine, self.settings)
        # Every owner command set, listed explicitly.
        self.commands = OwnerCommands(
            self.brain,
            [
                self.queue,
                self.posts,
                self.reports,
                ModerationCommands(self.engine, self.connectors),
                PostMediaCommands(self.engine),
            ],
        )
        if self.settings.web.enabled:
            self.web = self._web_server()
        else:
            for connector in self.connectors.values():
                if connector.webhook_routes():
                    log.warning("%s delivers webhooks, but [web] enabled = false: nothing will receive them", connector.platform)
        return self

    def _web_server(self) -> WebServer:
        """The dashboard and every connector's webhooks on one port."""
        from bot.web.app import create_app
        from bot.web.context import WebContext

        webhooks = [route for connector in self.connectors.values() for route in connector.webhook_routes()]
        app = create_app(WebContext.from_app(self), webhooks)
        return WebServer(app, self.settings.web.listen, self.settings.web.port)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.web is not None:
            await self.web.stop()
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

    async def _run_owner_commands(self) -> None:
        """The owner's commands in the order they came. The one error hook: nothing here may stop the bot."""
        assert self.worker is not None and self.commands is not None
        while True:
            incoming, through = await self._owner_queue.get()
            connector = self.connectors[incoming.platform]
            try:
                await self.worker.caught_up(through)  # so /inbox sees every message that came before it
                await self.commands.handle(incoming, connector)
            except Exception:
                log.exception("handling message %s/%s failed", incoming.platform, incoming.message_id)
                try:
                    await connector.send_text(
                        self.owner_chat(incoming.platform), "something went wrong handling a message; see the log"
                    )
                except Exception:
                    log.exception("could not tell the owner about the failure")
            finally:
                self._owner_queue.task_done()

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
        """Start the worker (it first finishes what the last run left unfinished), every connector,
        then the post scheduler (it publishes through them), and return when any connector closes
        (Ctrl-D, /quit, stop()). When a connector's input ended, the stored work is finished
        first; after stop() it is left stored for the next start."""
        assert self.worker is not None and self.inbox is not None and self.scheduler is not None
        tasks = [
            asyncio.create_task(self.worker.run(), name="message-worker"),
            asyncio.create_task(self._run_owner_commands(), name="owner-commands"),
        ]
        try:
            for connector in self.connectors.values():
                await connector.start(self.inbox)
            if self.web is not None:
                await self.web.start()  # after the connectors, so a webhook that arrives finds them receiving
            await self.scheduler.start()
            log.info("bot running on %s", ", ".join(self.connectors))
            waits = [asyncio.create_task(c.wait_closed()) for c in self.connectors.values()]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
            await self._tell_failures()
            if not self._stopping:
                await self._owner_queue.join()
                await self.worker.drained()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _tell_failures(self) -> None:
        """A connector that stopped on its own (a revoked token) says why; the owner hears it on
        another connector where one runs, else in the log and on the command line."""
        for platform, connector in self.connectors.items():
            if connector.failure is None:
                continue
            log.error("%s", connector.failure)
            for other in self.connectors:
                if other != platform and self.connectors[other].failure is None and self.owner_chat(other):
                    try:
                        await self.notify_owner(other, connector.failure)
                        break
                    except Exception:
                        log.exception("could not tell the owner on %s", other)

    async def stop(self) -> None:
        """Stop receiving now (a service manager's SIGTERM); what is stored and unfinished waits for the next start."""
        self._stopping = True
        for connector in self.connectors.values():
            await connector.stop()


