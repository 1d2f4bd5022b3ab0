"""Functions that add and query contacts, messages, replies and posts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import String, bindparam, cast, func, literal, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from core.addressing import MessageKind, ReplyAddress, Visibility
from core.times import as_utc
from storage.message_states import RULES, UNFINISHED_MESSAGE_STATES, Transition, TransitionRefused
from storage.models import (
    AudienceHours,
    Contact,
    EngagementSample,
    FollowerCount,
    LabelCorrection,
    Message,
    MessageStatus,
    Post,
    PostStatus,
    ReceiveCursor,
    Reply,
    ReplyStatus,
    utcnow,
)


RowT = TypeVar("RowT", Message, Reply, Post)
ById = TypeVar("ById", Message, Reply, Post, Contact)

#: The largest id an id column holds (a 32-bit INTEGER on PostgreSQL): a bigger number, as an owner
#: may type, names no row instead of failing in the database driver.
MAX_ROW_ID = 2**31 - 1


def _by_id(session: Session, table: type[ById], row_id: int) -> ById | None:
    return session.get(table, row_id) if 0 < row_id <= MAX_ROW_ID else None


def _update(engine: Engine, table: type[RowT], row_id: int, fields: dict[str, Any]) -> RowT:
    with Session(engine) as session:
        row = _by_id(session, table, row_id)
        if row is None:
            raise KeyError(f"no {table.__name__.lower()} {row_id}")
        for name, value in fields.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def get_or_create_contact(
    engine: Engine, platform: str, platform_user_id: str, display_name: str = ""
) -> Contact:
    with Session(engine) as session:
        contact = session.exec(
            select(Contact).where(
                Contact.platform == platform, Contact.platform_user_id == platform_user_id
            )
        ).first()
        if contact is not None:
            return contact
        contact = Contact(
            platform=platform, platform_user_id=platform_user_id, display_name=display_name
        )
        session.add(contact)
        try:
            session.commit()
        except IntegrityError:
            # Another writer created it between our read and our insert.
            session.rollback()
            return session.exec(
                select(Contact).where(
                    Contact.platform == platform, Contact.platform_user_id == platform_user_id
                )
            ).one()
        session.refresh(contact)
        return contact


def add_message(
    engine: Engine,
    *,
    platform: str,
    platform_message_id: str,
    contact_id: int,
    text: str,
    chat_id: str = "",
    received_at: datetime | None = None,
    reply_to: ReplyAddress | None = None,
) -> tuple[Message, bool]:
    """Store an incoming message; returns (message, created). A redelivery returns the stored row.

    reply_to: where a reply goes; without one, a private message in `chat_id`."""
    reply_to = reply_to or ReplyAddress(MessageKind.private, Visibility.direct, chat_id, platform_message_id)
    with Session(engine) as session:
        message = Message(
            platform=platform,
            platform_message_id=platform_message_id,
            contact_id=contact_id,
            text=text,
            received_at=received_at or utcnow(),
            **address_columns(reply_to),
        )
        session.add(message)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = find_message(engine, platform, platform_message_id)
            if existing is None:  # the integrity error was about something else
                raise
            return existing, False
        session.refresh(message)
        return message, True


@dataclass(frozen=True)
class NewMessage:
    """An incoming message as the store takes it (the connector's IncomingMessage, in storage terms)."""

    platform: str
    platform_message_id: str
    user_id: str
    user_name: str
    reply_to: ReplyAddress
    text: str
    received_at: datetime


def address_columns(address: ReplyAddress) -> dict[str, Any]:
    """A reply address as Message's columns (Message.reply_address reads them back)."""
    return {
        "kind": address.kind,
        "visibility": address.visibility,
        "chat_id": address.chat_id,
        "reply_to_id": address.message_id,
        "thread_id": address.thread_id,
    }


def store_incoming(
    engine: Engine, messages: Sequence[NewMessage], cursor: tuple[str, str] | None = None
) -> list[tuple[int, bool]]:
    """Store a batch of incoming messages and a polled platform's cursor in one transaction.

    Returns (message id, created) per message, in order; a message whose platform id is stored
    already (a redelivery, a retried event) is not stored again. All or nothing."""
    for attempt in range(2):
        try:
            return _store_incoming(engine, messages, cursor)
        except IntegrityError:
            # Another writer added one of the contacts or messages since we looked: look again.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _store_incoming(
    engine: Engine, messages: Sequence[NewMessage], cursor: tuple[str, str] | None
) -> list[tuple[int, bool]]:
    with Session(engine) as session:
        contacts: dict[tuple[str, str], int] = {}
        stored: dict[tuple[str, str], int] = {}
        for platform in {m.platform for m in messages}:
            user_ids = list({m.user_id for m in messages if m.platform == platform})
            for contact in session.exec(
                select(Contact).where(Contact.platform == platform, col(Contact.platform_user_id).in_(user_ids))
            ):
                assert contact.id is not None
                contacts[(platform, contact.platform_user_id)] = contact.id
            ids = list({m.platform_message_id for m in messages if m.platform == platform})
            for message_id, platform_id in session.exec(
                select(Message.id, Message.platform_message_id).where(
                    Message.platform == platform, col(Message.platform_message_id).in_(ids)
                )
            ):
                stored[(platform, platform_id)] = message_id
        # The batch's new contacts, then its new messages, each added together and flushed once:
        # SQLAlchemy then sends a few multi-row INSERTs, not a round trip per row. Storing a
        # batch of 100 cost 0.47 ms of CPU a message with a flush per row, 0.24 ms like this.
        new_contacts: dict[tuple[str, str], Contact] = {}
        for m in messages:
            who = (m.platform, m.user_id)
            if (m.platform, m.platform_message_id) not in stored and who not in contacts and who not in new_contacts:
                new_contacts[who] = Contact(platform=m.platform, platform_user_id=m.user_id, display_name=m.user_name)
        session.add_all(new_contacts.values())
        session.flush()
        for who, contact in new_contacts.items():
            assert contact.id is not None
            contacts[who] = contact.id
        added: dict[tuple[str, str], Message] = {}
        order: list[tuple[tuple[str, str], bool]] = []  # (message, created) in the batch's order
        for m in messages:
            key = (m.platform, m.platform_message_id)
            if key in stored or key in added:  # stored before, or twice in this batch
                order.append((key, False))
                continue
            who = (m.platform, m.user_id)
            row = Message(
                platform=m.platform,
                platform_message_id=m.platform_message_id,
                contact_id=contacts[who],
                text=m.text,
                received_at=m.received_at,
                **address_columns(m.reply_to),
            )
            added[key] = row
            order.append((key, True))
        session.add_all(added.values())
        session.flush()  # in the order added, so ids follow the batch's order
        for key, row in added.items():
            assert row.id is not None
            stored[key] = row.id
        results = [(stored[key], created) for key, created in order]
        if cursor is not None:
            session.merge(ReceiveCursor(name=cursor[0], value=cursor[1], updated_at=utcnow()))
        session.commit()
        return results


