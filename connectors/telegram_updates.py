"""Telegram updates in project terms: which messages are for the bot, and which are malformed."""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from datetime import datetime
from typing import Any

from telegram import Message, MessageEntity, Update, User
from telegram.request import HTTPXRequest

from connectors.base import IncomingMessage
from core.addressing import MessageKind, ReplyAddress, Visibility

log = logging.getLogger(__name__)

PLATFORM = "telegram"


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


class PollingRequest(HTTPXRequest):
    """The getUpdates transport, with unparseable updates taken out before the library sees them."""

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, *args, **kwargs)
        if code == 200 and url.endswith("/getUpdates"):
            payload = _sanitize_updates(payload)
        return code, payload


class CommentThreads:
    """The comment threads under channel posts in discussion groups, as far as this process has seen them.

    Telegram gives a comment that replies to another comment only that comment as reply_to_message;
    its message_thread_id is the id of the channel post's automatic forward, which is what marks
    it as a comment. So the roots are remembered when seen: the automatic forward itself, or a
    comment that replies to it directly. Bounded: old threads fall out first."""

    def __init__(self, limit: int = 10_000) -> None:
        self._roots: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._limit = limit

    def _add(self, chat_id: int, message_id: int) -> None:
        self._roots[(chat_id, message_id)] = None
        self._roots.move_to_end((chat_id, message_id))
        while len(self._roots) > self._limit:
            self._roots.popitem(last=False)

    def note(self, message: Message) -> None:
        if message.is_automatic_forward:
            self._add(message.chat.id, message.message_id)
        replied = message.reply_to_message
        if replied is not None and replied.is_automatic_forward:
            self._add(message.chat.id, replied.message_id)

    def is_comment(self, message: Message) -> bool:
        thread = message.message_thread_id
        return thread is not None and (message.chat.id, thread) in self._roots


def to_incoming(
    update: Update, message: Message, bot: User, threads: CommentThreads | None = None
) -> IncomingMessage | None:
    """The message as an IncomingMessage, or None when it is not for the bot to answer."""
    user = message.from_user
    problem = _malformed(message)
    if problem:
        log.warning("telegram update %s is malformed and ignored: %s", update.update_id, problem)
        return None
    if threads is not None:
        threads.note(message)
    text = message.text or message.caption
    if user is None or user.is_bot or message.is_automatic_forward or not text:
        return None  # channel forwards, other bots, stickers and the like
    in_comment_thread = threads is not None and threads.is_comment(message)
    if message.chat.type == "private":
        kind = MessageKind.private
    elif in_comment_thread or under_channel_post(message):
        kind = MessageKind.comment
    elif addressed_to_bot(message, bot):
        kind = MessageKind.mention
    else:
        return None
    thread = message.message_thread_id
    reply_to = ReplyAddress(
        kind=kind,
        visibility=Visibility.direct if kind is MessageKind.private else Visibility.group,
        chat_id=str(message.chat.id),
        message_id=str(message.message_id),
        thread_id=str(thread) if thread is not None else "",
    )
    return IncomingMessage(
        platform=PLATFORM,
        # Telegram numbers messages per chat, so the chat is part of the unique id.
        message_id=f"{message.chat.id}:{message.message_id}",
        reply_to=reply_to,
        user_id=str(user.id),
        user_name=user.username or user.full_name,
        text=without_mention(text, bot),
        received_at=message.date,
        raw=update.to_dict(),
    )


def _malformed(message: Message) -> str | None:
    """What makes a parsed message unusable; the library builds objects without checking types."""
    if message.chat is None or message.date is None or not isinstance(message.message_id, int):
        return "no chat, date or id"
    if not isinstance(message.chat.id, int) or not isinstance(message.date, datetime):
        return "a chat id or date of the wrong type"
    user = message.from_user
    if user is not None and (not isinstance(user.id, int) or not isinstance(user.first_name, str)):
        return "a sender of the wrong type"
    if any(v is not None and not isinstance(v, str) for v in (message.text, message.caption)):
        return "text of the wrong type"
    return None


def under_channel_post(message: Message) -> bool:
    """A direct reply to a channel post (its copy in the discussion group): a comment on it."""
    replied = message.reply_to_message
    return replied is not None and (
        bool(replied.is_automatic_forward) or (replied.sender_chat is not None and replied.sender_chat.type == "channel")
    )


def addressed_to_bot(message: Message, bot: User) -> bool:
    """In a group: a mention of the bot, a reply to it, or a comment under a channel post."""
    if under_channel_post(message):
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    entities = message.parse_entities(kinds) | message.parse_caption_entities(kinds)
    return any(
        (e.type == MessageEntity.MENTION and t.lower() == f"@{bot.username}".lower())
        or (e.user is not None and e.user.id == bot.id)
        for e, t in entities.items()
    )


def without_mention(text: str, bot: User) -> str:
    if not bot.username:
        return text
    stripped = re.sub(rf"\s*@{re.escape(bot.username)}\b", "", text, flags=re.IGNORECASE).strip()
    return stripped or text
