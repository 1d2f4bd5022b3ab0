"""The typed interface every platform connector implements, and the plain types it speaks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from core.addressing import MessageKind, ReplyAddress, Visibility
from core.errors import ConnectorError


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a platform, turned into project terms at the connector's edge.

    message_id is the platform's unique id of the message (the key that recognises a redelivery),
    never parsed again; where a reply goes is `reply_to`, typed."""

    platform: str
    message_id: str
    user_id: str
    text: str
    reply_to: ReplyAddress
    user_name: str = ""
    received_at: datetime = field(default_factory=_now)
    # The platform's own payload, kept beside the plain fields for debugging and later use.
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def kind(self) -> MessageKind:
        return self.reply_to.kind

    @property
    def visibility(self) -> Visibility:
        return self.reply_to.visibility

    @property
    def chat_id(self) -> str:
        return self.reply_to.chat_id

    @property
    def thread_id(self) -> str:
        return self.reply_to.thread_id


@dataclass(frozen=True)
class OutgoingPost:
    """A post to publish on a platform."""

    text: str
    image_path: str | None = None
    image_alt: str = ""  # the image's description for people who cannot see it
    # Further images after image_path: a carousel where the platform has them (Instagram).
    more_images: tuple[str, ...] = ()
    # The same key on every attempt at one post; platforms that deduplicate by it (an
    # Idempotency-Key header, a client message id) never create the post twice.
    idempotency_key: str | None = None

    @property
    def images(self) -> tuple[str, ...]:
        """Every image of the post, in order (files or URLs)."""
        return ((self.image_path,) if self.image_path else ()) + self.more_images


@dataclass(frozen=True)
class Cursor:
    """How far a polled platform has delivered (Telegram's next update offset), by name."""

    name: str
    value: str


class Inbox(Protocol):
    """Where a connector puts what it receives. The rule every connector follows: store first,
    then acknowledge. A connector tells the platform a message arrived (moves a poll offset on,
    answers a webhook, acks an event) only after `store` returned, never before and never
    instead; when `store` raises, it does not acknowledge, so the platform delivers again."""

    async def store(self, messages: Sequence[IncomingMessage], cursor: Cursor | None = None) -> None:
        """Commit the messages (and a polled platform's cursor) in one transaction; return after
        the commit. A message stored before (same platform id) is recognised and kept once.
        Fast: it never waits for the messages to be processed."""
        ...

    async def cursor(self, name: str) -> str | None:
        """The cursor last stored under `name`, or None."""
        ...


class Connector(ABC):
    """A platform: receives messages into an Inbox (store first, then acknowledge); sends replies and posts."""

    #: The platform name stored on every row ("console", "telegram", "slack", ...).
    platform: str
    #: True when the platform deduplicates publishes by OutgoingPost.idempotency_key, so a
    #: publish whose outcome is unknown (a crash, a timeout) may be retried safely.
    idempotent_publish: bool = False
    #: True when the connector overrides fetch_engagement; posts elsewhere are not asked for it.
    reports_engagement: bool = False
    #: True when every post is published in two steps with something in between worth keeping
    #: (Instagram's media container): the publisher calls prepare(), stores what it returns on the
    #: post row, then publish_prepared(); after a crash it resumes from the stored id. A connector
    #: where only some posts take two steps says which in `in_two_steps`.
    publishes_in_two_steps: bool = False
    #: How long after a person's last private message the platform lets the account answer it
    #: (Messenger's 24 hours); None where it does not limit this. Past it a reply waits for the owner.
    messaging_window: timedelta | None = None
    #: Set when the connector stopped on its own for a reason only the owner can fix (a revoked
    #: token): what happened and what to do, in words for the owner.
    failure: str | None = None

    #: Set by the bot (bot/connections.py): told after each poll, with None when it worked, else
    #: what went wrong, so that the owner hears once that a platform is down, not once per try.
    on_poll: Callable[[str, str | None], None] | None = None

    def polled(self, failure: str | None = None) -> None:
        """A poller calls this after each poll (failure: what went wrong, in words)."""
        if self.on_poll is not None:
            self.on_poll(self.platform, failure)

    def post_length_limit(self) -> int | None:
        """The longest post the platform takes, as it says itself (read at start); None: the
        config's [brand] length_limits stands."""
        return None

    @abstractmethod
    async def start(self, inbox: Inbox) -> None:
        """Begin receiving; every incoming message goes through `inbox.store` before it is acknowledged."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving and release the platform's resources. Safe to call twice."""

    @abstractmethod
    async def wait_closed(self) -> None:
        """Return when the connector has stopped, by stop() or because its source ended."""

    @abstractmethod
    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        """Answer a message where it was written, as the same kind and with the same visibility
        (a private message privately, a public comment in its thread); returns the platform's id
        of the reply. Raise ConnectorError for an address that does not fit the platform."""

    @abstractmethod
    async def send_text(self, chat_id: str, text: str) -> str:
        """Send a message to a chat (for example the owner's); returns the platform's id."""

    @abstractmethod
    async def publish(self, post: OutgoingPost) -> str:
        """Publish a post on the account's channel; returns the platform's id of the post.

        Raise RateLimited when the platform asks to wait, ConnectorError when it refused the
        post for good (a 4xx: the message is kept on the post); anything else (5xx, network)
        means the outcome is unknown.
        """

    def in_two_steps(self, post: OutgoingPost) -> bool:
        """Whether this post is published in two steps (prepare, then publish_prepared). Such a post
        may be published again after a crash or an unknown outcome: prepare makes nothing anyone
        sees, and publish_prepared finds what it published before instead of publishing twice."""
        return self.publishes_in_two_steps

    async def prepare(self, post: OutgoingPost) -> str:
        """The first of two publishing steps (in_two_steps): returns the prepared post's id."""
        raise ConnectorError(f"{self.platform} publishes in one step")

    async def publish_prepared(self, prepared_id: str, post: OutgoingPost) -> str:
        """The second step: publish what prepare() made (once, also when called again after a
        crash); returns the platform's id of the post. Raises as publish() does."""
        raise ConnectorError(f"{self.platform} publishes in one step")

    def webhook_routes(self) -> Sequence[Any]:
        """Starlette routes (`starlette.routing.Route`) where the platform delivers webhooks.

        The bot serves every running connector's routes from its one HTTP server (the dashboard's,
        on `[web] listen`/`port`), so a reverse proxy needs one port. Polling platforms have none.
        """
        return ()

    async def hide_comment(self, to: ReplyAddress) -> None:
        """Hide a public comment from everyone but its author and the account (the owner's /hide)."""
        raise ConnectorError(f"{self.platform} cannot hide comments")

    async def delete_comment(self, to: ReplyAddress) -> None:
        """Delete a public comment under the account's post, for everyone (the owner's /delete)."""
        raise ConnectorError(f"{self.platform} cannot delete comments")

    async def fetch_audience_hours(self) -> dict[int, int] | None:
        """How many of the account's followers are online at each hour of the day, keyed by the
        UTC hour (0-23): a prior for the best posting time. None where the platform does not say."""
        return None

    async def fetch_follower_count(self) -> int | None:
        """How many followers the account has now; None where the platform does not say."""
        return None

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        """Engagement counts of a published post (e.g. {"views": 120, "reactions": 7}).

        None where the platform does not offer them to a bot; connectors that can, override this.
        """
        return None
