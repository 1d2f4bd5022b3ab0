"""Bluesky connector on the atproto SDK: mentions, replies and quotes in (polled); replies, posts, engagement out."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from atproto import AsyncClient, models
from atproto_client.exceptions import (
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    RequestException,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest
from atproto_core.exceptions import AtProtocolError

from connectors.base import Connector, Cursor, Inbox, IncomingMessage, OutgoingPost
from connectors.bluesky_posts import (
    BEGINNING,
    MAX_GRAPHEMES,
    PLATFORM,
    NotificationCursor,
    record_key,
    StrongRef,
    graphemes,
    to_incoming,
)
from connectors.delivery import Delivery, Failure, poll_forever
from core.addressing import ReplyAddress
from core.config import BlueskySettings, Settings
from core.errors import ConfigError, ConnectorError, SettingRejected

log = logging.getLogger(__name__)
T = TypeVar("T")

# How far notifications were delivered (bluesky_posts.NotificationCursor), in the receive_cursor table.
CURSOR = "bluesky:notifications"
PAGE = 50  # notifications a page
# The XRPC errors of an access token the server does not take (any more): refresh, else log in again.
SESSION_REFUSED = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})
# A 429 without a usable ratelimit-reset header.
UNKNOWN_RESET_S = 2.0
# The language posts are tagged with, as the SDK's send_post tags them.
LANGUAGE = "en"
# Bluesky refuses image blobs over 1,000,000 bytes.
MAX_IMAGE_BYTES = 1_000_000


def _error_code(exc: BaseException) -> str:
    """The XRPC error name of a failed call ("ExpiredToken", "InvalidRequest"), or ""."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    return str(getattr(content, "error", "") or "")


def _describe(exc: BaseException) -> str:
    """The SDK's error as one line: the status code and the server's own error and message."""
    response = getattr(exc, "response", None)
    if response is None:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    content = response.content
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    words = ": ".join(str(w) for w in (error, message) if w) or str(exc)
    return f"HTTP {response.status_code}: {words}"


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return int(response.status_code) if response is not None else None


