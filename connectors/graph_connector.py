"""What the Facebook and Instagram connectors share: secrets from the environment, one Graph API
client, receiving by signed webhook or by polling with a stored cursor, and stopping on a dead token."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import httpx

from connectors.base import Connector, Cursor, Inbox, IncomingMessage
from connectors.delivery import Delivery, poll_forever
from connectors.facebook_events import CONVERSATION_FIELDS, POLL_CONVERSATIONS, conversation_messages
from connectors.graph_api import GraphClient, TokenInvalid, classify
from connectors.meta_webhooks import webhook_routes
from core.addressing import MessageKind, ReplyAddress
from core.config import GraphSettings
from core.errors import ConfigError, ConnectorError

log = logging.getLogger(__name__)


class GraphConnector(Connector):
    """A connector on Meta's Graph API. Subclasses say who they are (`_identify`), turn webhook
    payloads and polled pages into messages, and send."""

    settings: GraphSettings
    #: The config key naming the token's environment variable ("facebook.page_token_env").
    token_key: str
    #: The receive_cursor row of the polled receiving.
    cursor_name: str
    #: Which inbox the account's conversations are read from ("messenger", "instagram").
    conversations_platform: str

    def __init__(
        self, settings: GraphSettings, token_env: str, env: Mapping[str, str], http: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self.token_env = token_env
        token = env.get(token_env, "")
        if not token:
            raise ConfigError(f"{self.platform}: set the access token in the environment variable {token_env} ({self.token_key})")
        self.app_secret = env.get(settings.app_secret_env, "")
        self.verify_token = env.get(settings.verify_token_env, "")
        if settings.receive == "webhook":
            for value, name, key in (
                (self.app_secret, settings.app_secret_env, "app_secret_env"),
                (self.verify_token, settings.verify_token_env, "verify_token_env"),
            ):
                if not value:
                    raise ConfigError(
                        f"{self.platform}: receiving by webhook needs the environment variable {name} ({self.platform}.{key}); "
                        f"or set {self.platform}.receive = \"polling\""
                    )
        self.client = GraphClient(settings, token, self.app_secret, http, on_token_invalid=self._token_invalid)
        self.delivery = Delivery(self.platform, settings, classify)
        self.messaging_window = timedelta(hours=settings.messaging_window_hours)
        self._inbox: Inbox | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    # -- who we are, and a dead token ------------------------------------------------------

    @abstractmethod
    async def _identify(self) -> str:
        """Check the token against the account it is for; returns the account's name for the log."""

    def _token_invalid(self, error: TokenInvalid) -> None:
        """The token expired or was revoked: stop, and say what the owner has to do."""
        if self.failure is not None:
            return
        self.failure = (
            f"{self.platform} stopped: the token in ${self.token_env} ({self.token_key}) expired or was revoked "
            f"({error.body.describe()}). Make a new long-lived token as the README's "
            f"\"Connect {'a Facebook Page' if self.platform == 'facebook' else 'Instagram'}\" says, put it in "
            f"${self.token_env} and start the bot again."
        )
        log.error("%s", self.failure)
        self._stopping = asyncio.get_running_loop().create_task(self.stop())

    # -- receiving -------------------------------------------------------------------------

    async def start(self, inbox: Inbox) -> None:
        self._closed.clear()
        self.failure = None
        if self.client.http.is_closed:  # started again after stop()
            self.client.http = httpx.AsyncClient(timeout=self.settings.request_timeout_s)
        try:
            name = await self._identify()
        except ConnectorError:
            raise
        except httpx.HTTPError as exc:
            raise ConnectorError(
                f"{self.platform}: cannot reach {self.settings.base_url} ({self.platform}.base_url): {type(exc).__name__}: {exc}"
            ) from None
        self._inbox = inbox
        if self.settings.receive == "polling":
            if await inbox.cursor(self.cursor_name) is None:
                # Old comments are history, not questions: begin now, once (the cursor is stored).
                await inbox.store([], Cursor(self.cursor_name, str(int(time.time()))))
            self._poller = asyncio.create_task(self._poll(inbox), name=f"{self.platform}-poller")
        how = f"polling every {self.settings.poll_interval_s:.0f} s" if self.settings.receive == "polling" else (
            f"webhooks at {self.settings.webhook_path}"
        )
        log.info("%s connected as %s (Graph API %s; %s)", self.platform, name, self.settings.api_version, how)

    def webhook_routes(self) -> Sequence[Any]:
        if self.settings.receive != "webhook":
            return ()
        return webhook_routes(self.platform, self.settings.webhook_path, self.app_secret, self.verify_token, self._deliver)

    async def _deliver(self, payload: dict[str, Any]) -> None:
        inbox = self._inbox
        if inbox is None:
            raise ConnectorError(f"{self.platform} is not running")
        messages = await self.from_webhook(payload)
        if messages:
            await inbox.store(messages)

    @abstractmethod
    async def from_webhook(self, payload: dict[str, Any]) -> list[IncomingMessage]:
        """The messages for the bot in one verified delivery (none of the account's own)."""

    @property
    @abstractmethod
    def account(self) -> str:
        """The page's or account's id: whose posts, comments and conversations are read."""

    @abstractmethod
    async def poll_comments(self, since: int) -> tuple[list[IncomingMessage], int]:
        """Comments on the account's recent posts at or after `since` (unix time), none of the
        account's own, and the newest time seen."""

    async def poll_once(self, cursor: str) -> tuple[list[IncomingMessage], str]:
        """Comments and private messages at or after the cursor's time, oldest first; the cursor is
        the newest one's time, read again inclusively (each is stored once)."""
        since = int(cursor)
        found, newest = await self.poll_comments(since)
        conversations = await self.client.get(
            f"{self.account}/conversations", platform=self.conversations_platform, fields=CONVERSATION_FIELDS, limit=POLL_CONVERSATIONS
        )
        messages, newest_message = conversation_messages(conversations, self.account, self.platform, since)
        found.extend(messages)
        found.sort(key=lambda m: m.received_at)
        return found, str(max(newest, newest_message))

    async def _poll(self, inbox: Inbox) -> None:
        """Each round's messages are stored with the new cursor in one transaction."""
        cursor = await inbox.cursor(self.cursor_name) or str(int(time.time()))

        async def poll_round() -> bool:
            nonlocal cursor
            found, after = await self.poll_once(cursor)
            if found or after != cursor:
                await inbox.store(found, Cursor(self.cursor_name, after))
                cursor = after
            return True

        rest = lambda: asyncio.sleep(self.settings.poll_interval_s)  # noqa: E731
        await poll_forever(self.platform, poll_round, rest, classify, self.polled)

    # -- sending -------------------------------------------------------------------------

    async def _private_message(self, account: str, recipient: str, text: str, what: str, **extra: Any) -> str:
        """A private message from the page or account to one person (Messenger's and Direct's Send API)."""
        if not recipient:
            raise ConnectorError(f"{self.platform}: a {what} needs the person's id")
        sent = await self.delivery.send(
            recipient,
            what,
            lambda: self.client.post(f"{account}/messages", {"recipient": {"id": recipient}, **extra, "message": {"text": text}}),
        )
        return str(sent.get("message_id") or sent.get("id"))

    async def delete_comment(self, to: ReplyAddress) -> None:
        """DELETE /{comment-id}: on Facebook a comment on the page's posts, on Instagram on the account's."""
        if to.kind is not MessageKind.comment:
            raise ConnectorError(f"{self.platform}: only comments on the account's posts can be deleted, not a {to.kind}")
        await self.delivery.send(to.message_id, "delete comment", lambda: self.client.delete(to.message_id))

    async def stop(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None and poller is not asyncio.current_task():
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        self._inbox = None
        await self.client.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()
