"""A fake Mastodon server: the REST methods our connector calls, as Mastodon documents them."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from fakes.server import FakeServer

TOKEN = "test-mastodon-token"
BOT_ID = "1000"
BOT_ACCT = "acme"
_URL = re.compile(r"https?://\S+")
MAX_CHARACTERS = 640  # not Mastodon's default 500: the connector must read it from the instance


def _wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: How the fake's followers react to one of the bot's statuses: (status id, when it was created,
#: now) -> counts to show, e.g. {"favourites_count": 12, "reblogs_count": 3, "replies_count": 1}.
Audience = Callable[[str, datetime, datetime], dict[str, int]]


def account(account_id: str, acct: str) -> dict[str, Any]:
    username = acct.split("@")[0]
    return {
        "id": account_id,
        "username": username,
        "acct": acct,
        "display_name": username.title(),
        "url": f"https://example.social/@{acct}",
        "created_at": "2024-01-01T00:00:00.000Z",
        "note": "",
        "avatar": "",
        "header": "",
        "locked": False,
        "bot": False,
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "emojis": [],
        "fields": [],
    }


ME = account(BOT_ID, BOT_ACCT)


def mention_html(acct: str) -> str:
    """A mention as Mastodon renders it in a status's content."""
    user = acct.split("@")[0]
    return (
        f'<span class="h-card" translate="no"><a href="https://example.social/@{acct}" class="u-url mention">'
        f"@<span>{user}</span></a></span>"
    )


