"""Telegram connector on python-telegram-bot: private chats, group mentions, channel comments."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import Message, MessageEntity, ReplyParameters, Update
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
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.config import TelegramSettings
from bot.errors import ConfigError, ConnectorError
from connectors.base import Connector, IncomingMessage, MessageHandler, OutgoingPost
from connectors.delivery import Delivery, Failure
from connectors.local_server import LocalServer

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message"]


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


def _sanitize_updates(payload: bytes) -> bytes:
    """Replace each update the library cannot parse by a bare `{"update_id": N}`.

    One bad update would otherwise fail the whole getUpdates batch, again on every poll; the
    bare stand-in keeps the offset moving and is ignored downstream."""
    try:
        data = json.loads(payload)
        updates = data["result"]
    except (ValueError, KeyError, TypeError):
        return payload
    if not isinstance(updates, list):
        return payload
    changed = False
    for i, raw in enumerate(updates):
        try:
            Update.de_json(raw, None)
        except Exception as exc:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            log.warning("telegram update %s is malformed and ignored: %s", update_id, type(exc).__name__)
            updates[i] = {"update_id": update_id} if isinstance(update_id, int) else None
            changed = True
    if not changed:
        return payload
    data["result"] = [u for u in updates if u is not None]
    return json.dumps(data).encode()


class _PollingRequest(HTTPXRequest):
    """The getUpdates transport, with unparseable updates taken out before the library sees them."""

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, *args, **kwargs)
        if code == 200 and url.endswith("/getUpdates"):
            payload = _sanitize_updates(payload)
        return code, payload


def _split_id(platform_id: str) -> tuple[str, int]:
    """Our message ids are "chat:message", since Telegram numbers messages per chat."""
    chat, _, message = platform_id.rpartition(":")
    return chat, int(message)


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
        self._on_message: MessageHandler | None = None
        self._web: LocalServer | None = None
        self._closed = asyncio.Event()

    async def start(self, on_message: MessageHandler) -> None:
        self._on_message = on_message
        self._closed.clear()
        s = self.settings
        requests = (HTTPXRequest(), _PollingRequest())
        builder = ApplicationBuilder().token(self.token).base_url(s.base_url)
        builder = builder.request(requests[0]).get_updates_request(requests[1])
        if s.mode == "webhook":
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._handle_update))
        app.add_error_handler(self._on_error)
        try:
            await app.initialize()  # getMe: checks the token
        except TelegramError as exc:
            for request in requests:  # the library leaves them open when getMe fails
                await request.shutdown()
            if isinstance(exc, InvalidToken):
                raise ConnectorError(
                    f"telegram rejected the bot token in ${s.token_env}; check it with @BotFather"
                ) from None
            raise ConnectorError(f"telegram: cannot reach the Bot API at {s.base_url}: {exc.message}") from None
        self.application = app
        await app.start()
        if s.mode == "polling":
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=timedelta(seconds=s.poll_timeout_s), allowed_updates=ALLOWED_UPDATES
            )
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
            raise ConnectorError(f"telegram refused the webhook {s.webhook_url}: {exc.message}") from None

    @property
    def webhook_port(self) -> int:
        """The port the webhook listens on (the real one when config says 0)."""
        assert self._web is not None
        return self._web.port

    async def _webhook(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, ""), self.secret):
            log.warning("telegram webhook call without the right secret token refused")
            return web.Response(status=403)
        assert self.application is not None
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except Exception as exc:
            # Answer 200 anyway: Telegram would only send the same bad update again.
            log.warning("telegram webhook update is malformed and ignored: %s", type(exc).__name__)
            return web.Response()
        await self.application.update_queue.put(update)
        return web.Response()

    async def _handle_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            if update.to_dict().keys() - {"update_id"}:
                log.debug("telegram update %s is not a message; skipped", update.update_id)
            return
        incoming = self._to_incoming(update, message)
        if incoming is not None and self._on_message is not None:
            await self._on_message(incoming)

    def _to_incoming(self, update: Update, message: Message) -> IncomingMessage | None:
        user = message.from_user
        if message.chat is None or message.date is None or not isinstance(message.message_id, int):
            log.warning("telegram update %s is malformed and ignored: no chat, date or id", update.update_id)
            return None
        text = message.text or message.caption
        if user is None or user.is_bot or message.is_automatic_forward or not text:
            return None  # channel forwards, other bots, stickers and the like
        if message.chat.type != "private" and not self._addressed_to_bot(message):
            return None
        return IncomingMessage(
            platform=self.platform,
            message_id=f"{message.chat.id}:{message.message_id}",
            chat_id=str(message.chat.id),
            user_id=str(user.id),
            user_name=user.username or user.full_name,
            text=self._without_mention(text),
            received_at=message.date,
            raw=update.to_dict(),
        )

    def _addressed_to_bot(self, message: Message) -> bool:
        """In a group: a mention of the bot, a reply to it, or a comment under a channel post."""
        bot = self.application.bot if self.application else None
        replied = message.reply_to_message
        if replied is not None:
            if replied.is_automatic_forward or (
                replied.sender_chat is not None and replied.sender_chat.type == "channel"
            ):
                return True
            if bot is not None and replied.from_user is not None and replied.from_user.id == bot.id:
                return True
        if bot is None:
            return False
        entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        entities |= message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        return any(
            (e.type == MessageEntity.MENTION and t.lower() == f"@{bot.username}".lower())
            or (e.user is not None and e.user.id == bot.id)
            for e, t in entities.items()
        )

    def _without_mention(self, text: str) -> str:
        bot = self.application.bot if self.application else None
        if bot is None or not bot.username:
            return text
        stripped = re.sub(rf"\s*@{re.escape(bot.username)}\b", "", text, flags=re.IGNORECASE).strip()
        return stripped or text

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update handling failed", exc_info=context.error)

    async def stop(self) -> None:
        app, self.application = self.application, None
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        if self._web is not None:
            await self._web.stop()
            self._web = None
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def _bot(self) -> Any:
        if self.application is None:
            raise ConnectorError("telegram connector is not started")
        return self.application.bot

    async def send_reply(self, to: IncomingMessage, text: str) -> str:
        chat, message_id = _split_id(to.message_id)
        bot = self._bot()
        reply_to = ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
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
