"""The database tables: contacts, messages, replies, posts, and the polled platforms' cursors."""

from __future__ import annotations

from datetime import date, datetime, timezone
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.addressing import MessageKind, ReplyAddress, Visibility
from storage.message_states import MessageStatus


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ReplyStatus(StrEnum):
    pending = "pending"
    sending = "sending"  # claimed for sending; a crash here must not lead to a second send
    sent = "sent"
    rejected = "rejected"
    failed = "failed"


class PostStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    publishing = "publishing"
    published = "published"
    failed = "failed"
    missed = "missed"
    cancelled = "cancelled"


class Contact(SQLModel, table=True):
    """A person who wrote to the account on one platform."""

    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    platform_user_id: str
    display_name: str = ""
    opted_out: bool = False  # asked us to stop: no more automatic messages
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    """One incoming follower message, stored before anything else happens to it."""

    # The report and the dashboard's analytics count messages over a date range by status, intent,
    # sentiment and escalation: the index covers those counts (a year of 100,000 messages: 600 -> 100 ms a count).
    __table_args__ = (
        UniqueConstraint("platform", "platform_message_id"),
        Index("ix_message_received_at", "received_at", "status", "intent", "sentiment", "escalated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    platform_message_id: str
    contact_id: int = Field(foreign_key="contact.id", index=True)
    # Where a reply goes (core/addressing.py), so a stored message is answered after a restart
    # exactly where it was written. No defaults: a row that does not say is refused on insert.
    kind: MessageKind
    visibility: Visibility
    chat_id: str = ""
    reply_to_id: str
    thread_id: str = ""
    text: str
    received_at: datetime = Field(default_factory=utcnow)
    status: MessageStatus = Field(default=MessageStatus.received, index=True)
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment: str | None = None
    sentiment_confidence: float | None = None
    offensive_probability: float | None = None  # how likely the message is abusive
    sarcastic_probability: float | None = None  # how likely it says the opposite of what it means
    language: str | None = None  # ISO 639-1 as detected; "" when too short or unclear to tell
    # Why the message is in its state: the policy's reason ("asked to stop", "complaint"), or the
    # error that failed it.
    status_reason: str | None = None
    # When the bot handed the message to the owner; kept after the owner answers it, so the report
    # counts every escalation, not only those still waiting.
    escalated_at: datetime | None = None

    @property
    def reply_address(self) -> ReplyAddress:
        return ReplyAddress(
            kind=MessageKind(self.kind),
            visibility=Visibility(self.visibility),
            chat_id=self.chat_id,
            message_id=self.reply_to_id,
            thread_id=self.thread_id,
        )


class Reply(SQLModel, table=True):
    """A drafted answer to one message: sent, waiting for the owner, or rejected."""

    # The report and the analytics ask "replies sent in this date range", by who sent them and how
    # long after their message: the index covers it.
    __table_args__ = (Index("ix_reply_status_sent_at", "status", "sent_at", "automatic", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    text: str
    status: ReplyStatus = Field(default=ReplyStatus.pending, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    platform_reply_id: str | None = None
    automatic: bool = False  # sent by the policy without the owner
    approved_by: str | None = None
    approved_at: datetime | None = None
    check_failures: str | None = None
    error: str | None = None


class Post(SQLModel, table=True):
    """A post for one platform, from draft to published."""

    # The scheduler asks "the next scheduled post, by time" all day: without this it would walk
    # past every published post in the scheduled_at index.
    # published_at: the calendar and the analytics read posts by when they went out.
    __table_args__ = (
        Index("ix_post_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_post_published_at", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    text: str
    status: PostStatus = Field(default=PostStatus.draft, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    scheduled_at: datetime | None = Field(default=None, index=True)
    published_at: datetime | None = None
    platform_post_id: str | None = None
    error: str | None = None
    content_type: str = ""  # "photo", "link", ... when known; the timing model learns per type
    # Set when the row is first claimed for publishing and kept across retries, so a platform
    # that deduplicates by key never creates the post twice (see bot/publisher.py).
    publish_key: str | None = None
    attempts: int = 0
    # When to ask the platform for this published post's engagement; cleared once asked. The
    # scheduler sweeps for due ones, so the post table is the whole schedule (no job per post).
    engagement_due_at: datetime | None = Field(default=None, index=True)
    # One post for several platforms is one row per platform (each with its own length, time and
    # outcome); the rows share the first row's id here. None: a post for one platform.
    group_id: int | None = Field(default=None, index=True)
    # The post's images, one file path or URL a line, in order ("" for a text post); files are read
    # at publish time.
    media: str = ""
    # What the images show, for people who cannot see them (given to every platform that takes it).
    image_alt: str = ""
    # A platform that publishes in two steps (Instagram's media container) keeps what the first
    # step made here before the second, so a restart resumes from it instead of making another.
    container_id: str | None = None

    @property
    def images(self) -> list[str]:
        return [line for line in self.media.splitlines() if line.strip()]


class EngagementSample(SQLModel, table=True):
    """Engagement of one published post as the platform reported it at one moment."""

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    fetched_at: datetime = Field(default_factory=utcnow)
    interactions: int  # reactions + comments + shares + ...; views when that is all there is
    counts: str = "{}"  # the platform's counts as JSON


class LabelCorrection(SQLModel, table=True):
    """The owner's correction of a classifier's label on a message, kept to retrain the heads."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    text: str
    task: str = Field(index=True)  # "intent", "sentiment", ...
    label: str
    created_at: datetime = Field(default_factory=utcnow)


class ReceiveCursor(SQLModel, table=True):
    """How far a polled platform has delivered (e.g. Telegram's next update offset).

    Written in the same transaction as the messages it delivered, so after a crash the bot
    neither skips a stored-less update nor confirms one it never stored."""

    __tablename__ = "receive_cursor"

    name: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(default_factory=utcnow)


class AudienceHours(SQLModel, table=True):
    """How many of an account's followers are online at each UTC hour, as its platform last said:
    the best-time model's prior where the platform gives it (Instagram's online_followers)."""

    __tablename__ = "audience_hours"

    platform: str = Field(primary_key=True)
    hours: str = "{}"  # JSON: {"0": followers online at 00 UTC, ..., "23": ...}
    fetched_at: datetime = Field(default_factory=utcnow)


class FollowerCount(SQLModel, table=True):
    """How many followers an account had on a day (UTC), as its platform last said that day: what
    `/report` and the analytics page show, and how the best-time model compares the engagement of
    posts made while the account was smaller with today's."""

    __tablename__ = "follower_count"

    platform: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    followers: int
    fetched_at: datetime = Field(default_factory=utcnow)