def get_cursor(engine: Engine, name: str) -> str | None:
    with Session(engine) as session:
        row = session.get(ReceiveCursor, name)
        return row.value if row is not None else None


def find_message(engine: Engine, platform: str, platform_message_id: str) -> Message | None:
    with Session(engine) as session:
        return session.exec(
            select(Message).where(
                Message.platform == platform, Message.platform_message_id == platform_message_id
            )
        ).first()


def get_message(engine: Engine, message_id: int) -> Message | None:
    with Session(engine) as session:
        return _by_id(session, Message, message_id)


def update_message(engine: Engine, message_id: int, **fields: Any) -> Message:
    """Set fields on a message (intent, labels, ...) and write them at once; its status moves only by advance_message."""
    if "status" in fields:
        raise ValueError("a message's status changes only through advance_message (storage/message_states.py)")
    return _update(engine, Message, message_id, fields)


def advance_message(engine: Engine, message_id: int, transition: Transition, **fields: Any) -> Message:
    """Move a message along `transition` and set `fields` with it, in one conditional UPDATE.

    Raises TransitionRefused when the message's state does not allow it, including when another
    writer moved it meanwhile: the row changes only while it is in a state the transition starts from."""
    sources, after = RULES[transition]
    if after == MessageStatus.escalated:
        fields.setdefault("escalated_at", utcnow())
    move = (
        update(Message)
        .where(col(Message.id) == message_id, col(Message.status).in_(list(sources)))
        .values(status=after, **fields)
        .returning(Message)
        .execution_options(synchronize_session=False)
    )
    with Session(engine, expire_on_commit=False) as session:
        moved = session.scalars(move).first()
        session.commit()
    if moved is not None:
        return moved
    now = get_message(engine, message_id)
    if now is None:
        raise KeyError(f"no message {message_id}")
    raise TransitionRefused(message_id, now.status, transition)


