"""Where a message was written and where its reply goes: kind, visibility and the typed reply address."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MessageKind(StrEnum):
    """What a follower's message is on its platform."""

    private = "private"  # a direct message: Telegram private chat, Slack DM, Mastodon direct, Messenger
    comment = "comment"  # a comment or reply under a post or in a thread: Telegram discussion, Facebook, Bluesky reply
    mention = "mention"  # the account named in a group or in public: Telegram group, Slack channel, Mastodon mention


class Visibility(StrEnum):
    """Who sees the message, and so who may see its reply (the reply never reaches further)."""

    direct = "direct"  # only the sender and the account
    group = "group"  # the members of a closed group or channel (Telegram group, Slack channel)
    followers = "followers"  # the author's followers (Mastodon "private")
    unlisted = "unlisted"  # anyone with the link, not in public timelines (Mastodon)
    public = "public"  # anyone


@dataclass(frozen=True)
class ReplyAddress:
    """Everything a connector needs to answer a message where it was written, stored as columns.

    chat_id: the conversation, chat or channel the reply is posted in (on Mastodon, which has no
    chats, the author's account, whom the reply names); message_id: the platform's id of the message being
    answered, as the platform's reply call takes it (Telegram's per-chat number, Slack's ts, a
    status id or post URI); thread_id: the thread or post it belongs to ("" when it is none).
    A private message is direct and only a private message is: mixing them up is refused here."""

    kind: MessageKind
    visibility: Visibility
    chat_id: str
    message_id: str
    thread_id: str = ""

    def __post_init__(self) -> None:
        if (self.kind == MessageKind.private) != (self.visibility == Visibility.direct):
            raise ValueError(f"a {self.kind} message cannot have {self.visibility} visibility")

    @property
    def is_private(self) -> bool:
        return self.kind == MessageKind.private
