"""Instagram (professional account) connector on the Graph API: comments, mentions and Direct
messages in (webhooks, or polling: caption @mentions through the tags edge); comment replies,
answers and two-step container publishing (image posts and carousels, resumable after a crash),
media insights and the follower count out."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.base import IncomingMessage, OutgoingPost
from connectors.facebook_events import graph_time, messaging_events
from connectors.graph_api import GraphError
from connectors.graph_connector import GraphConnector
from core.addressing import MessageKind, ReplyAddress, Visibility
from core.config import InstagramSettings, Settings
from core.errors import ConfigError, ConnectorError, RateLimited

log = logging.getLogger(__name__)

PLATFORM = "instagram"
# Meta's insight days run in UTC-07:00: its hour h is UTC hour h + 7.
META_UTC_OFFSET_H = 7
MEDIA_METRICS = "reach,saved,shares"  # a post's insights besides its likes and comments
POLL_MEDIA = 10  # the account's most recent posts whose comments polling reads each round
# Others' posts the account is tagged or @mentioned in (the tags edge, mentioned_media).
TAGGED_FIELDS = "id,caption,timestamp,username,permalink"
COMMENT_FIELDS = "id,text,timestamp,from{id,username},replies{id,text,timestamp,from{id,username}}"


def _comment(c: Mapping[str, Any], media_id: str, thread: str, raw: Mapping[str, Any]) -> IncomingMessage:
    author = c.get("from") or {}
    return IncomingMessage(
        platform=PLATFORM,
        message_id=str(c["id"]),
        user_id=str(author.get("id") or author.get("username") or c.get("username")),
        user_name=str(author.get("username") or c.get("username") or ""),
        text=str(c["text"]),
        # Instagram threads one level deep: a reply to a reply goes under the top-level comment.
        reply_to=ReplyAddress(MessageKind.comment, Visibility.public, chat_id=media_id, message_id=str(c["id"]), thread_id=thread),
        received_at=graph_time(c.get("timestamp")),
        raw=dict(raw),
    )


class InstagramConnector(GraphConnector):
    platform = PLATFORM
    reports_engagement = True  # media insights: likes, comments, reach, saves, shares, views
    # Publishing again is safe: the container on the post row is published only while it is not yet.
    idempotent_publish = True
    publishes_in_two_steps = True
    token_key = "instagram.access_token_env"
    cursor_name = "instagram:poll"
    conversations_platform = "instagram"

    def __init__(self, settings: InstagramSettings, env: Mapping[str, str] | None = None, http: httpx.AsyncClient | None = None) -> None:
        if not settings.account_id:
            raise ConfigError("instagram: set instagram.account_id to the Instagram professional account's id (README \"Connect Instagram\")")
        self.account_id = settings.account_id
        self.ig = settings
        self.username = ""
        super().__init__(settings, settings.access_token_env, os.environ if env is None else env, http)

    async def _identify(self) -> str:
        try:
            me = await self.client.get(self.account_id, fields="id,username")
        except GraphError as exc:
            raise ConnectorError(
                f"instagram: account {self.account_id} (instagram.account_id) with the token in ${self.token_env}: {exc}"
            ) from None
        self.username = str(me.get("username") or "")
        return f"@{self.username} ({self.account_id})"

    def _ours(self, author: Mapping[str, Any]) -> bool:
        return str(author.get("id")) == self.account_id or (bool(self.username) and author.get("username") == self.username)

    # -- receiving -------------------------------------------------------------------------

    async def from_webhook(self, payload: dict[str, Any]) -> list[IncomingMessage]:
        if payload.get("object") != "instagram":
            log.info("instagram webhook for object %r ignored", payload.get("object"))
            return []
        found: list[IncomingMessage] = []
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                try:
                    if change.get("field") == "comments":
                        incoming = self._webhook_comment(value)
                    elif change.get("field") == "mentions":
                        incoming = await self._mention(value)
                    else:
                        continue
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("instagram %s change is malformed and skipped (%s: %s)", change.get("field"), type(exc).__name__, exc)
                    continue
                if incoming is not None:
                    found.append(incoming)
            found.extend(messaging_events(entry, self.account_id, PLATFORM))
        return found

    def _webhook_comment(self, value: Mapping[str, Any]) -> IncomingMessage | None:
        if self._ours(value.get("from") or {}) or not str(value.get("text") or "").strip():
            return None
        media_id = str((value.get("media") or {}).get("id") or "")
        parent = str(value.get("parent_id") or "")
        return _comment(value, media_id, parent or str(value["id"]), value)

    async def _mention(self, value: Mapping[str, Any]) -> IncomingMessage | None:
        """An @mention in a comment or a caption elsewhere: the webhook names it; its text is asked for
        (a failure here refuses the delivery, so Meta sends it again)."""
        media_id = str(value["media_id"])
        if not value.get("comment_id"):  # in the caption of someone else's post
            found = await self.client.get(self.account_id, fields=f"mentioned_media.media_id({media_id}){{{TAGGED_FIELDS}}}")
            return self._caption_mention(found.get("mentioned_media") or {})
        comment_id = str(value["comment_id"])
        found = await self.client.get(
            self.account_id, fields=f"mentioned_comment.comment_id({comment_id}){{id,text,timestamp,username}}"
        )
        c = found.get("mentioned_comment") or {}
        if not c.get("text") or c.get("username") == self.username:
            return None
        return IncomingMessage(
            platform=PLATFORM,
            message_id=comment_id,
            user_id=str(c.get("username") or ""),
            user_name=str(c.get("username") or ""),
            text=str(c["text"]),
            reply_to=ReplyAddress(MessageKind.mention, Visibility.public, chat_id=media_id, message_id=comment_id),
            received_at=graph_time(c.get("timestamp")),
            raw=dict(value),
        )

    def _caption_mention(self, media: Mapping[str, Any]) -> IncomingMessage | None:
        """Someone else's post whose caption @mentions the account, by webhook or polled (/tags): the
        post's id is the message's, so it is stored once either way. A post that only tags the
        account in its photo says nothing to it (and Instagram takes no comment on it from the account)."""
        caption, author = str(media.get("caption") or ""), str(media.get("username") or "")
        if not self.username or f"@{self.username.lower()}" not in caption.lower() or author == self.username:
            return None
        media_id = str(media["id"])
        return IncomingMessage(
            platform=PLATFORM,
            message_id=media_id,
            user_id=author,
            user_name=author,
            text=caption,
            # Answered as a comment on that post (POST /{ig-user-id}/mentions with its media_id alone).
            reply_to=ReplyAddress(MessageKind.mention, Visibility.public, chat_id=media_id, message_id=media_id),
            received_at=graph_time(media.get("timestamp")),
            raw=dict(media),
        )

    @property
    def account(self) -> str:
        return self.account_id

    async def poll_comments(self, since: int) -> tuple[list[IncomingMessage], int]:
        """Comments and replies on the account's recent posts, and others' recent posts whose caption
        @mentions it (Direct: GraphConnector.poll_once). @mentions in comments are found only by
        webhook: the API lists none."""
        newest = since
        found: list[IncomingMessage] = []
        tagged = await self.client.get(f"{self.account_id}/tags", fields=TAGGED_FIELDS, limit=POLL_MEDIA)
        for media in tagged.get("data", []):
            at = int(graph_time(media.get("timestamp")).timestamp())
            mention = self._caption_mention(media) if at >= since else None
            if mention is not None:
                newest = max(newest, at)
                found.append(mention)
        media = await self.client.get(f"{self.account_id}/media", fields="id,timestamp", limit=POLL_MEDIA)
        for item in media.get("data", []):
            media_id = str(item["id"])
            page = await self.client.get(f"{media_id}/comments", fields=COMMENT_FIELDS, limit=50)
            for c in page.get("data", []):
                for one, thread in [(c, str(c["id"])), *((r, str(c["id"])) for r in (c.get("replies") or {}).get("data", []))]:
                    at = int(graph_time(one.get("timestamp")).timestamp())
                    if at < since or self._ours(one.get("from") or {}) or not one.get("text"):
                        continue
                    newest = max(newest, at)
                    found.append(_comment(one, media_id, thread, one))
        return found, newest

    # -- answering -------------------------------------------------------------------------

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        if to.is_private:
            return await self._message(to.chat_id, text)
        if to.kind is MessageKind.mention:
            # A mention in a caption is the post itself (its id is the message's): a comment on it.
            where = {"media_id": to.chat_id} if to.message_id == to.chat_id else {"comment_id": to.message_id, "media_id": to.chat_id}
            answer = await self.delivery.send(
                to.message_id, "mention reply", lambda: self.client.post(f"{self.account_id}/mentions", {**where, "message": text})
            )
        else:
            thread = to.thread_id or to.message_id
            answer = await self.delivery.send(thread, "comment reply", lambda: self.client.post(f"{thread}/replies", {"message": text}))
        return str(answer["id"])

    async def _message(self, recipient: str, text: str) -> str:
        return await self._private_message(self.account_id, recipient, text, "Direct message")

    async def send_text(self, chat_id: str, text: str) -> str:
        return await self._message(chat_id, text)

    async def hide_comment(self, to: ReplyAddress) -> None:
        if to.kind is not MessageKind.comment:
            raise ConnectorError(f"instagram: only comments on the account's posts can be hidden, not a {to.kind}")
        await self.delivery.send(to.message_id, "hide comment", lambda: self.client.post(to.message_id, {"hide": True}))

    # -- publishing: a media container, then media_publish ---------------------------------

    async def prepare(self, post: OutgoingPost) -> str:
        images = post.images
        if not images:
            raise ConnectorError("instagram posts need an image")  # refused at scheduling already
        if len(images) == 1:
            return await self._container({"image_url": images[0], "caption": post.text})
        children = [await self._container({"image_url": url, "is_carousel_item": True}) for url in images]
        return await self._container({"media_type": "CAROUSEL", "children": ",".join(children), "caption": post.text})

    async def _container(self, data: dict[str, Any]) -> str:
        made = await self.delivery.send("media", "media container", lambda: self.client.post(f"{self.account_id}/media", data))
        return str(made["id"])

    async def publish_prepared(self, prepared_id: str, post: OutgoingPost) -> str:
        """Wait until the container is FINISHED, then publish it; one already PUBLISHED (a crash after
        media_publish) is found among the recent posts instead of being published again."""
        s = self.ig
        loop = asyncio.get_running_loop()
        give_up = loop.time() + s.container_timeout_s
        while True:
            container = await self.delivery.send("media", "container status", lambda: self.client.get(prepared_id, fields="status_code,status"))
            status = str(container.get("status_code") or "")
            if status == "FINISHED":
                break
            if status == "PUBLISHED":
                return await self._published_as(prepared_id, post)
            if status in ("ERROR", "EXPIRED"):
                raise ConnectorError(f"instagram media container {prepared_id} is {status}: {container.get('status') or 'no reason given'}")
            if loop.time() >= give_up:
                # Still IN_PROGRESS: try again later from the same container.
                raise RateLimited(f"instagram media container {prepared_id} not ready after {s.container_timeout_s:.0f} s", s.container_timeout_s)
            await asyncio.sleep(s.container_poll_s)
        tried = False

        async def media_publish() -> str:
            nonlocal tried
            if tried:  # a try that timed out may have published it: Meta refuses a container published before
                again = await self.client.get(prepared_id, fields="status_code")
                if again.get("status_code") == "PUBLISHED":
                    return await self._published_as(prepared_id, post)
            tried = True
            return str((await self.client.post(f"{self.account_id}/media_publish", {"creation_id": prepared_id}))["id"])

        return await self.delivery.send("media", "media_publish", media_publish)

    async def _published_as(self, prepared_id: str, post: OutgoingPost) -> str:
        """The account's post made from this container. Instagram does not say which post a container
        became: it is the newest with the post's caption (the container was published, so its post
        is newer than any earlier one with the same words)."""
        recent = await self.client.get(f"{self.account_id}/media", fields="id,caption", limit=POLL_MEDIA)
        for item in recent.get("data", []):  # newest first
            if (item.get("caption") or "") == post.text:
                log.info("instagram container %s was published before a restart, as %s", prepared_id, item["id"])
                return str(item["id"])
        raise ConnectorError(f"instagram media container {prepared_id} was published, but the post is not among the recent ones: check Instagram")

    async def publish(self, post: OutgoingPost) -> str:
        return await self.publish_prepared(await self.prepare(post), post)

    async def fetch_audience_hours(self) -> dict[int, int] | None:
        """The online_followers insight of the last days (Meta: up to 30), the newest day that has
        one. Meta's days end at UTC-07:00, and its hours are of that day: hour h is UTC h+7."""
        until = int(time.time())
        found = await self.client.get(
            f"{self.account_id}/insights", metric="online_followers", period="lifetime", since=until - 3 * 86400, until=until
        )
        for metric in found.get("data", []):
            for day in reversed(metric.get("values") or []):
                by_hour = day.get("value")
                if isinstance(by_hour, Mapping) and by_hour:
                    return {(int(h) + META_UTC_OFFSET_H) % 24: int(n or 0) for h, n in by_hour.items()}
        return None  # fewer than 100 followers, or no data yet

    async def fetch_follower_count(self) -> int | None:
        me = await self.client.get(self.account_id, fields="followers_count")
        return int(me["followers_count"]) if me.get("followers_count") is not None else None

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        try:
            media = await self.client.get(platform_post_id, fields="like_count,comments_count")
        except GraphError as exc:
            if exc.body.code == 100:
                log.info("instagram post %s is gone; no engagement to fetch", platform_post_id)
                return None
            raise
        counts = {"likes": int(media.get("like_count") or 0), "comments": int(media.get("comments_count") or 0)}
        insights: dict[str, Any] = {}
        # `views` replaced `impressions` (API v22); where Meta does not count them, the rest is asked alone.
        for metrics in (MEDIA_METRICS + ",views", MEDIA_METRICS):
            try:
                insights = await self.client.get(f"{platform_post_id}/insights", metric=metrics)
                break
            except GraphError as exc:  # e.g. a post from before the account was a professional one
                log.info("instagram insights %s of %s unavailable: %s", metrics, platform_post_id, exc)
        for metric in insights.get("data", []):
            values = metric.get("values") or [{}]
            counts[str(metric.get("name"))] = int(values[-1].get("value") or 0)
        return counts


def from_settings(settings: Settings) -> InstagramConnector:
    """The instagram connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return InstagramConnector(settings.instagram)
