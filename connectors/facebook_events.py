"""Facebook Page events in project terms: feed comments and Messenger messages (webhook or polled) to
IncomingMessage; Instagram Direct messages share Messenger's shapes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from connectors.base import IncomingMessage
from core.addressing import MessageKind, ReplyAddress, Visibility

log = logging.getLogger(__name__)

PLATFORM = "facebook"
# Polling private messages (Messenger, Instagram Direct): conversations read each round, with their newest messages.
POLL_CONVERSATIONS = 25
CONVERSATION_FIELDS = "updated_time,messages.limit(20){id,message,from,created_time}"


def graph_time(value: Any) -> datetime:
    """Graph's times: unix seconds in webhooks (milliseconds in Messenger's), ISO 8601 in the API."""
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, timezone.utc)
    if isinstance(value, str) and value:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def comment(
    comment_id: str, post_id: str, parent_id: str, author: Mapping[str, Any], text: str, created: Any, raw: Mapping[str, Any]
) -> IncomingMessage:
    """A public comment under one of the page's posts. Facebook threads one level deep: a reply to
    a reply goes under the top-level comment, which is the thread."""
    top_level = not parent_id or parent_id == post_id
    return IncomingMessage(
        platform=PLATFORM,
        message_id=comment_id,
        user_id=str(author["id"]),
        user_name=str(author.get("name") or ""),
        text=text,
        reply_to=ReplyAddress(
            kind=MessageKind.comment,
            visibility=Visibility.public,
            chat_id=post_id,
            message_id=comment_id,
            thread_id=comment_id if top_level else parent_id,
        ),
        received_at=graph_time(created),
        raw=dict(raw),
    )


def feed_change(value: Mapping[str, Any], page_id: str) -> IncomingMessage | None:
    """A `feed` change: a new comment by someone else is a message; everything else is not."""
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None
    author = value.get("from")
    if not isinstance(author, Mapping) or str(author.get("id")) == page_id:
        return None  # the page's own comment (our replies come back this way)
    text = value.get("message")
    if not isinstance(text, str) or not text.strip():
        return None  # a sticker or photo comment: nothing to read
    return comment(
        str(value["comment_id"]), str(value["post_id"]), str(value.get("parent_id") or ""), author, text,
        value.get("created_time"), value,
    )


def messaging_event(event: Mapping[str, Any], account_id: str, platform: str = PLATFORM) -> IncomingMessage | None:
    """A Messenger (or Instagram Direct) message to the account; echoes of our own are not."""
    message = event.get("message")
    sender = str((event.get("sender") or {}).get("id") or "")
    if not isinstance(message, Mapping) or message.get("is_echo") or not sender or sender == account_id:
        return None
    # How an owner finds the id to put in [owners]: send the account a message, read the log at DEBUG.
    log.debug("%s private message %s from sender id %s", platform, message.get("mid"), sender)
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return None  # an attachment without words
    return IncomingMessage(
        platform=platform,  # Messenger and Instagram Direct share this shape
        message_id=str(message["mid"]),
        user_id=sender,
        text=text,
        reply_to=ReplyAddress(kind=MessageKind.private, visibility=Visibility.direct, chat_id=sender, message_id=str(message["mid"])),
        received_at=graph_time(event.get("timestamp")),
        raw=dict(event),
    )


def page_delivery(payload: Mapping[str, Any], page_id: str) -> list[IncomingMessage]:
    """Every message in one webhook delivery for the page (object "page")."""
    if payload.get("object") != "page":
        log.info("facebook webhook for object %r ignored", payload.get("object"))
        return []
    found: list[IncomingMessage] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, Mapping):
            continue
        for change in entry.get("changes") or []:
            try:
                if isinstance(change, Mapping) and change.get("field") == "feed":
                    incoming = feed_change(change.get("value") or {}, page_id)
                    if incoming is not None:
                        found.append(incoming)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("facebook feed change is malformed and skipped (%s: %s)", type(exc).__name__, exc)
        found.extend(messaging_events(entry, page_id, PLATFORM))
    return found


def messaging_events(entry: Mapping[str, Any], account_id: str, platform: str) -> list[IncomingMessage]:
    """The private messages in one webhook entry (Messenger's and Instagram Direct's shape)."""
    found: list[IncomingMessage] = []
    for event in entry.get("messaging") or []:
        try:
            incoming = messaging_event(event, account_id, platform)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("%s message event is malformed and skipped (%s: %s)", platform, type(exc).__name__, exc)
            continue
        if incoming is not None:
            found.append(incoming)
    return found



def conversation_messages(page: Mapping[str, Any], account_id: str, platform: str, since: int) -> tuple[list[IncomingMessage], int]:
    """The private messages in a polled page of conversations (`/{id}/conversations` with their
    newest messages) written at or after `since` (unix seconds) by someone other than the account;
    and the newest message time seen."""
    found: list[IncomingMessage] = []
    newest = since
    for conversation in page.get("data") or []:
        for m in (conversation.get("messages") or {}).get("data") or []:
            sender = str((m.get("from") or {}).get("id") or "")
            at = graph_time(m.get("created_time"))
            if int(at.timestamp()) < since or not sender or sender == account_id or not str(m.get("message") or "").strip():
                continue
            newest = max(newest, int(at.timestamp()))
            found.append(
                IncomingMessage(
                    platform=platform,
                    message_id=str(m["id"]),
                    user_id=sender,
                    user_name=str((m.get("from") or {}).get("name") or (m.get("from") or {}).get("username") or ""),
                    text=str(m["message"]),
                    reply_to=ReplyAddress(kind=MessageKind.private, visibility=Visibility.direct, chat_id=sender, message_id=str(m["id"])),
                    received_at=at,
                    raw=dict(m),
                )
            )
    return found, newest
