"""Reads for the owner's inbox and contacts pages: each a few joined queries, never one per row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime

from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from storage.message_states import MessageStatus
from storage.models import Contact, Message, Reply, ReplyStatus

QueryT = TypeVar("QueryT", bound=Select[Any])
RowT = TypeVar("RowT")


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


@dataclass(frozen=True, slots=True)
class MessageLine:
    """A message as the inbox lists it: only the columns shown, no ORM object."""

    id: int
    platform: str
    text: str
    received_at: datetime
    intent: str | None
    intent_confidence: float | None
    sentiment: str | None
    sentiment_confidence: float | None
    offensive_probability: float | None
    language: str | None
    status: str
    status_reason: str | None


@dataclass(frozen=True, slots=True)
class ContactName:
    id: int
    display_name: str | None
    platform_user_id: str


@dataclass(frozen=True, slots=True)
class DraftLine:
    id: int
    text: str
    check_failures: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A drafted reply waiting for the owner, with its message and contact."""

    reply: DraftLine
    message: MessageLine
    contact: ContactName


@dataclass(frozen=True, slots=True)
class Line:
    """A message in the inbox's lists, with its contact."""

    message: MessageLine
    contact: ContactName


@dataclass(frozen=True)
class Entry:
    """A message with its contact and the replies to it, oldest first (a thread)."""

    message: Message
    contact: Contact
    replies: list[Reply] = field(default_factory=list)


_MESSAGE_COLUMNS = (
    col(Message.id), col(Message.platform), col(Message.text), col(Message.received_at), col(Message.intent),
    col(Message.intent_confidence), col(Message.sentiment), col(Message.sentiment_confidence),
    col(Message.offensive_probability), col(Message.language), col(Message.status), col(Message.status_reason),
)
_CONTACT_COLUMNS = (col(Contact.id), col(Contact.display_name), col(Contact.platform_user_id))
_DRAFT_COLUMNS = (col(Reply.id), col(Reply.text), col(Reply.check_failures), col(Reply.error))
_M, _C = len(_MESSAGE_COLUMNS), len(_CONTACT_COLUMNS)
_LINE_COLUMNS = (*_MESSAGE_COLUMNS, *_CONTACT_COLUMNS)
_WAITING_COLUMNS = (*_DRAFT_COLUMNS, *_LINE_COLUMNS)
_REPLY_ID, _MESSAGE_ID = (col(Reply.id),), (col(Message.id),)


def _line(row: Sequence[Any], at: int = 0) -> Line:
    return Line(MessageLine(*row[at : at + _M]), ContactName(*row[at + _M : at + _M + _C]))


@dataclass(frozen=True)
class Cursor:
    """Where a page of a list starts: the rows with a key above `after` or below `before` (neither: the list's
    first page). Keys are ids, so a page is one indexed range, however deep."""

    after: int = 0
    before: int = 0


@dataclass(frozen=True)
class Paged(Generic[RowT]):
    """One page of a list, in the order it is shown, and whether older or newer rows lie beyond it."""

    rows: list[RowT]
    older: bool
    newer: bool


def _keyset(
    connection: Connection, query: Select[Any], key: Any, cursor: Cursor, limit: int, *, newest_first: bool
) -> tuple[list[Any], bool, bool]:
    """A page of `query` by `key` (ascending ids are older), with whether rows lie below and above it."""
    if cursor.before:
        found = list(connection.execute(query.where(key < cursor.before).order_by(key.desc()).limit(limit + 1)))
        below, above, ascending = len(found) > limit, True, False
    elif cursor.after:
        found = list(connection.execute(query.where(key > cursor.after).order_by(key).limit(limit + 1)))
        below, above, ascending = True, len(found) > limit, True
    elif newest_first:
        found = list(connection.execute(query.order_by(key.desc()).limit(limit + 1)))
        below, above, ascending = len(found) > limit, False, False
    else:
        found = list(connection.execute(query.order_by(key).limit(limit + 1)))
        below, above, ascending = False, len(found) > limit, True
    rows = found[:limit]
    if rows and cursor.before:  # rows answered elsewhere may leave nothing above: look (one indexed row)
        above = connection.execute(query.where(key > rows[0][0]).limit(1)).first() is not None
    if rows and cursor.after:
        below = connection.execute(query.where(key < rows[0][0]).limit(1)).first() is not None
    if not rows:
        below = above = False
    if ascending == newest_first:
        rows.reverse()
    return rows, below, above


