"""A fake Bluesky PDS and AppView: the XRPC methods our connector calls, with XRPC's error bodies."""

from __future__ import annotations

import base64
import hashlib
import asyncio
import itertools
import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from fakes.server import FakeServer

HANDLE = "acme.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"  # an app password's shape
BOT_DID = "did:plc:acmebakery0000000000000"
_BASE = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
# Record key syntax (atproto.com/specs/record-key); the PDS checks no more than this.
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(scope: str, serial: int, lifetime_s: float) -> str:
    """A token shaped like the PDS's (the SDK reads `exp` from it to refresh in time); unsigned."""
    now = int(time.time())
    payload = {"scope": scope, "sub": BOT_DID, "iat": now, "exp": int(now + lifetime_s), "jti": f"{scope}-{serial}"}
    return f"{_b64({'typ': 'at+jwt', 'alg': 'HS256'})}.{_b64(payload)}.c2ln"


def cid(seed: str) -> str:
    """A CIDv1 in base32, as the PDS gives every record and blob (derived from `seed`)."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode().lower().rstrip("=")
    return "bafyrei" + digest[:52]


def actor(did: str, handle: str) -> dict[str, Any]:
    return {"did": did, "handle": handle, "displayName": handle.split(".")[0].title(), "labels": []}


ME = actor(BOT_DID, HANDLE)


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, headers=headers)


class FakeBluesky(FakeServer):
    """Tests add follower posts with `post()` and their notifications with `notify()`; the bot's
    own records land in `records` (by URI)."""

    def __init__(self, access_lifetime_s: float = 7200.0) -> None:
        super().__init__()
        self.password = PASSWORD
        self.access_lifetime_s = access_lifetime_s
        self.handles: dict[str, str] = {HANDLE: BOT_DID}
        self.posts: dict[str, dict[str, Any]] = {}  # post views by URI
        self.notifications: list[dict[str, Any]] = []  # oldest first
        self.blobs: dict[str, dict[str, Any]] = {}
        self._serial = itertools.count(1)
        self._tid = itertools.count(1)
        self._clock = itertools.count(1)
        self.access = ""
        self.refresh = ""
        self.sessions = 0
        # Hold the answer to the nth createRecord (counted from 1) this long after the record is
        # made: the PDS has the post while the caller still waits (a kill lands then).
        self.hold_created: tuple[int, float] | None = None
        self.created = 0
        # How createRecord answers a record key already taken: as the PDS does today (its
        # repository tree refuses the second value and nothing turns that into an XRPC error,
        # atproto#3718, indigo#873); a later PDS names the conflict (atproto#4728).
        self.taken_key_answer: tuple[int, str, str] = (500, "InternalServerError", "Internal Server Error")

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/xrpc/com.atproto.server.createSession", self._create_session)
        r.add_post("/xrpc/com.atproto.server.refreshSession", self._refresh_session)
        for nsid, handler in (
            ("app.bsky.notification.listNotifications", self._list_notifications),
            ("app.bsky.feed.getPosts", self._get_posts),
            ("com.atproto.identity.resolveHandle", self._resolve_handle),
            ("com.atproto.repo.getRecord", self._get_record),
        ):
            r.add_get(f"/xrpc/{nsid}", self._authed(nsid, handler))
        for nsid, handler in (
            ("com.atproto.repo.createRecord", self._create_record),
            ("com.atproto.repo.uploadBlob", self._upload_blob),
        ):
            r.add_post(f"/xrpc/{nsid}", self._authed(nsid, handler))

    # -- what tests call -------------------------------------------------------------------

    def expire_access(self) -> None:
        """The access token is refused as expired from now on (as after a revocation or clock skew)."""
        self.access = "expired"

    def indexed_at(self) -> str:
        """The server's clock: each call a millisecond later (so tests control order)."""
        at = _BASE + timedelta(milliseconds=next(self._clock))
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def post(
        self,
        text: str,
        *,
        author: dict[str, Any],
        reply_to: dict[str, Any] | None = None,
        quote: dict[str, Any] | None = None,
        facets: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A post by `author`, stored as the AppView serves it (a post view)."""
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": self.indexed_at()}
        if reply_to is not None:
            parent = {"uri": reply_to["uri"], "cid": reply_to["cid"]}
            root = reply_to["record"].get("reply", {}).get("root", parent)
            record["reply"] = {"root": root, "parent": parent}
        if quote is not None:
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": quote["uri"], "cid": quote["cid"]}}
        if facets:
            record["facets"] = facets
        return self._store(author, record)

    def notify(self, post: dict[str, Any] | None, reason: str = "mention", **extra: Any) -> dict[str, Any]:
        """A notification for the bot (the newest); `post` None for reasons that carry none of ours."""
        notification: dict[str, Any] = {
            "uri": post["uri"] if post else f"at://did:plc:someone/app.bsky.graph.follow/{next(self._tid)}",
            "cid": post["cid"] if post else cid(str(next(self._serial))),
            "author": post["author"] if post else actor("did:plc:someone", "someone.bsky.social"),
            "reason": reason,
            "record": post["record"] if post else {"$type": "app.bsky.graph.follow", "subject": BOT_DID},
            "isRead": False,
            "indexedAt": self.indexed_at(),
            "labels": [],
            **extra,
        }
        self.notifications.append(notification)
        return notification

    def mention(self, text: str, *, author: dict[str, Any]) -> dict[str, Any]:
        """A post naming the bot (with the mention facet the Bluesky app adds), and its notification."""
        name = f"@{HANDLE}"
        facet = {
            "index": {"byteStart": 0, "byteEnd": len(name.encode())},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": BOT_DID}],
        }
        return self.notify(self.post(f"{name} {text}", author=author, facets=[facet]))

    def ours(self) -> list[dict[str, Any]]:
        """The bot's own posts, oldest first."""
        return [p for p in self.posts.values() if p["author"]["did"] == BOT_DID]

    # -- XRPC --------------------------------------------------------------------------------

    def _store(self, author: dict[str, Any], record: dict[str, Any], rkey: str | None = None) -> dict[str, Any]:
        uri = f"at://{author['did']}/app.bsky.feed.post/{rkey or f'3l{next(self._tid):011d}'}"
        view = {
            "uri": uri,
            "cid": cid(uri),
            "author": author,
            "record": record,
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": self.indexed_at(),
            "labels": [],
        }
        self.posts[uri] = view
        parent = self.posts.get(record.get("reply", {}).get("parent", {}).get("uri", ""))
        if parent is not None:
            parent["replyCount"] += 1
        quoted = self.posts.get(record.get("embed", {}).get("record", {}).get("uri", ""))
        if quoted is not None:
            quoted["quoteCount"] += 1
        return view

    def _session(self) -> dict[str, Any]:
        serial = next(self._serial)
        self.access = jwt("com.atproto.appPass", serial, self.access_lifetime_s)
        self.refresh = jwt("com.atproto.refresh", serial, 90 * 86400)
        self.sessions += 1
        return {"accessJwt": self.access, "refreshJwt": self.refresh, "handle": HANDLE, "did": BOT_DID, "active": True}

    async def _create_session(self, request: web.Request) -> web.Response:
        body = await request.json()
        failure = await self.record("com.atproto.server.createSession", {"identifier": body.get("identifier")})
        if failure is not None:
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if body.get("identifier") not in (HANDLE, BOT_DID) or body.get("password") != self.password:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        return web.json_response(self._session())

    async def _refresh_session(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "")
        await self.record("com.atproto.server.refreshSession", {"token": token})
        if token != f"Bearer {self.refresh}":
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        return web.json_response(self._session())

    def _authed(self, nsid: str, handler: Any) -> Any:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            token = request.headers.get("Authorization", "")
            if request.method == "GET":
                params: dict[str, Any] = {k: request.query.getall(k) for k in request.query}
                params = {k: v if k == "uris" else v[0] for k, v in params.items()}
            elif nsid == "com.atproto.repo.uploadBlob":
                params = {"data": await request.read(), "content_type": request.headers.get("Content-Type", "")}
            else:
                params = await request.json()
            failure = await self.record(nsid, params)
            if token != f"Bearer {self.access}" or self.access == "expired":
                if self.access == "expired" and token.startswith("Bearer "):
                    return xrpc_error(400, "ExpiredToken", "Token has expired")
                return xrpc_error(401, "AuthenticationRequired", "Authentication Required")
            if failure is not None:
                return web.json_response(failure.body, status=failure.status, headers=failure.headers)
            return await handler(params)

        return endpoint

    async def _list_notifications(self, params: dict[str, Any]) -> web.Response:
        """Newest first; the cursor pages to older ones, as the AppView does."""
        newest_first = self.notifications[::-1]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit", 50))
        page = newest_first[start : start + limit]
        body: dict[str, Any] = {"notifications": page, "seenAt": self.indexed_at()}
        if start + limit < len(newest_first):
            body["cursor"] = str(start + limit)
        return web.json_response(body)

    async def _get_posts(self, params: dict[str, Any]) -> web.Response:
        uris = params.get("uris", [])
        return web.json_response({"posts": [self.posts[u] for u in uris if u in self.posts]})

    async def _resolve_handle(self, params: dict[str, Any]) -> web.Response:
        did = self.handles.get(str(params.get("handle", "")).lower())
        if did is None:
            return xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        return web.json_response({"did": did})

    async def _create_record(self, params: dict[str, Any]) -> web.Response:
        if params.get("repo") != BOT_DID or params.get("collection") != "app.bsky.feed.post":
            return xrpc_error(400, "InvalidRequest", f"cannot write {params.get('collection')} to {params.get('repo')}")
        record = params.get("record", {})
        if len(record.get("text", "")) > 3000:
            return xrpc_error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: text must not be longer than 3000 characters")
        rkey = params.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not _RKEY.fullmatch(rkey) or rkey in (".", "..")):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key: {rkey!r}")
        if rkey is not None and f"at://{BOT_DID}/app.bsky.feed.post/{rkey}" in self.posts:
            return xrpc_error(*self.taken_key_answer)
        view = self._store(ME, record, rkey)
        self.created += 1
        if self.hold_created is not None and self.created == self.hold_created[0]:
            await asyncio.sleep(self.hold_created[1])
        return web.json_response({"uri": view["uri"], "cid": view["cid"], "validationStatus": "valid"})

    async def _get_record(self, params: dict[str, Any]) -> web.Response:
        uri = f"at://{params.get('repo')}/{params.get('collection')}/{params.get('rkey')}"
        view = self.posts.get(uri)
        if view is None:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return web.json_response({"uri": uri, "cid": view["cid"], "value": view["record"]})

    async def _upload_blob(self, params: dict[str, Any]) -> web.Response:
        data: bytes = params["data"]
        ref = cid(hashlib.sha256(data).hexdigest())
        mime = "image/png" if data.startswith(b"\x89PNG") else "application/octet-stream"
        blob = {"$type": "blob", "ref": {"$link": ref}, "mimeType": mime, "size": len(data)}
        self.blobs[ref] = {**blob, "_bytes": data}
        return web.json_response({"blob": blob})


def rate_limited(seconds: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A 429 as the PDS sends it: ratelimit-reset is the Unix time the window ends."""
    reset = int(time.time() + seconds + 0.999)
    return (
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset), "ratelimit-policy": "5000;w=3600"},
    )