class BlueskyConnector(Connector):
    platform = PLATFORM
    # A post's record key comes from its publish key (bluesky_posts.record_key): a retry after a
    # crash meets the record the first try made instead of making a second.
    idempotent_publish = True
    reports_engagement = True  # likes, reposts, replies and quotes of a published post (fetch_engagement)

    def __init__(self, settings: BlueskySettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.handle = env.get(settings.handle_env, "").strip().lstrip("@")
        self._password = env.get(settings.app_password_env, "")
        for value, name, key in (
            (self.handle, settings.handle_env, "handle_env"),
            (self._password, settings.app_password_env, "app_password_env"),
        ):
            if not value:
                raise ConfigError(f"bluesky: set the environment variable {name} (bluesky.{key})")
        self.client = self._new_client()
        self._client_closed = False
        self.delivery = Delivery(self.platform, settings, self._classify)
        self.did = ""
        self._poller: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._unreadable: set[str] = set()
        self._refresh_lock = asyncio.Lock()

    def _new_client(self) -> AsyncClient:
        return AsyncClient(self.settings.base_url, request=AsyncRequest(timeout=self.settings.request_timeout_s))

    def _classify(self, exc: BaseException) -> Failure | None:
        """The SDK's exceptions in delivery terms."""
        if isinstance(exc, RateLimitExceededError):
            reset = exc.reset_at
            wait = (reset - datetime.now(timezone.utc)).total_seconds() if reset is not None else exc.retry_after
            return Failure("rate limited (HTTP 429)", retry_after=wait if wait and wait > 0 else UNKNOWN_RESET_S)
        if isinstance(exc, NetworkError):  # transport failures, 502, 409, 413
            return Failure(_describe(exc), retryable=True)
        if isinstance(exc, RequestErrorBase):
            status = _status(exc)
            return Failure(_describe(exc), retryable=status is not None and status >= 500)
        if isinstance(exc, AtProtocolError):
            return Failure(f"{type(exc).__name__}: {exc}")
        return None

    async def _xrpc(self, call: Callable[[], Awaitable[T]]) -> T:
        """One SDK call; an access token the server no longer takes is refreshed (or the account
        logged in again) and the call made again.

        The SDK refreshes on its own shortly before the token's expiry time; the server may still
        call it expired (revoked, clocks apart), or not know it at all (a PDS that restarted and
        forgot its sessions), which is this case."""
        token = self._access_token()
        try:
            return await call()
        except (BadRequestError, UnauthorizedError) as exc:
            if _error_code(exc) not in SESSION_REFUSED:
                raise
        await self._refresh(token)
        return await call()

    def _access_token(self) -> str:
        session = self.client._session  # the SDK keeps the session without a public name
        return session.access_jwt if session is not None else ""

    async def _refresh(self, expired: str) -> None:
        async with self._refresh_lock:
            if self._access_token() != expired:
                return  # a concurrent call (the poller, a send) refreshed it already
            log.info("bluesky session expired; refreshing it")
            await self._refresh_now()

    async def _refresh_now(self) -> None:
        try:
            # The SDK's own refresh (com.atproto.server.refreshSession), which it has no public name for.
            await self.client._refresh_and_set_session()
        except (BadRequestError, UnauthorizedError) as exc:
            log.info("bluesky refresh token refused (%s); logging in again", _describe(exc))
            await self._login()

    async def _login(self) -> None:
        s = self.settings
        try:
            await self.client.login(self.handle, self._password, fetch_bsky_profile=False)
        except (BadRequestError, UnauthorizedError) as exc:
            raise SettingRejected(
                f"bluesky rejected the login of {self.handle} (${s.handle_env}) with the app password in "
                f"${s.app_password_env} (bluesky.app_password_env): {_describe(exc)}"
            ) from None
        except AtProtocolError as exc:
            raise ConnectorError(f"bluesky: cannot reach {s.base_url} (bluesky.base_url): {_describe(exc)}") from None
        session = self.client._session  # the SDK keeps the session without a public name
        assert session is not None
        self.did = session.did

    # -- receiving -------------------------------------------------------------------------

    async def start(self, inbox: Inbox) -> None:
        self._closed.clear()
        if self._client_closed:  # started again after stop()
            self.client, self._client_closed = self._new_client(), False
        await self._login()
        if await inbox.cursor(CURSOR) is None:
            await self._start_after_history(inbox)
        self._poller = asyncio.create_task(self._poll(inbox), name="bluesky-poller")
        log.info("bluesky connected as @%s (%s) on %s", self.handle, self.did, self.settings.base_url)

    async def _list(self, cursor: str | None, limit: int = PAGE) -> dict[str, Any]:
        """One page of notifications, newest first, as plain JSON: one malformed notification must
        not make the SDK's model of the whole page fail."""
        params = models.AppBskyNotificationListNotifications.Params(limit=limit, cursor=cursor)
        response = await self._xrpc(
            lambda: self.client.invoke_query("app.bsky.notification.listNotifications", params=params)
        )
        content = response.content
        if not isinstance(content, dict) or not isinstance(content.get("notifications"), list):
            raise ConnectorError(f"bluesky listNotifications answered {str(content)[:200]!r}")
        return content

    async def _start_after_history(self, inbox: Inbox) -> None:
        """On the very first start, begin after the newest notification: old mentions are history,
        not questions. The cursor is stored even when there are none, so that this happens once."""
        page = (await self._list(None, limit=1))["notifications"]
        cursor = BEGINNING.after([n for n in page if isinstance(n, dict) and "indexedAt" in n and "uri" in n])
        await inbox.store([], Cursor(CURSOR, str(cursor)))
        if page:
            log.info("bluesky: first start; notifications up to %s are left unanswered", cursor.indexed_at)

    async def _new_notifications(self, since: NotificationCursor) -> list[dict[str, Any]]:
        """Every notification after `since`, oldest first: pages back from the newest until one is seen."""
        found: list[dict[str, Any]] = []
        page_cursor: str | None = None
        while True:
            page = await self._list(page_cursor)
            reached = False
            for n in page["notifications"]:
                indexed_at, uri = (n.get("indexedAt"), n.get("uri")) if isinstance(n, dict) else (None, None)
                if not isinstance(indexed_at, str) or not isinstance(uri, str):
                    if repr(n) not in self._unreadable:  # it stays on the newest page: say so once
                        self._unreadable.add(repr(n))
                        log.warning("bluesky notification %.200r is malformed (no uri or indexedAt); skipped", n)
                    continue
                if since.is_new(indexed_at, uri):
                    found.append(n)
                else:
                    reached = True
            page_cursor = page.get("cursor")
            if reached or not page_cursor or not page["notifications"]:
                return found[::-1]

    async def _poll(self, inbox: Inbox) -> None:
        """Notifications after the stored cursor are stored with the new cursor in one transaction."""
        stored = await inbox.cursor(CURSOR)
        cursor = NotificationCursor.parse(stored) if stored else BEGINNING

        async def poll_round() -> bool:
            nonlocal cursor
            new = await self._new_notifications(cursor)
            if new:
                after = cursor.after(new)
                await inbox.store(self._incoming(new), Cursor(CURSOR, str(after)))
                cursor = after
            return True

        rest = lambda: asyncio.sleep(self.settings.poll_interval_s)  # noqa: E731
        await poll_forever(self.platform, poll_round, rest, self._classify, self.polled)

    def _incoming(self, notifications: list[dict[str, Any]]) -> list[IncomingMessage]:
        found: list[IncomingMessage] = []
        for n in notifications:
            try:
                incoming = to_incoming(n, self.did)
            except LookupError as exc:
                log.info("bluesky notification %s skipped: %s", n.get("uri"), exc)
                continue
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("bluesky notification %s is malformed (%s); skipped", n.get("uri"), exc)
                continue
            if incoming is not None:
                found.append(incoming)
        return found

    async def stop(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        if not self._client_closed:
            self._client_closed = True
            await self.client.request.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def post_length_limit(self) -> int | None:
        return MAX_GRAPHEMES

    # -- sending ---------------------------------------------------------------------------

    def _checked_length(self, text: str, what: str) -> None:
        count = graphemes(text)
        if count > MAX_GRAPHEMES:
            raise ConnectorError(f"bluesky {what} is {count} characters (graphemes); Bluesky allows {MAX_GRAPHEMES}")

    async def _send_post(self, to: str, what: str, text: str, rkey: str | None = None, **fields: Any) -> str:
        """Facets (links, hashtags, mentions resolved to DIDs, at UTF-8 byte offsets) and the post
        record (`fields`: reply, embed), created under `rkey` when given."""
        facets = await self.delivery.send(to, f"{what} facets", lambda: self._xrpc(lambda: self.client.detect_facets(text)))
        record = models.AppBskyFeedPost.Record(
            created_at=self.client.get_current_time_iso(), text=text, facets=facets or None, langs=[LANGUAGE], **fields
        )
        return await self.delivery.send(to, what, lambda: self._xrpc(lambda: self._create(record, rkey)))

    async def _create(self, record: models.AppBskyFeedPost.Record, rkey: str | None) -> str:
        """createRecord; under a key already taken, the record there is ours from an earlier try.

        Today's PDS answers a taken key with a 500 (bluesky-social/atproto#3718), a later one
        with an error of its own (atproto#4728): either way, the record under the key says."""
        try:
            created = await self.client.app.bsky.feed.post.create(self.did, record, rkey=rkey)
        except RequestErrorBase as exc:
            refused = isinstance(exc, (UnauthorizedError, RateLimitExceededError)) or _error_code(exc) == "ExpiredToken"
            if rkey is None or refused or (uri := await self._existing(rkey)) is None:
                raise  # refused before anything was written, or nothing is under the key
            log.info("bluesky post %s was created by an earlier attempt; not posted again", uri)
            return uri
        return str(created.uri)

    async def _existing(self, rkey: str) -> str | None:
        """The URI of our post under `rkey`, or None when there is none (or it cannot be read now)."""
        try:
            found = await self.client.app.bsky.feed.post.get(self.did, rkey)
        except (AtProtocolError, RequestException) as exc:
            if _error_code(exc) != "RecordNotFound":
                log.info("bluesky: cannot tell whether post %s exists (%s)", rkey, _describe(exc))
            return None
        return str(found.uri)

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        try:
            parent = StrongRef.parse(to.message_id)
            root = StrongRef.parse(to.thread_id) if to.thread_id else parent
        except ValueError as exc:
            raise ConnectorError(f"bluesky: cannot answer a {to.visibility} {to.kind} at {to.message_id!r}: {exc}") from None
        if to.is_private:
            raise ConnectorError("bluesky: private messages are not answered here (posts are public)")
        self._checked_length(text, "reply")
        reply = models.AppBskyFeedPost.ReplyRef(
            root=models.ComAtprotoRepoStrongRef.Main(uri=root.uri, cid=root.cid),
            parent=models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid),
        )
        return await self._send_post(to.chat_id or parent.uri, "reply", text, reply=reply)

    async def send_text(self, chat_id: str, text: str) -> str:
        # Bluesky's posts are public; its direct messages are another service this connector does not speak.
        raise ConnectorError("bluesky cannot send private messages: the owner is told on another connector")

    async def publish(self, post: OutgoingPost) -> str:
        self._checked_length(post.text, "post")  # before uploading anything
        embed = None
        if post.image_path:
            path = post.image_path
            try:
                with open(path, "rb") as file:
                    data = file.read(MAX_IMAGE_BYTES + 1)
            except OSError as exc:
                raise ConnectorError(f"bluesky post image {path}: {exc.strerror or exc}") from None
            if len(data) > MAX_IMAGE_BYTES:
                raise ConnectorError(f"bluesky post image {path} is over {MAX_IMAGE_BYTES} bytes, Bluesky's limit")
            upload = await self.delivery.send("media", "image upload", lambda: self._xrpc(lambda: self.client.upload_blob(data)))
            image = models.AppBskyEmbedImages.Image(alt=post.image_alt, image=upload.blob)
            embed = models.AppBskyEmbedImages.Main(images=[image])
        rkey = record_key(post.idempotency_key) if post.idempotency_key else None
        return await self._send_post("post", "post", post.text, rkey=rkey, embed=embed)

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        try:
            found = await self._xrpc(lambda: self.client.get_posts([platform_post_id]))
        except (AtProtocolError, RequestException) as exc:
            raise ConnectorError(f"bluesky engagement of {platform_post_id}: {_describe(exc)}") from exc
        if not found.posts:
            log.info("bluesky post %s is gone; no engagement to fetch", platform_post_id)
            return None
        post = found.posts[0]
        return {
            "likes": int(post.like_count or 0),
            "reposts": int(post.repost_count or 0),
            "replies": int(post.reply_count or 0),
            "quotes": int(post.quote_count or 0),
        }


def from_settings(settings: Settings) -> BlueskyConnector:
    """The bluesky connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return BlueskyConnector(settings.bluesky)