def list_messages(
    engine: Engine,
    *,
    status: MessageStatus | Iterable[MessageStatus] | None = None,
    contact_id: int | None = None,
    limit: int = 100,
) -> Sequence[Message]:
    query = select(Message)
    if status is not None:
        statuses = [status] if isinstance(status, MessageStatus) else list(status)
        query = query.where(col(Message.status).in_(statuses))
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
    query = query.order_by(col(Message.id).desc()).limit(limit)
    with Session(engine) as session:
        return session.exec(query).all()


def add_reply(
    engine: Engine,
    *,
    message_id: int,
    text: str,
    status: ReplyStatus = ReplyStatus.pending,
    check_failures: str | None = None,
) -> Reply:
    with Session(engine) as session:
        reply = Reply(
            message_id=message_id, text=text, status=status, check_failures=check_failures
        )
        session.add(reply)
        session.commit()
        session.refresh(reply)
        return reply


def update_reply(engine: Engine, reply_id: int, **fields: Any) -> Reply:
    return _update(engine, Reply, reply_id, fields)


def list_replies(
    engine: Engine,
    *,
    status: ReplyStatus | None = None,
    message_id: int | None = None,
    limit: int = 100,
) -> Sequence[Reply]:
    query = select(Reply)
    if status is not None:
        query = query.where(Reply.status == status)
    if message_id is not None:
        query = query.where(Reply.message_id == message_id)
    query = query.order_by(col(Reply.id)).limit(limit)
    with Session(engine) as session:
        return session.exec(query).all()


def add_post(
    engine: Engine,
    *,
    platform: str,
    text: str,
    status: PostStatus = PostStatus.draft,
    scheduled_at: datetime | None = None,
) -> Post:
    with Session(engine) as session:
        post = Post(platform=platform, text=text, status=status, scheduled_at=scheduled_at)
        session.add(post)
        session.commit()
        session.refresh(post)
        return post


def add_post_group(engine: Engine, texts: Sequence[tuple[str, str]]) -> list[Post]:
    """One draft post per (platform, text), in one transaction; several share the first one's id as group_id."""
    with Session(engine) as session:
        posts = [Post(platform=platform, text=text) for platform, text in texts]
        session.add(posts[0])
        session.flush()
        if len(posts) > 1:
            for post in posts:
                post.group_id = posts[0].id
            session.add_all(posts[1:])
        session.commit()
        for post in posts:
            session.refresh(post)
        return posts


def posts_in_group(engine: Engine, group_id: int) -> Sequence[Post]:
    """The rows of a post for several platforms, first row first."""
    with Session(engine) as session:
        return session.exec(select(Post).where(Post.group_id == group_id).order_by(col(Post.id))).all()


def update_post(engine: Engine, post_id: int, **fields: Any) -> Post:
    return _update(engine, Post, post_id, fields)


def list_posts(
    engine: Engine,
    *,
    status: PostStatus | None = None,
    platform: str | None = None,
    limit: int = 100,
) -> Sequence[Post]:
    query = select(Post)
    if status is not None:
        query = query.where(Post.status == status)
    if platform is not None:
        query = query.where(Post.platform == platform)
    query = query.order_by(col(Post.id)).limit(limit)
    with Session(engine) as session:
        return session.exec(query).all()


def get_post(engine: Engine, post_id: int) -> Post | None:
    with Session(engine) as session:
        return _by_id(session, Post, post_id)


def posts_with_status(
    engine: Engine, statuses: Iterable[PostStatus], *, platform: str | None = None
) -> Sequence[Post]:
    """Every post in any of these states, in time order (unscheduled last); no limit."""
    query = select(Post).where(col(Post.status).in_(list(statuses)))
    if platform is not None:
        query = query.where(Post.platform == platform)
    query = query.order_by(col(Post.scheduled_at).is_(None), col(Post.scheduled_at), col(Post.id))
    with Session(engine) as session:
        return session.exec(query).all()


