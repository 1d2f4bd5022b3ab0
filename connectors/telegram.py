"""Telegram connector on python-telegram-bot: private chats, group mentions, channel comments."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import ReplyParameters, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from core.config import Settings, TelegramSettings
from core.errors import ConfigError, ConnectorError, SettingRejected
from connectors.base import Connector, Cursor, IncomingMessage, Inbox, OutgoingPost
from core.addressing import ReplyAddress
from connectors.delivery import Delivery, Failure
from connectors.local_server import LocalServer
from connectors.telegram_updates import CommentThreads, PollingRequest, to_incoming

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message"]
# The name of getUpdates' offset in the receive_cursor table.
CURSOR = "telegram:get_updates"
# Waits after a failed getUpdates or a failed store, doubling up to the last.
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


def classify(exc: BaseException) -> Failure | None:
    """python-telegram-bot's exceptions in delivery terms."""
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # int-or-timedelta transition note; we accept both
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            wait = exc.retry_after
        return Failure(str(exc), retry_after=wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
    if isinstance(exc, (BadRequest, Forbidden, InvalidToken, Conflict, ChatMigrated)):
        return Failure(exc.message)
    if isinstance(exc, NetworkError):  # timeouts, 5xx, connection errors (BadRequest is handled above)
        return Failure(exc.message, retryable=True)
    if isinstance(exc, TelegramError):
        return Failure(exc.message)
    return None


def _checked_chat(to: ReplyAddress) -> str:
    """The chat a reply goes to, refused when it does not fit the address's visibility.

    Telegram's private chats have the user's (positive) id, groups and channels negative ones: a
    private message is never answered in a group, nor a group's message in someone's private chat."""
    try:
        chat = int(to.chat_id)
    except ValueError:
        raise ConnectorError(f"telegram: {to.chat_id!r} is not a chat id") from None
    if to.is_private != (chat > 0):
        where = "a private chat" if chat > 0 else "a group"
        raise ConnectorError(f"telegram: refusing to answer a {to.visibility} {to.kind} in {where} ({chat})")
    return to.chat_id


class TelegramConnector(Connector):
    platform = "telegram"

    def __init__(self, settings: TelegramSettings, token: str | None = None) -> None:
        self.settings = settings
        self.token = token if token is not None else os.environ.get(settings.token_env, "")
        if not self.token:
            raise ConfigError(f"telegram: set the bot token in the environment variable {settings.token_env}")
        self.secret = os.environ.get(settings.webhook_secret_env, "")
        if settings.mode == "webhook" and not (settings.webhook_url and self.secret):
            raise ConfigError(
                f"telegram webhook mode needs telegram.webhook_url and a secret in ${settings.webhook_secret_env}"
            )
        self.delivery = Delivery(self.platform, settings, classify)
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._inbox: Inbox | None = None
        self._poller: asyncio.Task[None] | None = None
        self._web: LocalServer | None = None
        self._closed = asyncio.Event()
        self._threads = CommentThreads()

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._closed.clear()
        s = self.settings
        requests = (HTTPXRequest(), PollingRequest())
        builder = ApplicationBuilder().token(self.token).base_url(s.base_url)
        # No Updater: it confirms a batch (by polling again) before the batch is stored. Our own
        # loop stores each batch with its next offset, and only then asks for more.
        builder = builder.request(requests[0]).get_updates_request(requests[1]).updater(None)
        app = builder.build()
        try:
            await app.initialize()  # getMe: checks the token
        except TelegramError as exc:
            for request in requests:  # the library leaves them open when getMe fails
                await request.shutdown()
            if isinstance(exc, InvalidToken):
                raise SettingRejected(
                    f"telegram rejected the bot token in ${s.token_env}; check it with @BotFather"
                ) from None
            raise ConnectorError(f"telegram: cannot reach the Bot API at {s.base_url}: {exc.message}") from None
        self.application = app
        if s.mode == "polling":
            try:
                await app.bot.delete_webhook()  # Telegram refuses getUpdates while a webhook is set
            except TelegramError as exc:
                raise ConnectorError(f"telegram: cannot switch to polling: {exc.message}") from None
            self._poller = asyncio.create_task(self._poll(inbox), name="telegram-poller")
        else:
            await self._start_webhook(app)
        log.info("telegram connected as @%s (%s)", app.bot.username, s.mode)

    async def _start_webhook(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        s = self.settings
        server = web.Application()
        server.router.add_post(s.webhook_path, self._webhook)
        self._web = LocalServer(server, s.webhook_listen, s.webhook_port)
        await self._web.start()
        try:
            await app.bot.set_webhook(url=s.webhook_url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:
            raise SettingRejected(f"telegram refused the webhook {s.webhook_url} (telegram.webhook_url): {exc.message}") from None

    @property
    def webhook_port(self) -> int:
        """The port the webhook listens on (the real one when config says 0)."""
        assert self._web is not None
        return self._web.port

    async def _webhook(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), self.secret):
            log.warning("telegram webhook call without the right secret token refused")
            return web.Response(status=403)
        assert self.application is not None and self._inbox is not None
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except Exception as exc:
            # Answer 200 anyway: Telegram would only send the same bad update again.
            log.warning("telegram webhook update is malformed and ignored: %s", type(exc).__name__)
            return web.Response()
        try:
            await self._inbox.store(self._incoming([update]))
        except Exception:
            # Not stored, so not acknowledged: Telegram sends the update again later.
            log.exception("telegram webhook update %s could not be stored; answered 500", update.update_id)
            return web.Response(status=500)
        return web.Response()

    async def _poll(self, inbox: Inbox) -> None:
        """getUpdates in a loop; a batch is stored with its next offset before the next call confirms it."""
        assert self.application is not None
        bot = self.application.bot
        stored = await inbox.cursor(CURSOR)
        offset = int(stored) if stored else None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=timedelta(seconds=self.settings.poll_timeout_s), allowed_updates=ALLOWED_UPDATES
                )
                if updates:
                    next_offset = updates[-1].update_id + 1
                    await inbox.store(self._incoming(updates), Cursor(CURSOR, str(next_offset)))
                    offset = next_offset
                failures = 0
                self.polled()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                what = exc.message if isinstance(exc, TelegramError) else f"{type(exc).__name__}: {exc}"
                self.polled(what)
                # Nothing of this batch is confirmed: the same updates come again.
                log.warning("telegram polling failed (%s); trying again in %.1f s", what, wait)
                await asyncio.sleep(wait)

    def _incoming(self, updates: list[Update]) -> list[IncomingMessage]:
        """The updates' messages for the bot, in order; one that cannot be read is logged and skipped."""
        assert self.application is not None
        me = self.application.bot.bot
        found: list[IncomingMessage] = []
        for update in updates:
            message = update.message
            if message is None:
                if update.to_dict().keys() - {"update_id"}:
                    log.debug("telegram update %s is not a message; skipped", update.update_id)
                continue
            try:
                incoming = to_incoming(update, message, me, self._threads)
            except Exception:
                log.exception("telegram update %s could not be read and is skipped", update.update_id)
                continue
            if incoming is not None:
                found.append(incoming)
        return found

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.stop()
            self._web = None
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        app, self.application = self.application, None
        if app is not None:
            await app.shutdown()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def _bot(self) -> Any:
        if self.application is None:
            raise ConnectorError("telegram connector is not started")
        return self.application.bot

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        chat = _checked_chat(to)
        bot = self._bot()
        reply_to = ReplyParameters(message_id=int(to.message_id), allow_sending_without_reply=True)
        sent = await self.delivery.send(
            chat, "reply", lambda: bot.send_message(chat_id=chat, text=text, reply_parameters=reply_to)
        )
        return f"{sent.chat.id}:{sent.message_id}"

    async def send_text(self, chat_id: str, text: str) -> str:
        bot = self._bot()
        sent = await self.delivery.send(chat_id, "message", lambda: bot.send_message(chat_id=chat_id, text=text))
        return f"{sent.chat.id}:{sent.message_id}"

    async def publish(self, post: OutgoingPost) -> str:
        channel = self.settings.channel
        if not channel:
            raise ConfigError("telegram.channel is not set: no channel to publish to")
        bot = self._bot()
        if post.image_path:
            try:
                photo = Path(post.image_path).read_bytes()  # bytes, so a retry can send them again
            except OSError as exc:
                raise ConnectorError(f"telegram post image {post.image_path}: {exc.strerror}") from None
            sent = await self.delivery.send(
                channel, "photo post", lambda: bot.send_photo(chat_id=channel, photo=photo, caption=post.text)
            )
        else:
            sent = await self.delivery.send(channel, "post", lambda: bot.send_message(chat_id=channel, text=post.text))
        return f"{sent.chat.id}:{sent.message_id}"


def from_settings(settings: Settings) -> TelegramConnector:
    """The telegram connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return TelegramConnector(settings.telegram)
