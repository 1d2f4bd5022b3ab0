"""Mastodon connector on Mastodon.py: mentions, replies and direct messages in (polled, woken by the
streaming API); replies, posts with images, engagement out."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from connectors.base import Connector, Cursor, Inbox, IncomingMessage, OutgoingPost
from connectors.delivery import POLL_BACKOFF_S, Delivery, Failure, poll_forever
from connectors.mastodon_statuses import MASTODON_VISIBILITY, PLATFORM, Me, ordered_id, status_length, to_incoming
from core.addressing import ReplyAddress
from core.config import MastodonSettings, Settings
from core.errors import ConfigError, ConnectorError, SettingRejected

log = logging.getLogger(__name__)
T = TypeVar("T")

# The newest notification id delivered, in the receive_cursor table.
CURSOR = "mastodon:notifications"
PAGE = 40  # Mastodon's largest page of notifications
# Blocks and mutes change rarely: read them again this often while polling.
SILENCED_REFRESH_S = 300.0
# Mastodon's own default, used only when an instance does not say its limit.
DEFAULT_MAX_CHARACTERS = 500
# An uploaded image still being processed is asked about after this long, then twice as long
# each time (at most 5 s apart), for at most MEDIA_WAIT_S.
MEDIA_POLL_S = 0.25
MEDIA_WAIT_S = 120.0
# A 429 whose reset time is unknown (or already past): Mastodon.py's own first backoff.
UNKNOWN_RESET_S = 2.0


def _describe(exc: BaseException) -> str:
    """Mastodon.py's error as one line: the status code and the server's own `error` words."""
    if isinstance(exc, MastodonAPIError) and len(exc.args) >= 4:
        _, status, reason, error = exc.args[:4]
        return f"HTTP {status}: {error or reason}"
    return f"{type(exc).__name__}: {exc}"


def _sse_base(streaming_url: str) -> str:
    """The instance's streaming address (wss://host) as the https address its SSE endpoints have."""
    where = urlsplit(streaming_url)
    return f"{ {'wss': 'https', 'ws': 'http'}.get(where.scheme, where.scheme)}://{where.netloc}"


def _reply_key(to: ReplyAddress, text: str) -> str:
    """The same answer to the same status is one status, however often it is sent (a crash, a retry)."""
    return hashlib.sha256(f"reply\0{to.message_id}\0{text}".encode()).hexdigest()