def claim_due_posts(engine: Engine, now: datetime, *, not_before: datetime, limit: int, batch_key: str) -> list[Post]:
    """Claim up to `limit` scheduled posts due between `not_before` and `now`, oldest first.

    One UPDATE moves them scheduled -> publishing and returns them. A row moves only while it is
    still scheduled, so two publishers racing on the same posts publish each once. A post's key is
    kept from an earlier claim, so every retry carries the same one; a new one is the batch's key
    and the post id, unique per post.
    """
    due = (
        select(Post.id)
        .where(col(Post.status) == PostStatus.scheduled, col(Post.scheduled_at) <= now, col(Post.scheduled_at) >= not_before)
        .order_by(col(Post.scheduled_at), col(Post.id))
        .limit(limit)
    )
    claim = (
        update(Post)
        .where(col(Post.id).in_(due.scalar_subquery()), col(Post.status) == PostStatus.scheduled)
        .values(
            status=PostStatus.publishing,
            attempts=col(Post.attempts) + 1,
            publish_key=func.coalesce(col(Post.publish_key), literal(f"{batch_key}-") + cast(col(Post.id), String)),
        )
        .returning(Post)
        .execution_options(synchronize_session=False)
    )
    with Session(engine, expire_on_commit=False) as session:
        claimed = list(session.scalars(claim).all())
        session.commit()
    return sorted(claimed, key=lambda post: (post.scheduled_at or now, post.id or 0))


@dataclass(frozen=True)
class Published:
    """A publish the platform confirmed, to be written on its post's row."""

    post_id: int
    platform_post_id: str
    at: datetime
    engagement_due_at: datetime | None


def mark_published(engine: Engine, published: Sequence[Published]) -> None:
    """Finish publishes in one transaction, one UPDATE per row, without reading rows back (this runs at volume)."""
    if not published:
        return
    finish = (
        update(Post)
        .where(col(Post.id) == bindparam("b_post_id"))
        .values(
            status=PostStatus.published, published_at=bindparam("b_at"), platform_post_id=bindparam("b_platform_post_id"),
            error=None, engagement_due_at=bindparam("b_engagement_due_at"),
        )
    )
    rows = [
        {"b_post_id": p.post_id, "b_at": p.at, "b_platform_post_id": p.platform_post_id, "b_engagement_due_at": p.engagement_due_at}
        for p in published
    ]
    with engine.begin() as connection:
        connection.execute(finish, rows)


def next_due_at(engine: Engine) -> datetime | None:
    """When the earliest scheduled post is due; None when nothing is scheduled."""
    query = select(func.min(Post.scheduled_at)).where(col(Post.status) == PostStatus.scheduled)
    with Session(engine) as session:
        return session.exec(query).one()


def overdue_posts(engine: Engine, before: datetime) -> Sequence[Post]:
    """Scheduled posts whose time was before `before`, oldest first."""
    query = (
        select(Post)
        .where(col(Post.status) == PostStatus.scheduled, col(Post.scheduled_at) < before)
        .order_by(col(Post.scheduled_at), col(Post.id))
    )
    with Session(engine) as session:
        return session.exec(query).all()


def engagement_due(engine: Engine, now: datetime, *, platforms: Iterable[str], limit: int = 100) -> Sequence[Post]:
    """Published posts on these platforms whose engagement is due to be fetched, oldest first."""
    query = (
        select(Post)
        .where(col(Post.engagement_due_at) <= now, col(Post.platform).in_(list(platforms)))
        .order_by(col(Post.engagement_due_at), col(Post.id))
        .limit(limit)
    )
    with Session(engine) as session:
        return session.exec(query).all()


def add_engagement(
    engine: Engine, *, post_id: int, interactions: int, counts: str = "{}", fetched_at: datetime | None = None
) -> EngagementSample:
    with Session(engine) as session:
        sample = EngagementSample(post_id=post_id, interactions=interactions, counts=counts, fetched_at=fetched_at or utcnow())
        session.add(sample)
        session.commit()
        session.refresh(sample)
        return sample


