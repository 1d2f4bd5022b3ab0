"""Reads for the owner's inbox and contacts pages: each a few joined queries, never one per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from typing import Any, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.message_states import MessageStatus
from storage.models import Contact, Message, Reply, ReplyStatus

QueryT = TypeVar("QueryT", bound=Select[Any])


@dataclass(frozen=True)
class MessageFilter:
    """What the owner narrowed the inbox to; empty fields match everything."""

    platform: str = ""
    intent: str = ""
    sentiment: str = ""
    status: str = ""

    def where(self, query: QueryT, *, with_status: bool = True) -> QueryT:
        if self.platform:
            query = query.where(Message.platform == self.platform)
        if self.intent:
            query = query.where(Message.intent == self.intent)
        if self.sentiment:
            query = query.where(Message.sentiment == self.sentiment)
        if self.status and with_status:
            query = query.where(Message.status == self.status)
        return query


@dataclass(frozen=True)
class Waiting:
    """A drafted reply waiting for the owner, with its message and contact."""

    reply: Reply
    message: Message
    contact: Contact


@dataclass(frozen=True)
class Entry:
    """A message with its contact (and, in a thread, the replies to it, oldest first)."""

    message: Message
    contact: Contact
    replies: list[Reply] = field(default_factory=list)


def waiting_replies(engine: Engine, where: MessageFilter = MessageFilter(), limit: int = 100) -> list[Waiting]:
    """Pending drafts, oldest first (the order they came in)."""
    query = (
        select(Reply, Message, Contact)
        .join(Message, col(Reply.message_id) == col(Message.id))
        .join(Contact, col(Message.contact_id) == col(Contact.id))
        .where(Reply.status == ReplyStatus.pending)
    )
    query = where.where(query, with_status=False).order_by(col(Reply.id)).limit(limit)
    with Session(engine) as session:
        return [Waiting(r, m, c) for r, m, c in session.exec(query).all()]


def escalations(engine: Engine, where: MessageFilter = MessageFilter(), limit: int = 100) -> list[Entry]:
    """Messages handed to the owner, oldest first."""
    query = (
        select(Message, Contact)
        .join(Contact, col(Message.contact_id) == col(Contact.id))
        .where(Message.status == MessageStatus.escalated)
    )
    query = where.where(query, with_status=False).order_by(col(Message.id)).limit(limit)
    with Session(engine) as session:
        return [Entry(m, c) for m, c in session.exec(query).all()]


def recent_messages(
    engine: Engine, where: MessageFilter = MessageFilter(), *, after_id: int = 0, limit: int = 100
) -> list[Entry]:
    """The newest messages matching the filter (only those after `after_id`), newest first."""
    query = select(Message, Contact).join(Contact, col(Message.contact_id) == col(Contact.id))
    if after_id:
        query = query.where(col(Message.id) > after_id)
    query = where.where(query).order_by(col(Message.id).desc()).limit(limit)
    with Session(engine) as session:
        return [Entry(m, c) for m, c in session.exec(query).all()]


def newest_message_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.max(Message.id))).one() or 0)


def thread(engine: Engine, contact_id: int, limit: int = 200) -> list[Entry]:
    """A contact's last `limit` messages, oldest first, each with every reply to it."""
    with Session(engine) as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return []
        messages = session.exec(
            select(Message).where(Message.contact_id == contact_id).order_by(col(Message.id).desc()).limit(limit)
        ).all()
        replies = _replies_to(session, [m.id for m in messages if m.id is not None])
    return [Entry(m, contact, replies.get(m.id or 0, [])) for m in reversed(messages)]


def _replies_to(session: Session, message_ids: Iterable[int]) -> dict[int, list[Reply]]:
    ids = list(message_ids)
    found: dict[int, list[Reply]] = {}
    if not ids:
        return found
    for reply in session.exec(select(Reply).where(col(Reply.message_id).in_(ids)).order_by(col(Reply.id))).all():
        found.setdefault(reply.message_id, []).append(reply)
    return found


def platforms(engine: Engine) -> list[str]:
    """Every platform a message came from."""
    with Session(engine) as session:
        return sorted(session.exec(select(Contact.platform).distinct()).all())


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    messages: int
    last_at: datetime | None


def contacts(engine: Engine, *, platform: str = "", name: str = "", limit: int = 200) -> list[ContactRow]:
    """Contacts with how many messages they sent and when the last came, the latest first."""
    count = func.count(col(Message.id))
    last = func.max(col(Message.received_at))
    query = select(Contact, count, last).join(Message, col(Message.contact_id) == col(Contact.id), isouter=True)
    if platform:
        query = query.where(Contact.platform == platform)
    if name:
        pattern = f"%{name.lower()}%"
        query = query.where(
            func.lower(col(Contact.display_name)).like(pattern) | func.lower(col(Contact.platform_user_id)).like(pattern)
        )
    query = query.group_by(col(Contact.id)).order_by(last.desc(), col(Contact.id).desc()).limit(limit)
    with Session(engine) as session:
        return [ContactRow(c, int(n), at) for c, n, at in session.exec(query).all()]


def sentiments(engine: Engine, contact_id: int, limit: int = 5000) -> list[tuple[datetime, str]]:
    """(received at, sentiment) of a contact's last `limit` classified messages, oldest first."""
    query = (
        select(Message.received_at, Message.sentiment)
        .where(Message.contact_id == contact_id, col(Message.sentiment).is_not(None))
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [(at, str(sentiment)) for at, sentiment in reversed(session.exec(query).all())]