class MastodonConnector(Connector):
    platform = PLATFORM
    idempotent_publish = True  # every status is posted with an Idempotency-Key
    reports_engagement = True

    def __init__(self, settings: MastodonSettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        token = env.get(settings.access_token_env, "")
        if not token:
            raise ConfigError(
                f"mastodon: set the access token in the environment variable {settings.access_token_env} "
                "(mastodon.access_token_env)"
            )
        # "throw": a 429 comes back to us (Delivery waits for X-RateLimit-Reset); Mastodon.py
        # would otherwise sleep inside its thread, out of reach of stop().
        self.client = Mastodon(
            access_token=token,
            api_base_url=settings.api_base_url,
            ratelimit_method="throw",
            request_timeout=settings.request_timeout_s,
            version_check_mode="none",
        )
        self.delivery = Delivery(self.platform, settings, self._classify)
        self.me = Me(account_id="", acct="")
        #: The instance's own status length limit, read at start.
        self.max_characters = DEFAULT_MAX_CHARACTERS
        self._silenced_at = 0.0
        self._poller: asyncio.Task[None] | None = None
        self._stream: asyncio.Task[None] | None = None
        self._streaming_url = ""
        self._new = asyncio.Event()  # set by the streaming listener when a notification came
        self._closed = asyncio.Event()

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # Mastodon.py is synchronous (requests): each call runs in a worker thread.
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _classify(self, exc: BaseException) -> Failure | None:
        """Mastodon.py's exceptions in delivery terms."""
        if isinstance(exc, MastodonRatelimitError):
            reset = self.client.ratelimit_reset  # parsed from X-RateLimit-Reset, on our clock
            wait = reset - time.time() if reset else 0.0
            return Failure("rate limited (HTTP 429)", retry_after=wait if wait > 0 else UNKNOWN_RESET_S)
        if isinstance(exc, (MastodonServerError, MastodonNetworkError)):
            return Failure(_describe(exc), retryable=True)
        if isinstance(exc, MastodonError):  # 4xx, an unreadable image file, a bad argument
            return Failure(_describe(exc))
        return None

    # -- receiving -------------------------------------------------------------------------

    async def start(self, inbox: Inbox) -> None:
        self._closed.clear()
        s = self.settings
        try:
            account = await self._call(self.client.account_verify_credentials)
        except MastodonUnauthorizedError as exc:
            raise SettingRejected(
                f"mastodon rejected the access token in ${s.access_token_env} (mastodon.access_token_env): "
                f"{_describe(exc)}"
            ) from None
        except MastodonAPIError as exc:
            if exc.args[1:2] == (403,):  # the token lacks the read:accounts scope
                raise SettingRejected(
                    f"mastodon: the access token in ${s.access_token_env} (mastodon.access_token_env) was refused "
                    f"({_describe(exc)}); it needs the scopes read and write"
                ) from None
            raise ConnectorError(
                f"mastodon: {s.api_base_url} (mastodon.api_base_url) does not answer as Mastodon: {_describe(exc)}"
            ) from None
        except MastodonError as exc:
            raise ConnectorError(
                f"mastodon: cannot reach {s.api_base_url} (mastodon.api_base_url): {_describe(exc)}"
            ) from None
        self.me = Me(account_id=str(account["id"]), acct=str(account["acct"]))
        self.max_characters = await self._instance_limit()
        try:
            await self._refresh_silenced()
            if await inbox.cursor(CURSOR) is None:
                await self._start_after_history(inbox)
        except MastodonError as exc:  # e.g. a token without the read scope (blocks, mutes, notifications)
            refused = isinstance(exc, MastodonAPIError) and exc.args[1:2] in ((401,), (403,))
            raise (SettingRejected if refused else ConnectorError)(
                f"mastodon: cannot read blocks, mutes or notifications with the token in ${s.access_token_env} "
                f"(mastodon.access_token_env): {_describe(exc)}"
            ) from None
        self._poller = asyncio.create_task(self._poll(inbox), name="mastodon-poller")
        if s.streaming:
            self._stream = asyncio.create_task(self._listen(), name="mastodon-stream")
        log.info("mastodon connected as @%s on %s (%d characters a status)", self.me.acct, s.api_base_url, self.max_characters)

    async def _instance_limit(self) -> int:
        try:
            instance = await self._call(self.client.instance_v2)
            with contextlib.suppress(KeyError, TypeError):
                self._streaming_url = _sse_base(str(instance["configuration"]["urls"]["streaming"]))
            return int(instance["configuration"]["statuses"]["max_characters"])
        except (MastodonError, KeyError, TypeError, ValueError) as exc:
            log.warning(
                "mastodon: the instance does not say its status length limit (%s); assuming %d",
                exc if isinstance(exc, MastodonError) else "no configuration.statuses.max_characters",
                DEFAULT_MAX_CHARACTERS,
            )
            return DEFAULT_MAX_CHARACTERS

    async def _listen(self) -> None:
        """Notifications pushed by the streaming API (server-sent events) wake the poller at once.

        Our own small SSE reader on aiohttp: Mastodon.py's runs in a thread that blocks in a socket
        read, which stop() could not end. It only wakes the poller, so a lost or repeated event
        changes nothing, and while it is down polling goes on every poll_interval_s."""
        url = f"{self._streaming_url or self.settings.api_base_url.rstrip('/')}/api/v1/streaming/user/notification"
        headers = {"Authorization": f"Bearer {self.client.access_token}", "Accept": "text/event-stream"}
        failures = 0
        while True:
            try:
                timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.request_timeout_s, sock_read=None)
                async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url, headers=headers) as response:
                    response.raise_for_status()
                    failures = 0
                    async for line in response.content:
                        if line.startswith(b"event: notification"):
                            self._new.set()
                raise ConnectionResetError("the server closed the stream")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                wait = POLL_BACKOFF_S[min(failures, len(POLL_BACKOFF_S) - 1)] * 2
                failures += 1
                log.warning("mastodon streaming interrupted (%s: %s); polling meanwhile, reconnecting in %.0f s",
                            type(exc).__name__, exc, wait)
                await asyncio.sleep(wait)

    async def _refresh_silenced(self) -> None:
        """The blocked and muted accounts: their mentions are never answered."""
        client = self.client
        blocks = await self._call(lambda: client.fetch_remaining(client.blocks(limit=80)))
        mutes = await self._call(lambda: client.fetch_remaining(client.mutes(limit=80)))
        silenced = frozenset(str(a["id"]) for a in [*blocks, *mutes])
        self.me = Me(self.me.account_id, self.me.acct, silenced)
        self._silenced_at = time.monotonic()

    async def _start_after_history(self, inbox: Inbox) -> None:
        """On the very first start, begin after the newest notification: old mentions are history,
        not questions. The cursor is stored even when there are none ("0"), so that this happens once:
        a restart after a kill must not take the notifications it missed for history."""
        newest = await self._call(self.client.notifications, limit=1)
        start = str(newest[0]["id"]) if newest else "0"
        await inbox.store([], Cursor(CURSOR, start))
        if newest:
            log.info("mastodon: first start; notifications up to %s are left unanswered", start)

    async def _poll(self, inbox: Inbox) -> None:
        """Notifications after the stored cursor, oldest first; each page is stored with its newest id
        as the new cursor, in one transaction, before the next page is asked for."""
        cursor = await inbox.cursor(CURSOR)

        async def poll_round() -> bool:
            nonlocal cursor
            if time.monotonic() - self._silenced_at > SILENCED_REFRESH_S:
                await self._refresh_silenced()
            page = await self._call(self.client.notifications, min_id=cursor, limit=PAGE)
            if page:
                page = sorted(page, key=lambda n: ordered_id(str(n["id"])))
                newest = str(page[-1]["id"])
                await inbox.store(self._incoming(page), Cursor(CURSOR, newest))
                cursor = newest
            return len(page) < PAGE  # caught up (after a full page more are waiting: ask at once)

        await poll_forever(self.platform, poll_round, self._until_new, self._classify, self.polled)

    async def _until_new(self) -> None:
        """Wait for the streaming API's word, or poll_interval_s when it says nothing (or is down)."""
        try:
            await asyncio.wait_for(self._new.wait(), self.settings.poll_interval_s)
        except TimeoutError:
            pass
        self._new.clear()

    def _incoming(self, page: list[Any]) -> list[IncomingMessage]:
        found: list[IncomingMessage] = []
        for notification in page:
            try:
                incoming = to_incoming(notification, self.me)
            except Exception:
                log.exception("mastodon notification %s could not be read and is skipped", notification.get("id"))
                continue
            if incoming is not None:
                found.append(incoming)
        return found

    async def stop(self) -> None:
        tasks = [t for t in (self._stream, self._poller) if t is not None]
        self._stream = self._poller = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.client.session.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def post_length_limit(self) -> int | None:
        return self.max_characters  # the instance's own, once started

    # -- sending ---------------------------------------------------------------------------

    def _check_length(self, text: str, what: str) -> None:
        length = status_length(text)
        if length > self.max_characters:
            raise ConnectorError(f"mastodon {what} is {length} characters; this instance allows {self.max_characters}")

    async def _status(self, to: str, what: str, text: str, key: str, **kwargs: Any) -> str:
        self._check_length(text, what)
        status = await self.delivery.send(
            to, what, lambda: self._call(self.client.status_post, text, idempotency_key=key, **kwargs)
        )
        return str(status["id"])

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        visibility = MASTODON_VISIBILITY.get(to.visibility)
        if visibility is None or not to.message_id or not to.chat_id:
            raise ConnectorError(f"mastodon: cannot answer a {to.visibility} {to.kind} at {to.chat_id!r}/{to.message_id!r}")
        # Mastodon delivers a direct status only to the accounts it names, so the reply names the author.
        mention = f"@{to.chat_id}"
        if mention.lower() not in text.lower():
            text = f"{mention} {text}"
        return await self._status(
            to.chat_id, "reply", text, _reply_key(to, text), in_reply_to_id=to.message_id, visibility=visibility
        )

    async def send_text(self, chat_id: str, text: str) -> str:
        """A direct message to the account `chat_id` (the owner's acct)."""
        return await self._status(chat_id, "message", f"@{chat_id} {text}", uuid.uuid4().hex, visibility="direct")

    async def publish(self, post: OutgoingPost) -> str:
        key = post.idempotency_key or uuid.uuid4().hex
        media_ids: list[str] | None = None
        if post.image_path:
            self._check_length(post.text, "post")  # before uploading anything
            path = post.image_path
            if not os.path.isfile(path):
                raise ConnectorError(f"mastodon post image {path}: no such file")
            media = await self.delivery.send(
                "media",
                "image upload",
                lambda: self._call(self.client.media_post, path, description=post.image_alt or None),
            )
            media_ids = [str((await self._processed(media))["id"])]
        return await self._status(
            "post", "post", post.text, key, media_ids=media_ids, visibility=self.settings.post_visibility
        )

    async def _processed(self, media: Any) -> Any:
        """The upload once the instance has processed it: /api/v2/media answers a large image with
        202 and no url yet, and a status may attach it only once the url is there (else a 422)."""
        waited, delay = 0.0, MEDIA_POLL_S
        while media.get("url") is None:
            if waited >= MEDIA_WAIT_S:
                raise ConnectorError(f"mastodon was still processing the post's image after {MEDIA_WAIT_S:.0f} s")
            await asyncio.sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 5.0)
            media_id = media["id"]
            media = await self.delivery.send("media", "image processing", lambda: self._call(self.client.media, media_id))
        return media

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        try:
            status = await self._call(self.client.status, platform_post_id)
        except MastodonNotFoundError:
            log.info("mastodon post %s is gone; no engagement to fetch", platform_post_id)
            return None
        except MastodonError as exc:
            raise ConnectorError(f"mastodon engagement of {platform_post_id}: {_describe(exc)}") from exc
        return {
            "favourites": int(status["favourites_count"]),
            "boosts": int(status["reblogs_count"]),
            "replies": int(status["replies_count"]),
        }


def from_settings(settings: Settings) -> MastodonConnector:
    """The mastodon connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return MastodonConnector(settings.mastodon)
