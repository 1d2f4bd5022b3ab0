"""Facebook Page connector on the Graph API: feed comments and Messenger in (webhooks or polling);
comment replies in their thread, Messenger answers, hidden comments, text/link/photo posts (several
photos: uploaded unpublished, then one post, resumable after a crash), post insights and the page's
follower count out."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from connectors.base import IncomingMessage, OutgoingPost
from connectors.facebook_events import PLATFORM, comment, graph_time, page_delivery
from connectors.graph_api import GraphError
from connectors.graph_connector import GraphConnector
from core.addressing import MessageKind, ReplyAddress
from core.config import FacebookSettings, Settings
from core.errors import ConfigError, ConnectorError

log = logging.getLogger(__name__)

# The page's most recent posts whose new comments polling reads each round.
POLL_POSTS = 10
COMMENT_FIELDS = "id,from{id,name},message,created_time,parent{id}"
# The photos a post shows: one photo is the attachment's target, several are its subattachments'.
ATTACHED_PHOTOS = "attachments{target{id},subattachments{target{id}}}"
_URL = re.compile(r"https?://\S+")


def is_url(where: str) -> bool:
    return where.startswith(("http://", "https://"))


class FacebookConnector(GraphConnector):
    platform = PLATFORM
    reports_engagement = True  # post insights: reactions, comments, shares, impressions, reach
    token_key = "facebook.page_token_env"
    cursor_name = "facebook:poll"
    conversations_platform = "messenger"

    def __init__(self, settings: FacebookSettings, env: Mapping[str, str] | None = None, http: httpx.AsyncClient | None = None) -> None:
        if not settings.page_id:
            raise ConfigError("facebook: set facebook.page_id to the page's numeric id (the page's About section, or GET /me with its token)")
        self.page_id = settings.page_id
        super().__init__(settings, settings.page_token_env, os.environ if env is None else env, http)

    async def _identify(self) -> str:
        try:
            page = await self.client.get(self.page_id, fields="id,name")
        except GraphError as exc:
            raise ConnectorError(f"facebook: page {self.page_id} (facebook.page_id) with the token in ${self.token_env}: {exc}") from None
        return f"{page.get('name', '?')} (page {page.get('id', self.page_id)})"

    # -- receiving -------------------------------------------------------------------------

    async def from_webhook(self, payload: dict[str, Any]) -> list[IncomingMessage]:
        return page_delivery(payload, self.page_id)

    @property
    def account(self) -> str:
        return self.page_id

    async def poll_comments(self, since: int) -> tuple[list[IncomingMessage], int]:
        """New comments (with replies) under the page's recent posts (Messenger: GraphConnector.poll_once)."""
        newest = since
        found: list[IncomingMessage] = []
        feed = await self.client.get(f"{self.page_id}/feed", fields="id,updated_time", limit=POLL_POSTS)
        for post in feed.get("data", []):
            post_id = str(post["id"])
            page = await self.client.get(
                f"{post_id}/comments", fields=COMMENT_FIELDS, filter="stream", order="chronological", since=since, limit=100
            )
            for c in page.get("data", []):
                author = c.get("from") or {}
                created = _unix(c.get("created_time"))
                newest = max(newest, created)
                if str(author.get("id")) == self.page_id or not author.get("id") or not c.get("message"):
                    continue  # the page's own comment, or one without words (or whose author Graph hides)
                parent = (c.get("parent") or {}).get("id") or ""
                found.append(comment(str(c["id"]), post_id, str(parent), author, str(c["message"]), c.get("created_time"), c))
        return found, newest

    # -- answering -------------------------------------------------------------------------

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        if to.is_private:
            return await self._message(to.chat_id, text)
        if to.kind is not MessageKind.comment or not to.message_id:
            raise ConnectorError(f"facebook: cannot answer a {to.kind} at {to.message_id!r}")
        thread = to.thread_id or to.message_id
        answer = await self.delivery.send(thread, "comment reply", lambda: self.client.post(f"{thread}/comments", {"message": text}))
        return str(answer["id"])

    async def _message(self, recipient: str, text: str) -> str:
        return await self._private_message(self.page_id, recipient, text, "Messenger message", messaging_type="RESPONSE")

    async def send_text(self, chat_id: str, text: str) -> str:
        """A Messenger message to the owner (their page-scoped id)."""
        return await self._message(chat_id, text)

    async def hide_comment(self, to: ReplyAddress) -> None:
        if to.kind is not MessageKind.comment:
            raise ConnectorError(f"facebook: only comments can be hidden, not a {to.kind}")
        await self.delivery.send(to.message_id, "hide comment", lambda: self.client.post(to.message_id, {"is_hidden": True}))

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, post: OutgoingPost) -> str:
        """A text or link post, or a one-photo post (several photos: prepare, then publish_prepared)."""
        if self.in_two_steps(post):
            return await self.publish_prepared(await self.prepare(post), post)
        if post.images:
            created = await self.delivery.send(
                "post", "photo post", lambda: self._upload(post.images[0], {"caption": post.text})
            )
            # A photo post has the photo's id and the feed post's id; engagement is the post's.
            return str(created.get("post_id") or created["id"])
        data: dict[str, Any] = {"message": post.text}
        link = _URL.search(post.text)
        if link:
            data["link"] = link.group(0).rstrip(".,;:!?)")
        created = await self.delivery.send("post", "post", lambda: self.client.post(f"{self.page_id}/feed", data))
        return str(created["id"])

    def in_two_steps(self, post: OutgoingPost) -> bool:
        # Several photos: each uploaded unpublished (nobody sees it), then one feed post shows them all.
        return len(post.images) > 1

    async def prepare(self, post: OutgoingPost) -> str:
        """Upload each photo unpublished; returns their ids, comma-separated, for the post row."""
        ids: list[str] = []
        for image in post.images:
            uploaded = await self.delivery.send("post", "photo upload", lambda: self._upload(image, {"published": False}))
            ids.append(str(uploaded["id"]))
        return ",".join(ids)

    async def publish_prepared(self, prepared_id: str, post: OutgoingPost) -> str:
        """One feed post with the uploaded photos attached; a post that already carries them (the
        feed call went through before a crash) is found among the page's recent posts instead."""
        photos = prepared_id.split(",")

        async def attach() -> str:
            # Asked before every try, also a retry after a timeout: the call before may have gone through.
            earlier = await self._post_with_photo(photos[0])
            if earlier:
                log.info("facebook photos %s were posted before, as %s", prepared_id, earlier)
                return earlier
            data = {"message": post.text, "attached_media": [{"media_fbid": photo} for photo in photos]}
            return str((await self.client.post(f"{self.page_id}/feed", data))["id"])

        return await self.delivery.send("post", "photo post", attach)

    async def _post_with_photo(self, photo_id: str) -> str:
        """The id of the page's recent post that shows this photo, or ""."""
        recent = await self.client.get(f"{self.page_id}/feed", fields=f"id,{ATTACHED_PHOTOS}", limit=POLL_POSTS)
        for item in recent.get("data", []):
            for attachment in (item.get("attachments") or {}).get("data", []):
                shown = [attachment, *(attachment.get("subattachments") or {}).get("data", [])]
                if any(str((a.get("target") or {}).get("id")) == photo_id for a in shown):
                    return str(item["id"])
        return ""

    async def _upload(self, image: str, extra: dict[str, Any]) -> dict[str, Any]:
        """POST /{page-id}/photos with the image by URL (Facebook fetches it) or as a file."""
        if is_url(image):
            return await self.client.post(f"{self.page_id}/photos", {"url": image, **extra})
        path = Path(image)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConnectorError(f"facebook post image {image}: {exc.strerror or exc}") from None
        return await self.client.post(f"{self.page_id}/photos", extra, files={"source": (path.name, data)})

    async def fetch_follower_count(self) -> int | None:
        """The page's followers (`followers_count`; `fan_count`, its likes, where a page has no followers count)."""
        page = await self.client.get(self.page_id, fields="followers_count,fan_count")
        count = page.get("followers_count", page.get("fan_count"))
        return int(count) if count is not None else None

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        try:
            post = await self.client.get(
                platform_post_id,
                fields="shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),"
                "insights.metric(post_impressions,post_impressions_unique)",
            )
        except GraphError as exc:
            if exc.body.code == 100:  # the object does not exist (any more)
                log.info("facebook post %s is gone; no engagement to fetch", platform_post_id)
                return None
            raise
        counts = {
            "reactions": _total(post.get("reactions")),
            "comments": _total(post.get("comments")),
            "shares": int((post.get("shares") or {}).get("count") or 0),
        }
        metrics = {m.get("name"): m for m in (post.get("insights") or {}).get("data", []) if isinstance(m, Mapping)}
        for name, key in (("post_impressions", "impressions"), ("post_impressions_unique", "reach")):
            if name in metrics:
                counts[key] = _latest(metrics[name])
        return counts


def _total(edge: Any) -> int:
    return int(((edge or {}).get("summary") or {}).get("total_count") or 0)


def _latest(metric: Mapping[str, Any]) -> int:
    values = metric.get("values") or [{}]
    return int(values[-1].get("value") or 0)


def _unix(value: Any) -> int:
    return int(graph_time(value).timestamp())


def from_settings(settings: Settings) -> FacebookConnector:
    """The facebook connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return FacebookConnector(settings.facebook)