def engagement_samples(engine: Engine, post_id: int) -> Sequence[EngagementSample]:
    """A post's engagement samples, oldest first."""
    query = select(EngagementSample).where(EngagementSample.post_id == post_id).order_by(col(EngagementSample.id))
    with Session(engine) as session:
        return session.exec(query).all()


def published_engagement(engine: Engine, platform: str | None = None) -> list[tuple[Post, int]]:
    """Each published post with its latest engagement sample, oldest post first."""
    latest = (
        select(EngagementSample.post_id, func.max(EngagementSample.id).label("last_id"))
        .group_by(col(EngagementSample.post_id))
        .subquery()
    )
    query = (
        select(Post, EngagementSample)
        .join(latest, col(latest.c.post_id) == col(Post.id))
        .join(EngagementSample, col(EngagementSample.id) == latest.c.last_id)
        .where(Post.status == PostStatus.published)
    )
    if platform is not None:
        query = query.where(Post.platform == platform)
    with Session(engine) as session:
        return [(post, sample.interactions) for post, sample in session.exec(query.order_by(col(Post.published_at))).all()]


def message_times(engine: Engine, platform: str | None = None, limit: int = 5000) -> list[datetime]:
    """When followers wrote to the account, newest first: the timing model's prior."""
    query = select(Message.received_at)
    if platform is not None:
        query = query.where(Message.platform == platform)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(Message.id).desc()).limit(limit)).all())


def set_audience_hours(engine: Engine, platform: str, hours: dict[int, int]) -> None:
    """Keep the platform's latest followers-online-by-UTC-hour (replacing the one before)."""
    row = AudienceHours(platform=platform, hours=json.dumps({str(h): n for h, n in sorted(hours.items())}), fetched_at=utcnow())
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def audience_hours(engine: Engine, platform: str) -> dict[int, int]:
    """Followers online per UTC hour as the platform last reported them; {} where it never did."""
    with Session(engine) as session:
        row = session.get(AudienceHours, platform)
    return {int(h): int(n) for h, n in json.loads(row.hours).items()} if row is not None else {}


def set_follower_count(engine: Engine, platform: str, followers: int, at: datetime | None = None) -> None:
    """Keep the platform's follower count for the (UTC) day of `at`; a later count that day replaces it."""
    at = at or utcnow()
    row = FollowerCount(platform=platform, day=as_utc(at).date(), followers=followers, fetched_at=at)
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def follower_counts(engine: Engine, platform: str) -> list[tuple[date, int]]:
    """The platform's follower count per day it was fetched, oldest first."""
    query = select(FollowerCount.day, FollowerCount.followers).where(FollowerCount.platform == platform)
    with Session(engine) as session:
        return [(day, int(n)) for day, n in session.exec(query.order_by(col(FollowerCount.day))).all()]


def add_correction(engine: Engine, *, text: str, task: str, label: str, message_id: int | None = None) -> LabelCorrection:
    with Session(engine) as session:
        correction = LabelCorrection(message_id=message_id, text=text, task=task, label=label)
        session.add(correction)
        session.commit()
        session.refresh(correction)
        return correction


def list_corrections(engine: Engine, task: str) -> Sequence[LabelCorrection]:
    """The owner's corrections for one task, oldest first; the newest wins when a text repeats."""
    with Session(engine) as session:
        return session.exec(
            select(LabelCorrection).where(LabelCorrection.task == task).order_by(col(LabelCorrection.id))
        ).all()


def get_contact(engine: Engine, contact_id: int) -> Contact | None:
    with Session(engine) as session:
        return _by_id(session, Contact, contact_id)


def find_contact(engine: Engine, platform: str, platform_user_id: str) -> Contact | None:
    with Session(engine) as session:
        return session.exec(
            select(Contact).where(Contact.platform == platform, Contact.platform_user_id == platform_user_id)
        ).first()


def set_opted_out(engine: Engine, contact_id: int, opted_out: bool = True) -> None:
    with Session(engine) as session:
        session.execute(update(Contact).where(col(Contact.id) == contact_id).values(opted_out=opted_out))
        session.commit()


def get_reply(engine: Engine, reply_id: int) -> Reply | None:
    with Session(engine) as session:
        return _by_id(session, Reply, reply_id)


