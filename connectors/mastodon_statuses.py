"""Mastodon statuses in project terms: HTML to plain text, notifications to IncomingMessage, Mastodon's length count."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from connectors.base import IncomingMessage
from core.addressing import MessageKind, ReplyAddress, Visibility

log = logging.getLogger(__name__)

PLATFORM = "mastodon"

#: Mastodon's visibility names and ours; a reply is sent back with the same one.
VISIBILITIES: dict[str, Visibility] = {
    "public": Visibility.public,
    "unlisted": Visibility.unlisted,
    "private": Visibility.followers,
    "direct": Visibility.direct,
}
MASTODON_VISIBILITY: dict[Visibility, str] = {ours: theirs for theirs, ours in VISIBILITIES.items()}

# Mastodon counts every link as 23 characters and a mention by its username only (not the domain).
URL_LENGTH = 23
_URL = re.compile(r"https?://[^\s<>\"]+")
_MENTION_DOMAIN = re.compile(r"(?<![\w@])(@\w+)@[\w.-]+\w")


def status_length(text: str) -> int:
    """The length Mastodon counts against its character limit."""
    text = _URL.sub("x" * URL_LENGTH, text)
    return len(_MENTION_DOMAIN.sub(r"\1", text))


class _PlainText(HTMLParser):
    """Collects a status's text: paragraphs and line breaks kept as newlines, every tag dropped
    (a link or mention keeps the text it shows, which for Mastodon's links is the whole URL)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


def ordered_id(status_or_notification_id: str) -> tuple[int, str]:
    """Mastodon's ids are numbers that grow with time, sent as strings: compare them as numbers."""
    return (len(status_or_notification_id), status_or_notification_id)


@dataclass(frozen=True)
class Me:
    """The account the bot runs as, and the accounts it never answers (blocked or muted)."""

    account_id: str
    acct: str
    silenced: Collection[str] = ()


def _text_for_us(content: str, me: Me) -> str:
    """The status's plain text with our own mention taken out (others' mentions stay)."""
    text = html_to_text(content)
    own = re.compile(rf"(?<![\w@])@{re.escape(me.acct)}(@[\w.-]+\w)?(?![\w@])", re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", own.sub("", text)).strip()


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise TypeError(f"{value!r} is not an id")
    return str(value)


def to_incoming(notification: Mapping[str, Any], me: Me) -> IncomingMessage | None:
    """A mention notification as a message for the bot; None (with one log line where it is
    unexpected) for other types, our own statuses, boosts, silenced accounts and unreadable ones."""
    kind = notification.get("type")
    nid = notification.get("id")
    if kind != "mention":
        log.debug("mastodon notification %s of type %r is not a mention; skipped", nid, kind)
        return None
    status = notification.get("status")
    if status is None:
        log.info("mastodon notification %s: its status was deleted; skipped", nid)
        return None
    account = status.get("account") if isinstance(status, Mapping) else None
    try:
        status_id = _id(status["id"])
        account_id = _id(account["id"])  # type: ignore[index]
        acct = _id(account["acct"])  # type: ignore[index]
        content = status["content"]
        visibility = VISIBILITIES[str(status["visibility"])]
        if not isinstance(content, str):
            raise TypeError("content is not text")
    except (KeyError, TypeError) as exc:
        log.warning("mastodon notification %s is malformed and skipped (%s: %s)", nid, type(exc).__name__, exc)
        return None
    if account_id == me.account_id:
        return None  # our own status (a reply in a thread that names us)
    if status.get("reblog"):
        return None  # a boost is not written to us
    if account_id in me.silenced:
        log.info("mastodon status %s from %s (blocked or muted) ignored", status_id, acct)
        return None
    in_reply_to = status.get("in_reply_to_id")
    if visibility is Visibility.direct:
        message_kind = MessageKind.private
    elif in_reply_to and str(status.get("in_reply_to_account_id")) == me.account_id:
        message_kind = MessageKind.comment
    else:
        message_kind = MessageKind.mention
    reply_to = ReplyAddress(
        kind=message_kind,
        visibility=visibility,
        # Mastodon has no chat: a reply names its addressee, and a direct one reaches only them.
        chat_id=acct,
        message_id=status_id,
        thread_id=str(in_reply_to) if in_reply_to else "",
    )
    return IncomingMessage(
        platform=PLATFORM,
        message_id=status_id,
        user_id=acct,
        user_name=str(account.get("display_name") or acct),  # type: ignore[union-attr]
        text=_text_for_us(content, me),
        reply_to=reply_to,
        raw=dict(notification),
    )
