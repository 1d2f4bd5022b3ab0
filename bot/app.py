"""All wiring in one place: settings, database, brain and connectors, opened and closed once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Engine

from bot.commands import OwnerCommands
from bot.connections import Connections
from core.config import Settings
from bot.inbox import StoreFirstInbox
from bot.contact_commands import ContactCommands
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
from core.addressing import Visibility
from storage.db import make_engine

log = logging.getLogger(__name__)


class App:
    """The running bot. Use as `async with App(settings, connectors) as app: await app.run()`: every
    connector shares the one database, brain, worker and scheduler."""

    def __init__(
        self,
        settings: Settings,
        connectors: list[Connector],
        brain: Brain | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        # Where the owner is told the dashboard's address once it listens (`bot run` prints it).
        self.announce = announce
        self.connectors = {c.platform: c for c in connectors}
        self.connections = Connections(self.connectors, settings.connectors, self._tell_owner, self._connected)
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
        self.contacts: ContactCommands | None = None
        self.web: WebServer | None = None
        # The owner's commands, run one at a time; each waits for the follower messages stored before it.
        self._owner_queue: asyncio.Queue[tuple[IncomingMessage, int]] = asyncio.Queue()
        self._stopping = False

    async def __aenter__(self) -> App:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.settings.database_url)
        await self.brain.load()
        # Replies and posts go through the connectors that are up now (a down one's wait).
        sender = ReplySender(self.engine, self.connections.live)
        self.pipeline = FollowerPipeline(self.settings, self.engine, self.brain, sender, self.notify_owner)
        self.worker = MessageWorker(self.engine, self.pipeline)
        self.inbox = StoreFirstInbox(
            self.engine, self.is_owner, self.worker.wake, lambda m, through: self._owner_queue.put_nowait((m, through))
        )
        publisher = Publisher(
            self.engine, self.connections.live, self.settings.schedule, self.notify_owner, coming=self.connectors
        )
        self.scheduler = PostScheduler(self.engine, publisher, self.settings.schedule, self.notify_owner)
        self.queue = QueueCommands(self.engine, sender, self.brain.known_labels)
        self.posts = PostCommands(self.engine, self.brain, self.scheduler, self.settings)
        self.reports = ReportCommands(self.engine, self.settings)
        self.contacts = ContactCommands(self.engine)
        # Every owner command set, listed explicitly.
        self.commands = OwnerCommands(
            self.brain,
            [
                self.queue,
                self.posts,
                self.reports,
                self.contacts,
                ModerationCommands(self.engine, self.connectors),
                PostMediaCommands(self.engine),
            ],
        )
        webhooks = [route for connector in self.connectors.values() for route in connector.webhook_routes()]
        if self.settings.web.enabled:
            self.web = self._web_server(webhooks)
        elif webhooks:
            # No dashboard: the platforms' webhooks alone, still on [web] listen/port.
            from starlette.applications import Starlette

            self.web = WebServer(Starlette(routes=webhooks), self.settings.web.listen, self.settings.web.port, "webhooks")
        return self

    def _web_server(self, webhooks: list[Any]) -> WebServer:
        """The dashboard and every connector's webhooks on one port."""
        from bot.web.app import create_app
        from bot.web.context import WebContext

        app = create_app(WebContext.from_app(self), webhooks)
        return WebServer(app, self.settings.web.listen, self.settings.web.port)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.web is not None:
            await self.web.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.connections.stop()
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
                await self.commands.handle(incoming, connector, self._answer_owner)
            except Exception:
                log.exception("handling message %s/%s failed", incoming.platform, incoming.message_id)
                await self.notify_owner(incoming.platform, "something went wrong handling a message; see the log")
            finally:
                self._owner_queue.task_done()

    async def _answer_owner(self, incoming: IncomingMessage, connector: Connector, text: str) -> None:
        """Where the owner wrote, unless anyone can read it there (a public mention on Mastodon or
        Bluesky): the inbox, drafts and reports then go to the owner privately, as notices do."""
        if incoming.visibility in (Visibility.public, Visibility.unlisted):
            await self.notify_owner(incoming.platform, text)
        else:
            await connector.send_reply(incoming.reply_to, text)

    def owner_chat(self, platform: str) -> str:
        if platform == "console":
            return "owner"  # the console's own name for the owner's side of the screen
        owners = self.settings.owners.get(platform, [])
        return str(owners[0]) if owners else ""

    async def notify_owner(self, platform: str, text: str) -> None:
        """Tell the owner about something that happened on `platform`: on every connector of
        [owner] notify that is up; when none is set or up, where it happened, else on the first
        running connector that can reach the owner (Bluesky, say, has no private messages)."""
        chosen = [p for p in self.settings.owner.notify if p in self.connections.live]
        if chosen:
            told = [p for p in chosen if await self._send_owner(p, text)]
            if told:
                return
        for other in [platform, *self.connections.live]:
            if other in self.connections.live and await self._send_owner(other, text):
                return
        log.warning("no connector could reach the owner; notice kept in the log only: %s", text)

    async def _send_owner(self, platform: str, text: str) -> bool:
        chat = self.owner_chat(platform)
        if not chat:
            return False
        try:
            await self.connections.live[platform].send_text(chat, text)
        except Exception as exc:
            log.warning("could not tell the owner on %s: %s", platform, exc)
            return False
        return True

    def _connected(self, connector: Connector) -> None:
        """A platform that says its own post length (Mastodon's instance) sets it for drafts and /compose."""
        limit = connector.post_length_limit()
        if limit is not None:
            self.settings.brand.length_limits[connector.platform] = limit

    async def _tell_owner(self, text: str) -> None:
        """A notice about the connectors themselves, which happened on no platform in particular."""
        await self.notify_owner("", text)

    async def run(self) -> None:
        """Start the worker (it first finishes what the last run left unfinished), every connector
        (bot/connections.py: one that cannot start is retried in the background), then the post
        scheduler (it publishes through them), and return when a running connector closes (Ctrl-D,
        /quit, stop()). When a connector's input ended, the stored work is finished first; after
        stop() it is left stored for the next start. Raises when no connector can run at all."""
        assert self.worker is not None and self.inbox is not None and self.scheduler is not None
        tasks = [
            asyncio.create_task(self.worker.run(), name="message-worker"),
            asyncio.create_task(self._run_owner_commands(), name="owner-commands"),
        ]
        try:
            await self.connections.start(self.inbox)
            # After the connectors, so a webhook that arrives finds them receiving. The address is
            # told only once the server listens; a taken port is one line in the log (bot/web/server.py).
            if self.web is not None and await self.web.start() and self.settings.web.enabled and self.announce:
                self.announce(f"Dashboard: {self.web.url} (password: `bot web set-password`)")
            await self.scheduler.start()
            log.info("bot running on %s", ", ".join(self.connections.live) or "nothing yet (retrying)")
            await self.connections.wait_closed()
            if not self._stopping:
                await self._owner_queue.join()
                await self.worker.drained()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop receiving now (a service manager's SIGTERM); what is stored and unfinished waits for the next start."""
        self._stopping = True
        await self.connections.stop()