def claim_reply(engine: Engine, reply_id: int, from_status: ReplyStatus) -> bool:
    """Move a reply to `sending` only if it is still in from_status: one sender wins, once."""
    with Session(engine) as session:
        result = session.execute(
            update(Reply)
            .where(col(Reply.id) == reply_id, col(Reply.status) == from_status)
            .values(status=ReplyStatus.sending)
        )
        session.commit()
        return bool(result.rowcount)


def last_private_message_at(engine: Engine, contact_id: int) -> datetime | None:
    """When the contact last wrote to the account privately (a platform's messaging window runs from it)."""
    query = select(func.max(Message.received_at)).where(Message.contact_id == contact_id, Message.kind == MessageKind.private)
    with Session(engine) as session:
        return session.exec(query).first()


def contact_history(engine: Engine, contact_id: int, limit: int) -> list[tuple[str, str]]:
    """The contact's last `limit` exchanges as (their message, our sent reply), oldest first."""
    query = (
        select(Message.text, Reply.text)
        .join(Reply, col(Reply.message_id) == col(Message.id))
        .where(Message.contact_id == contact_id, Reply.status == ReplyStatus.sent)
        .order_by(col(Reply.id).desc())
        .limit(limit)
    )
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [(theirs, ours) for theirs, ours in reversed(rows)]


def count_automatic_replies(
    engine: Engine, *, since: datetime, platform: str | None = None, contact_id: int | None = None
) -> int:
    """Automatic replies sent (or being sent) since a time, for one platform or one contact."""
    query = (
        select(func.count())
        .select_from(Reply)
        .join(Message, col(Reply.message_id) == col(Message.id))
        .where(
            col(Reply.automatic).is_(True),
            col(Reply.status).in_([ReplyStatus.sent, ReplyStatus.sending]),
            col(Reply.created_at) >= since,
        )
    )
    if platform is not None:
        query = query.where(Message.platform == platform)
    if contact_id is not None:
        query = query.where(Message.contact_id == contact_id)
    with Session(engine) as session:
        return int(session.exec(query).one())


def delete_contact(engine: Engine, platform: str, platform_user_id: str) -> dict[str, int]:
    """Right to erasure: the contact, their messages, our replies and label corrections on them."""
    counts = {"contacts": 0, "messages": 0, "replies": 0, "corrections": 0}
    with Session(engine) as session:
        contact = session.exec(
            select(Contact).where(Contact.platform == platform, Contact.platform_user_id == platform_user_id)
        ).first()
        if contact is None:
            return counts
        message_ids = select(Message.id).where(Message.contact_id == contact.id)
        counts["corrections"] = session.execute(
            delete(LabelCorrection).where(col(LabelCorrection.message_id).in_(message_ids))
        ).rowcount
        counts["replies"] = session.execute(delete(Reply).where(col(Reply.message_id).in_(message_ids))).rowcount
        counts["messages"] = session.execute(delete(Message).where(col(Message.contact_id) == contact.id)).rowcount
        counts["contacts"] = session.execute(delete(Contact).where(col(Contact.id) == contact.id)).rowcount
        session.commit()
    return counts


def unfinished_messages(
    engine: Engine, *, limit: int | None = None, skip: Iterable[int] = ()
) -> Sequence[Message]:
    """Messages not yet final (received or understood), oldest first, without the ids in `skip`."""
    query = select(Message).where(col(Message.status).in_(list(UNFINISHED_MESSAGE_STATES)))
    skipped = list(skip)
    if skipped:
        query = query.where(col(Message.id).notin_(skipped))
    query = query.order_by(col(Message.id)).limit(limit)
    with Session(engine) as session:
        return session.exec(query).all()


def owner_replies(engine: Engine, limit: int = 500) -> list[tuple[str, str]]:
    """The newest `limit` replies the owner approved, edited or wrote, as (their message, what was
    sent), newest first: examples of the shop's own voice. An edited reply's text is the edit."""
    query = (
        select(Message.text, Reply.text)
        .join(Reply, col(Reply.message_id) == col(Message.id))
        .where(Reply.status == ReplyStatus.sent, col(Reply.approved_by).is_not(None))
        .order_by(col(Reply.sent_at).desc(), col(Reply.id).desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return [(theirs, ours) for theirs, ours in session.exec(query).all()]