class FakeMastodon(FakeServer):
    """`clock` is the server's time (a test moves it through weeks); `audience`, when set, decides
    the favourites, boosts and replies of the bot's own statuses each time one is read."""

    def __init__(self, token: str = TOKEN, clock: Callable[[], datetime] = _wall_clock, audience: Audience | None = None) -> None:
        super().__init__()
        self.token = token
        self.clock = clock
        self.audience = audience
        self.max_characters = MAX_CHARACTERS
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.blocked: list[dict[str, Any]] = []
        self.muted: list[dict[str, Any]] = []
        self._ids = itertools.count(110_000_000_000_000_000)
        # Idempotency-Key -> the status it created (Mastodon keeps them an hour, per account).
        self._by_key: dict[str, str] = {}
        self.served_notifications = 0
        # Uploads answer 202 without a url, and GET /api/v1/media/:id answers 206 this many times
        # before the url is there (Mastodon processes large files after the upload).
        self.processing_polls = 0
        self._processing: dict[str, int] = {}
        # One queue per open streaming connection; None ends it.
        self._streams: list[asyncio.Queue[bytes | None]] = []

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v1/accounts/verify_credentials", self._wrap("verify_credentials", self._verify))
        for path in ("/api/v1/instance", "/api/v1/instance/"):
            r.add_get(path, self._wrap("instance_v1", self._instance_v1, auth=False))
        for path in ("/api/v2/instance", "/api/v2/instance/"):
            r.add_get(path, self._wrap("instance", self._instance_v2, auth=False))
        r.add_get("/api/v1/notifications", self._wrap("notifications", self._notifications))
        r.add_get("/api/v1/blocks", self._wrap("blocks", lambda p, q: web.json_response(self.blocked)))
        r.add_get("/api/v1/mutes", self._wrap("mutes", lambda p, q: web.json_response(self.muted)))
        r.add_post("/api/v1/statuses", self._wrap("statuses", self._post_status))
        r.add_get("/api/v1/statuses/{id}", self._wrap("status", self._get_status))
        r.add_post("/api/v2/media", self._wrap("media", self._post_media))
        r.add_get("/api/v1/media/{id}", self._wrap("media_get", self._get_media))
        r.add_get("/api/v1/streaming/user/notification", self._wrap("streaming", self._stream))

    # -- what tests call -------------------------------------------------------------------

    def next_id(self) -> str:
        return str(next(self._ids))

    def status(
        self,
        text_html: str,
        *,
        author: dict[str, Any],
        visibility: str = "public",
        in_reply_to: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A status by `author`, stored on the server; content is HTML as Mastodon serves it."""
        status_id = self.next_id()
        status = {
            "id": status_id,
            "uri": f"https://example.social/users/{author['acct']}/statuses/{status_id}",
            "url": f"https://example.social/@{author['acct']}/{status_id}",
            "created_at": _stamp(self.clock()),
            "account": author,
            "content": text_html,
            "visibility": visibility,
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": in_reply_to["id"] if in_reply_to else None,
            "in_reply_to_account_id": in_reply_to["account"]["id"] if in_reply_to else None,
            "reblog": None,
            "language": "en",
            **extra,
        }
        self.statuses[status_id] = status
        if in_reply_to is not None:
            in_reply_to["replies_count"] += 1
        return status

    def notify(self, status: dict[str, Any] | None, kind: str = "mention", **extra: Any) -> dict[str, Any]:
        """Add a notification for the bot (the newest); `status` None for types that carry none."""
        notification: dict[str, Any] = {
            "id": self.next_id(),
            "type": kind,
            "created_at": _stamp(self.clock()),
            "account": status["account"] if status else account("1", "someone"),
            **({"status": status} if status is not None else {}),
            **extra,
        }
        self.notifications.append(notification)
        event = f"event: notification\ndata: {json.dumps(notification)}\n\n".encode()
        for stream in self._streams:
            stream.put_nowait(event)
        return notification

    def mention(self, text: str, *, author: dict[str, Any], visibility: str = "public", **kw: Any) -> dict[str, Any]:
        """A status naming the bot, and its mention notification."""
        body = f"<p>{mention_html(BOT_ACCT)} {html.escape(text)}</p>"
        return self.notify(self.status(body, author=author, visibility=visibility, **kw))

    def posted(self) -> list[dict[str, Any]]:
        """Statuses the bot posted, oldest first."""
        return [s for s in self.statuses.values() if s["account"]["id"] == BOT_ID]

    async def stop(self) -> None:
        for stream in self._streams:
            stream.put_nowait(None)
        await super().stop()

    # -- the REST API ----------------------------------------------------------------------

    def _wrap(self, name: str, handler: Any, auth: bool = True) -> Any:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            if auth and request.headers.get("Authorization") != f"Bearer {self.token}":
                await self.record(name, {})
                return web.json_response({"error": "The access token is invalid"}, status=401)
            if request.content_type == "application/json":
                params: dict[str, Any] = await request.json()
            elif request.method == "POST":
                params = {}
                form = await request.post()
                for key in form:
                    values = form.getall(key)
                    params[key] = values if key.endswith("[]") else values[0]
            else:
                params = {k: (request.query.getall(k) if k.endswith("[]") else v) for k, v in request.query.items()}
            params.update(request.match_info)
            key = request.headers.get("Idempotency-Key")
            if key is not None:
                params["idempotency_key"] = key
            failure = await self.record(name, params)
            if failure is not None:
                return web.json_response(failure.body, status=failure.status, headers=failure.headers)
            result = handler(params, request)
            return await result if hasattr(result, "__await__") else result

        return endpoint

    async def _stream(self, params: dict[str, Any], request: web.Request) -> web.StreamResponse:
        """Server-sent events, as Mastodon's streaming API sends them (a comment line as heartbeat)."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write(b":)\n")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._streams.append(queue)
        try:
            while (event := await queue.get()) is not None:
                await response.write(event)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._streams.remove(queue)
        return response

    async def _verify(self, params: dict[str, Any], request: web.Request) -> web.Response:
        return web.json_response({**ME, "source": {"privacy": "public", "note": "", "fields": []}})

    async def _instance_v1(self, params: dict[str, Any], request: web.Request) -> web.Response:
        return web.json_response({"uri": "example.social", "title": "Example", "version": "4.3.0"})

    async def _instance_v2(self, params: dict[str, Any], request: web.Request) -> web.Response:
        return web.json_response(
            {
                "domain": "example.social",
                "title": "Example",
                "version": "4.3.0",
                "api_versions": {"mastodon": 2},
                "configuration": {
                    "urls": {"streaming": self.url.replace("http://", "ws://")},
                    "statuses": {"max_characters": self.max_characters, "max_media_attachments": 4},
                    "media_attachments": {"image_size_limit": 16777216},
                },
            }
        )

    async def _notifications(self, params: dict[str, Any], request: web.Request) -> web.Response:
        """Newest first, as Mastodon answers; min_id gives the page just after it, since_id the newest after it."""

        def key(n: dict[str, Any]) -> tuple[int, str]:
            return (len(n["id"]), n["id"])

        found = sorted(self.notifications, key=key)
        limit = min(int(params.get("limit", 40)), 80)
        if "max_id" in params:
            found = [n for n in found if key(n) < key({"id": params["max_id"]})]
        types = params.get("types[]")
        if types:
            found = [n for n in found if n["type"] in types]
        if "min_id" in params:
            found = [n for n in found if key(n) > key({"id": params["min_id"]})][:limit]
        else:
            if "since_id" in params:
                found = [n for n in found if key(n) > key({"id": params["since_id"]})]
            found = found[-limit:]
        self.served_notifications += len(found)
        return web.json_response(list(reversed(found)))

    async def _post_status(self, params: dict[str, Any], request: web.Request) -> web.Response:
        key = params.get("idempotency_key")
        if key is not None and key in self._by_key:
            return web.json_response(self.statuses[self._by_key[key]])
        text = str(params.get("status", ""))
        if len(_URL.sub("x" * 23, text)) > self.max_characters:  # Mastodon counts a link as 23
            return web.json_response({"error": "Validation failed: Text character limit exceeded"}, status=422)
        reply_to = params.get("in_reply_to_id")
        parent = self.statuses.get(str(reply_to)) if reply_to else None
        if reply_to and parent is None:
            return web.json_response({"error": "Record not found"}, status=404)
        media = [self.media[str(m)] for m in params.get("media_ids[]", params.get("media_ids", []))]
        if any(self._processing.get(m["id"]) for m in media):
            return web.json_response({"error": "Cannot attach files that have not finished processing. Try again in a moment!"}, status=422)
        status = self.status(
            html.escape(text),
            author=ME,
            visibility=str(params.get("visibility", "public")),
            in_reply_to=parent,
            media_attachments=media,
        )
        if key is not None:
            self._by_key[key] = status["id"]
        return web.json_response(status)

    async def _get_status(self, params: dict[str, Any], request: web.Request) -> web.Response:
        status = self.statuses.get(params["id"])
        if status is None:
            return web.json_response({"error": "Record not found"}, status=404)
        if self.audience is not None and status["account"]["id"] == BOT_ID:
            created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
            status.update(self.audience(status["id"], created, self.clock()))
        return web.json_response(status)

    async def _post_media(self, params: dict[str, Any], request: web.Request) -> web.Response:
        upload = params.get("file")
        if not isinstance(upload, web.FileField):
            return web.json_response({"error": "Validation failed: File can't be blank"}, status=422)
        media_id = self.next_id()
        self.media[media_id] = {
            "id": media_id,
            "type": "image",
            "url": f"https://files.example.social/{media_id}.png",
            "preview_url": f"https://files.example.social/{media_id}_small.png",
            "description": params.get("description"),
            "meta": {},
            "blurhash": None,
            "_bytes": len(upload.file.read()),
            "_content_type": upload.content_type,
        }
        if self.processing_polls:
            self._processing[media_id] = self.processing_polls
            return web.json_response({**self._public(media_id), "url": None}, status=202)
        return web.json_response(self._public(media_id))

    def _public(self, media_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.media[media_id].items() if not k.startswith("_")}

    async def _get_media(self, params: dict[str, Any], request: web.Request) -> web.Response:
        media_id = params["id"]
        if media_id not in self.media:
            return web.json_response({"error": "Record not found"}, status=404)
        if self._processing.get(media_id):
            self._processing[media_id] -= 1
            return web.json_response({**self._public(media_id), "url": None}, status=206)
        return web.json_response(self._public(media_id))


def rate_limited(seconds: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A 429 as Mastodon sends it: the reset time in X-RateLimit-Reset (ISO 8601)."""
    reset = datetime.fromtimestamp(time.time() + seconds, timezone.utc).isoformat(timespec="milliseconds")
    return (
        429,
        {"error": "Too many requests"},
        {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.replace("+00:00", "Z")},
    )
