"""Bluesky posts in project terms: notifications to IncomingMessage, strong refs in a reply address, graphemes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

from connectors.base import IncomingMessage
from core.addressing import MessageKind, ReplyAddress, Visibility

log = logging.getLogger(__name__)

PLATFORM = "bluesky"
#: Bluesky's limit on a post's text, counted in graphemes (what a reader sees as one character).
MAX_GRAPHEMES = 300

#: The notification reasons that are a follower talking to us, and what kind of message each is.
KINDS: dict[str, MessageKind] = {
    "mention": MessageKind.mention,
    "reply": MessageKind.comment,
    "quote": MessageKind.mention,
}
_POST = "app.bsky.feed.post"


# TIDs are written in base32 with this "sortable" alphabet (atproto.com/specs/tid).
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# The time part of a record key derived from a publish key falls in the 4.5 years after this
# (2020-09-13 to 2025-03): a valid TID, never one from the future, not the post's real time.
_TID_EPOCH_US = 1_600_000_000_000_000


def record_key(idempotency_key: str) -> str:
    """A post's record key derived from its publish key: the same key gives the same record key,
    so a second createRecord for one post meets the first instead of making a duplicate.

    A TID (13 characters: 53 bits of microseconds, 10 bits of clock id), the key type the
    app.bsky.feed.post lexicon asks for, made from 57 bits of the key's SHA-256."""
    digest = int.from_bytes(hashlib.sha256(idempotency_key.encode()).digest()[:8], "big")
    micros = _TID_EPOCH_US + (digest >> 17)  # 47 bits: about 4.5 years
    clock_id = digest & 0x3FF
    value = (micros << 10) | clock_id  # below 2**63: the top bit stays 0, as the spec requires
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def graphemes(text: str) -> int:
    """The length Bluesky counts: extended grapheme clusters (an emoji with its skin tone or a
    family joined by ZWJ is one), as the Bluesky app counts them."""
    return len(regex.findall(r"\X", text))


@dataclass(frozen=True)
class StrongRef:
    """A post by its URI and the CID of the exact version answered (what a reply record names)."""

    uri: str
    cid: str

    def __str__(self) -> str:
        # Neither an AT URI nor a CID contains a space: one string for a reply address column.
        return f"{self.uri} {self.cid}"

    @classmethod
    def parse(cls, text: str) -> StrongRef:
        uri, _, cid = text.partition(" ")
        if not uri.startswith("at://") or not cid or " " in cid:
            raise ValueError(f"not a Bluesky post reference: {text!r}")
        return cls(uri, cid)

    @classmethod
    def of(cls, raw: Any) -> StrongRef:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("uri"), str) or not isinstance(raw.get("cid"), str):
            raise ValueError(f"not a strong ref: {raw!r}")
        return cls(raw["uri"], raw["cid"])

    def as_record(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


@dataclass(frozen=True)
class NotificationCursor:
    """How far notifications were delivered: the newest indexedAt, and the posts seen at exactly
    that instant (several may share it; the next poll skips only those)."""

    indexed_at: str
    uris: tuple[str, ...] = ()

    def __str__(self) -> str:
        return json.dumps({"indexedAt": self.indexed_at, "uris": list(self.uris)})

    @classmethod
    def parse(cls, text: str) -> NotificationCursor:
        value = json.loads(text)
        return cls(str(value["indexedAt"]), tuple(str(u) for u in value.get("uris", [])))

    def is_new(self, indexed_at: str, uri: str) -> bool:
        return indexed_at > self.indexed_at or (indexed_at == self.indexed_at and uri not in self.uris)

    def after(self, notifications: list[Mapping[str, Any]]) -> NotificationCursor:
        """The cursor once `notifications` (all new) are delivered too."""
        newest = max([self.indexed_at, *(str(n["indexedAt"]) for n in notifications)])
        same = [str(n["uri"]) for n in notifications if str(n["indexedAt"]) == newest]
        if newest == self.indexed_at:
            same = [*self.uris, *same]
        return NotificationCursor(newest, tuple(same))


#: Before the first notification ever: everything is new.
BEGINNING = NotificationCursor("")


def _text_for_us(record: Mapping[str, Any], my_did: str) -> str:
    """The post's text with our own mentions taken out (others' stay), by its mention facets'
    UTF-8 byte ranges."""
    data = str(record["text"]).encode()
    ours: list[tuple[int, int]] = []
    for facet in record.get("facets") or []:
        features = facet.get("features") if isinstance(facet, Mapping) else None
        index = facet.get("index") if isinstance(facet, Mapping) else None
        if not isinstance(features, list) or not isinstance(index, Mapping):
            continue
        if any(isinstance(f, Mapping) and f.get("did") == my_did for f in features):
            start, end = index.get("byteStart"), index.get("byteEnd")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data):
                ours.append((start, end))
    for start, end in sorted(ours, reverse=True):
        data = data[:start] + data[end:]
    return data.decode(errors="replace").strip()


def to_incoming(notification: Mapping[str, Any], my_did: str) -> IncomingMessage | None:
    """A notification as a follower's message; None for what is not one (likes, follows, our own
    posts). A notification that cannot be read raises ValueError, one that names a post no longer
    there raises LookupError: the caller logs one line and skips it."""
    reason = notification.get("reason")
    kind = KINDS.get(reason) if isinstance(reason, str) else None
    if kind is None:
        return None
    record = notification.get("record")
    if not record or not isinstance(record, Mapping):
        raise LookupError("its post was deleted")
    if record.get("$type") != _POST or not isinstance(record.get("text"), str):
        raise ValueError(f"its record is not a post ({record.get('$type')!r})")
    author = notification.get("author")
    if not isinstance(author, Mapping) or not isinstance(author.get("did"), str) or not author["did"]:
        raise ValueError("it names no author")
    if author["did"] == my_did:
        return None  # never answer ourselves
    post = StrongRef.of(notification)
    reply = record.get("reply")
    if reply is not None:
        root = StrongRef.of(reply.get("root") if isinstance(reply, Mapping) else None)
    else:
        root = post
    handle = author.get("handle") if isinstance(author.get("handle"), str) else ""
    return IncomingMessage(
        platform=PLATFORM,
        message_id=post.uri,
        user_id=author["did"],
        user_name=str(author.get("displayName") or handle),
        text=_text_for_us(record, my_did),
        # The reply goes under this post (parent) in its thread (root): both are strong refs.
        reply_to=ReplyAddress(kind, Visibility.public, chat_id=author["did"], message_id=str(post), thread_id=str(root)),
        raw=dict(notification),
    )