# Built once per filter and set of columns (building a statement cost as much as running it); a Select is immutable.
@lru_cache(maxsize=256)
def _waiting_query(where: MessageFilter, columns: tuple[Any, ...]) -> Select[Any]:
    query = (
        select(*columns)
        .join(Message, col(Reply.message_id) == col(Message.id))
        .join(Contact, col(Message.contact_id) == col(Contact.id))
        .where(Reply.status == ReplyStatus.pending)
    )
    return where.where(query, with_status=False)


@lru_cache(maxsize=256)
def _escalated_query(where: MessageFilter, columns: tuple[Any, ...]) -> Select[Any]:
    query = (
        select(*columns)
        .join(Contact, col(Message.contact_id) == col(Contact.id))
        .where(Message.status == MessageStatus.escalated)
    )
    return where.where(query, with_status=False)


def _waiting(row: Sequence[Any]) -> Waiting:
    line = _line(row, len(_DRAFT_COLUMNS))
    return Waiting(DraftLine(*row[: len(_DRAFT_COLUMNS)]), line.message, line.contact)


def _paged(
    engine: Engine, query: Select[Any], key: Any, cursor: Cursor, limit: int, make: Callable[[Sequence[Any]], RowT],
    *, newest_first: bool,
) -> Paged[RowT]:
    with engine.connect() as connection:
        rows, older, newer = _keyset(connection, query, key, cursor, limit, newest_first=newest_first)
    return Paged([make(r) for r in rows], older, newer)


def waiting_replies(
    engine: Engine, where: MessageFilter = MessageFilter(), cursor: Cursor = Cursor(), limit: int = 25
) -> Paged[Waiting]:
    """A page of pending drafts, oldest first (the order they came in)."""
    query = _waiting_query(where, _WAITING_COLUMNS)
    return _paged(engine, query, col(Reply.id), cursor, limit, _waiting, newest_first=False)


def escalations(
    engine: Engine, where: MessageFilter = MessageFilter(), cursor: Cursor = Cursor(), limit: int = 25
) -> Paged[Line]:
    """A page of the messages handed to the owner, oldest first."""
    query = _escalated_query(where, _LINE_COLUMNS)
    return _paged(engine, query, col(Message.id), cursor, limit, _line, newest_first=False)


@lru_cache(maxsize=256)
def _messages_query(where: MessageFilter) -> Select[Any]:
    return where.where(select(*_LINE_COLUMNS).join(Contact, col(Message.contact_id) == col(Contact.id)))


def messages(
    engine: Engine, where: MessageFilter = MessageFilter(), cursor: Cursor = Cursor(), limit: int = 25
) -> Paged[Line]:
    """A page of the messages matching the filter, newest first."""
    return _paged(engine, _messages_query(where), col(Message.id), cursor, limit, _line, newest_first=True)


def waiting_ids(engine: Engine, where: MessageFilter, drafts: Cursor, escalated: Cursor, limit: int = 25) -> set[str]:
    """The ids on the two pages of what waits ("r" a draft, "m" an escalation): what a poll compares
    with what the page shows, reading no more than the ids."""
    with engine.connect() as connection:
        d, _, _ = _keyset(connection, _waiting_query(where, _REPLY_ID), col(Reply.id), drafts, limit, newest_first=False)
        e, _, _ = _keyset(connection, _escalated_query(where, _MESSAGE_ID), col(Message.id), escalated, limit,
                          newest_first=False)
    return {f"r{r[0]}" for r in d} | {f"m{r[0]}" for r in e}


def waiting_by_id(engine: Engine, reply_ids: Iterable[int]) -> list[Waiting]:
    """These pending drafts, oldest first (those a poll found new)."""
    ids = list(reply_ids)
    if not ids:
        return []
    query = _waiting_query(MessageFilter(), _WAITING_COLUMNS)
    with engine.connect() as connection:
        return [_waiting(r) for r in connection.execute(query.where(col(Reply.id).in_(ids)).order_by(col(Reply.id)))]


def escalations_by_id(engine: Engine, message_ids: Iterable[int]) -> list[Line]:
    """These escalated messages, oldest first."""
    ids = list(message_ids)
    if not ids:
        return []
    query = _escalated_query(MessageFilter(), _LINE_COLUMNS)
    with engine.connect() as connection:
        return [_line(r) for r in connection.execute(query.where(col(Message.id).in_(ids)).order_by(col(Message.id)))]


def newer_messages(engine: Engine, where: MessageFilter, after_id: int, limit: int = 100) -> list[Line]:
    """The messages matching the filter that came after `after_id`, newest first (a poll's)."""
    query = _messages_query(where).where(col(Message.id) > after_id).order_by(col(Message.id).desc()).limit(limit)
    with engine.connect() as connection:
        return [_line(r) for r in connection.execute(query)]


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
