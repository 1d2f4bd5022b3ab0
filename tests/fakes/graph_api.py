"""A fake Meta Graph API: the Page and Instagram endpoints our connectors call, under a versioned
path, with Meta's error format and usage headers, and signed webhook deliveries to the bot."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from datetime import datetime, timezone
from typing import Any

import httpx
from aiohttp import web

from connectors.graph_api import appsecret_proof
from connectors.meta_webhooks import signature
from fakes.server import FakeServer

VERSION = "v23.0"
PAGE_ID = "1001"
PAGE_NAME = "Acme Bakery"
IG_ID = "17841400000000001"
IG_USERNAME = "acme.bakery"
TOKEN = "test-page-token"
IG_TOKEN = "test-ig-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ENV = {
    "FACEBOOK_PAGE_TOKEN": TOKEN,
    "INSTAGRAM_ACCESS_TOKEN": IG_TOKEN,
    "META_APP_SECRET": APP_SECRET,
    "META_VERIFY_TOKEN": VERIFY_TOKEN,
}


def iso(at: float | None = None) -> str:
    """Graph's time format: 2026-12-07T10:00:00+0000."""
    return datetime.fromtimestamp(at if at is not None else time.time(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(message: str, code: int, subcode: int = 0, kind: str = "OAuthException", transient: bool = False) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return {"error": error}


class UnsupportedMetric(Exception):
    """An insights metric Meta does not report for this media (or this API version)."""


class OutsideWindow(Exception):
    """A message to someone whose messaging window has passed."""


class FakeGraph(FakeServer):
    """State the tests read: comments posted, messages sent, posts, photos, containers, hidden comments."""

    def __init__(self, version: str = VERSION) -> None:
        super().__init__()
        self.version = version
        self.tokens = {TOKEN, IG_TOKEN}
        self.app_secret = APP_SECRET
        self._ids = itertools.count(5000)
        self.posts: dict[str, dict[str, Any]] = {}  # page post id -> post (with "comments")
        self.replies: list[dict[str, Any]] = []  # comment replies we got: {"to", "message", "id"}
        self.messages: list[dict[str, Any]] = []  # Messenger / Direct messages sent: {"account", "recipient", "text"}
        self.hidden: list[str] = []
        self.deleted: list[str] = []
        self.photos: list[dict[str, Any]] = []
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}  # published Instagram media
        self.ig_comments: dict[str, list[dict[str, Any]]] = {}  # media id -> comments
        self.mentioned: dict[str, dict[str, Any]] = {}  # comment id -> the mentioning comment
        self.tagged: list[dict[str, Any]] = []  # others' media the account is tagged or @mentioned in, newest first
        self.insights: dict[str, dict[str, int]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # account id -> its conversations, newest first
        self.followers: dict[str, int] = {}  # account id -> followers_count (absent: the field is left out)
        self.unsupported_metrics: set[str] = set()  # media insights refused as Meta refuses them
        self.online_followers: dict[str, int] = {}  # Instagram's hour (of Meta's UTC-07:00 day) -> followers online
        self.usage: dict[str, str] = {}  # extra response headers (X-App-Usage, X-Business-Use-Case-Usage)
        # Containers stay IN_PROGRESS for this many status reads before FINISHED.
        self.container_reads_before_finished = 1
        self.hold_container_status = False  # keep every container IN_PROGRESS (a publish waiting between steps)
        # Calls done at once and answered only after this many seconds: a caller killed meanwhile
        # never hears that Meta did it (hold_call, by contrast, acts only after the wait).
        self.slow_answers: dict[str, float] = {}
        self._stopping = asyncio.Event()
        # People whose messaging window has passed: a message to them is refused as Meta refuses it.
        self.window_closed: set[str] = set()

    async def stop(self) -> None:
        self._stopping.set()  # slow answers go out now, so the server stops at once
        await super().stop()

    def next_id(self) -> str:
        return str(next(self._ids))

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{version}/{path:.*}", self._handle)

    # -- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["version"] != self.version:
            return self._error(400, graph_error(f"Unknown path components: /{request.match_info['version']}", 2500))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return self._error(400, graph_error("Error validating access token: Session has expired.", 190, 463))
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            form = await request.post()
            params.update({k: (v if isinstance(v, str) else {"filename": v.filename, "size": len(v.file.read())}) for k, v in form.items()})
        if self.app_secret and params.pop("appsecret_proof", None) != appsecret_proof(token, self.app_secret):
            return self._error(400, graph_error("Invalid appsecret_proof provided in the API argument", 100))
        path = request.match_info["path"].strip("/").split("/")
        name = self._method(request.method, path)
        failure = await self.record(name, {"path": "/".join(path), **params})
        if failure is not None:
            return self._error(failure.status, failure.body, failure.headers)
        try:
            body = self._answer(request.method, path, params)
        except UnsupportedMetric as exc:
            return self._error(400, graph_error(f"(#100) The metric {exc} is not supported for this media", 100, kind="OAuthException"))
        except OutsideWindow:
            return self._error(400, graph_error("(#10) This message is sent outside of allowed window.", 10, 2018278))
        except KeyError as exc:
            return self._error(400, graph_error(f"Unsupported request - object {exc} does not exist", 100, 33, "GraphMethodException"))
        if name in self.slow_answers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.slow_answers[name])
        return web.json_response(body, headers=self.usage)

    def _error(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(body, status=status, headers={**self.usage, **(headers or {})})

    @staticmethod
    def _method(method: str, path: list[str]) -> str:
        """A short name for each call, by which tests wait for it and script failures."""
        if len(path) == 1:
            return f"{method.lower()} object"
        return f"{method.lower()} {path[-1]}"

    def _answer(self, method: str, path: list[str], p: dict[str, Any]) -> dict[str, Any]:
        target, edge = path[0], (path[1] if len(path) > 1 else "")
        if method == "GET":
            return self._get(target, edge, p)
        if method == "DELETE" and not edge:
            self.deleted.append(target)
            return {"success": True}
        if edge == "comments":  # a Facebook comment reply
            return self._reply(target, p["message"])
        if edge == "replies":  # an Instagram comment reply
            return self._reply(target, p["message"])
        if edge == "mentions":  # on a comment that @mentions the account, or on a post whose caption does
            return self._reply(p.get("comment_id") or p["media_id"], p["message"], mention_media=p["media_id"])
        if edge == "messages":
            message = json.loads(p["message"])
            recipient = json.loads(p["recipient"])["id"]
            if recipient in self.window_closed:
                raise OutsideWindow(recipient)
            self.messages.append({"account": target, "recipient": recipient, "text": message["text"], "type": p.get("messaging_type")})
            return {"recipient_id": recipient, "message_id": f"m_{self.next_id()}"}
        if edge == "feed":
            post_id = f"{PAGE_ID}_{self.next_id()}"
            attached = [str(m["media_fbid"]) for m in json.loads(p.get("attached_media", "[]"))]
            unpublished = {x["id"]: x for x in self.photos if not x["published"]}
            for photo in attached:
                if photo not in unpublished:
                    raise KeyError(photo)  # only the page's own unpublished photos can be attached
            for photo in attached:
                unpublished[photo]["post_id"] = post_id
            self.posts[post_id] = {
                "id": post_id, "message": p.get("message", ""), "link": p.get("link"), "comments": [], "created": time.time(), "photos": attached,
            }
            return {"id": post_id}
        if edge == "photos":
            photo_id = self.next_id()
            photo = {"id": photo_id, "published": p.get("published") != "false", **{k: p[k] for k in ("url", "caption", "source") if k in p}}
            self.photos.append(photo)
            if not photo["published"]:  # uploaded for a post with several photos: shown by none yet
                return {"id": photo_id}
            post_id = photo["post_id"] = f"{PAGE_ID}_{self.next_id()}"
            self.posts[post_id] = {"id": post_id, "message": p.get("caption", ""), "comments": [], "created": time.time(), "photos": [photo_id]}
            return {"id": photo_id, "post_id": post_id}
        if edge == "media":
            container = self.next_id()
            self.containers[container] = {"id": container, "params": dict(p), "reads": 0, "status": "IN_PROGRESS"}
            return {"id": container}
        if edge == "media_publish":
            container = self.containers[p["creation_id"]]
            if container["status"] == "PUBLISHED":
                raise KeyError(p["creation_id"])  # Meta refuses a container published before
            if container["status"] != "FINISHED":
                raise KeyError(p["creation_id"])
            container["status"] = "PUBLISHED"
            media_id = self.next_id()
            self.media[media_id] = {"id": media_id, "caption": container["params"].get("caption", ""), "container": container["id"], "at": time.time()}
            return {"id": media_id}
        if not edge:  # POST /{comment-id}: hide it
            if p.get("is_hidden") == "true" or p.get("hide") == "true":
                self.hidden.append(target)
                return {"success": True}
        raise KeyError(target)

    def _get(self, target: str, edge: str, p: dict[str, Any]) -> dict[str, Any]:
        if not edge:
            fields = p.get("fields", "")
            if target == PAGE_ID:
                return {"id": PAGE_ID, "name": PAGE_NAME, **self._counted(PAGE_ID, fields, "followers_count", "fan_count")}
            if target == IG_ID:
                if fields.startswith("mentioned_comment"):
                    comment_id = fields.split("comment_id(")[1].split(")")[0]
                    return {"id": IG_ID, "mentioned_comment": self.mentioned[comment_id]}
                if fields.startswith("mentioned_media"):
                    media_id = fields.split("media_id(")[1].split(")")[0]
                    return {"id": IG_ID, "mentioned_media": next(m for m in self.tagged if m["id"] == media_id)}
                return {"id": IG_ID, "username": IG_USERNAME, **self._counted(IG_ID, fields, "followers_count")}
            if target in self.containers:
                c = self.containers[target]
                if c["status"] == "IN_PROGRESS" and not self.hold_container_status:
                    c["reads"] += 1
                    if c["reads"] > self.container_reads_before_finished:
                        c["status"] = "FINISHED"
                return {"id": target, "status_code": c["status"], "status": c["status"]}
            if target in self.media:
                counts = self.insights.get(target, {})
                return {"id": target, "like_count": counts.get("likes", 0), "comments_count": counts.get("comments", 0)}
            if target in self.posts:
                counts = self.insights.get(target, {})
                return {
                    "id": target,
                    "shares": {"count": counts.get("shares", 0)},
                    "reactions": {"data": [], "summary": {"total_count": counts.get("reactions", 0)}},
                    "comments": {"data": [], "summary": {"total_count": counts.get("comments", 0)}},
                    "insights": {
                        "data": [
                            {"name": "post_impressions", "period": "lifetime", "values": [{"value": counts.get("impressions", 0)}]},
                            {"name": "post_impressions_unique", "period": "lifetime", "values": [{"value": counts.get("reach", 0)}]},
                        ]
                    },
                }
            raise KeyError(target)
        if edge == "conversations":
            return {"data": self.conversations.get(target, [])}
        if edge == "feed" and target == PAGE_ID:
            newest = sorted(self.posts.values(), key=lambda x: -x["created"])[: int(p.get("limit", 25))]
            rows = [{"id": x["id"], "updated_time": iso(x["created"])} for x in newest]
            if "attachments" in p.get("fields", ""):
                for row, x in zip(rows, newest):
                    row.update(_attachments(x.get("photos") or []))
            return {"data": rows}
        if edge == "comments" and target in self.posts:
            since = int(p.get("since", 0))
            rows = [c for c in self.posts[target]["comments"] if c["at"] >= since]
            return {"data": [{k: v for k, v in c.items() if k != "at"} for c in rows]}
        if edge == "media" and target == IG_ID:
            newest = sorted(self.media.values(), key=lambda x: -x.get("at", time.time()))
            return {"data": [{"id": x["id"], "caption": x["caption"], "timestamp": iso(x.get("at"))} for x in newest]}
        if edge == "tags" and target == IG_ID:
            return {"data": self.tagged[: int(p.get("limit", 25))]}
        if edge == "comments" and target in self.media:
            return {"data": self.ig_comments.get(target, [])}
        if edge == "insights" and target == IG_ID:
            day = {"value": self.online_followers, "end_time": iso()} if self.online_followers else {"value": {}, "end_time": iso()}
            return {"data": [{"name": "online_followers", "period": "lifetime", "values": [day]}]}
        if edge == "insights" and target in self.media:
            counts = self.insights.get(target, {})
            names = p.get("metric", "").split(",")
            refused = [n for n in names if n in self.unsupported_metrics]
            if refused:
                raise UnsupportedMetric(refused[0])
            return {"data": [{"name": n, "period": "lifetime", "values": [{"value": counts.get(n, 0)}]} for n in names]}
        raise KeyError(target)

    def _counted(self, account: str, fields: str, *names: str) -> dict[str, int]:
        """The follower fields asked for (a page's fan_count is its likes; the fake keeps it at its followers)."""
        return {n: self.followers[account] for n in names if n in fields.split(",") and account in self.followers}

    def published_photos(self) -> list[list[str]]:
        """The photo ids each post on the page shows, oldest post first (posts without photos left out)."""
        return [x["photos"] for x in sorted(self.posts.values(), key=lambda x: x["created"]) if x.get("photos")]

    def _reply(self, to: str, message: str, mention_media: str = "") -> dict[str, Any]:
        reply_id = self.next_id()
        self.replies.append({"to": to, "message": message, "id": reply_id, "mention_media": mention_media})
        return {"id": reply_id}

    # -- state the tests set up ------------------------------------------------------------

    def add_post(self, message: str = "Fresh bread today") -> str:
        post_id = f"{PAGE_ID}_{self.next_id()}"
        self.posts[post_id] = {"id": post_id, "message": message, "comments": [], "created": time.time()}
        return post_id

    def add_comment(self, post_id: str, text: str, author: tuple[str, str], parent: str = "", at: float | None = None) -> str:
        """A comment as polling reads it (GET /{post-id}/comments)."""
        comment_id = f"{post_id.split('_')[1]}_{self.next_id()}"
        at = time.time() if at is None else at
        row: dict[str, Any] = {"id": comment_id, "message": text, "from": {"id": author[0], "name": author[1]}, "created_time": iso(at), "at": int(at)}
        if parent:
            row["parent"] = {"id": parent}
        self.posts[post_id]["comments"].append(row)
        return comment_id

    def tag(self, caption: str, author: str, at: float | None = None) -> str:
        """Someone's post that tags the account (GET /{ig-user-id}/tags, mentioned_media); returns its id."""
        media_id = self.next_id()
        self.tagged.insert(0, {"id": media_id, "caption": caption, "username": author, "timestamp": iso(at), "permalink": f"https://www.instagram.com/p/{media_id}/"})
        return media_id

    def add_message(self, account: str, sender: tuple[str, str], text: str) -> str:
        """A private message as polling reads it (GET /{account}/conversations)."""
        mid = f"m_{self.next_id()}"
        conversation = next((c for c in self.conversations.get(account, []) if c["id"] == f"t_{sender[0]}"), None)
        if conversation is None:
            conversation = {"id": f"t_{sender[0]}", "messages": {"data": []}}
            self.conversations.setdefault(account, []).insert(0, conversation)
        conversation["updated_time"] = iso()
        who = {"id": sender[0], "name": sender[1]} if account == PAGE_ID else {"id": sender[0], "username": sender[1]}
        conversation["messages"]["data"].insert(0, {"id": mid, "message": text, "from": who, "created_time": iso()})
        return mid

    # -- webhooks --------------------------------------------------------------------------

    async def deliver(self, url: str, payload: dict[str, Any], secret: str | None = None, sign: bool = True) -> httpx.Response:
        """POST one webhook delivery as Meta does: the raw JSON body signed with the app secret."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["X-Hub-Signature-256"] = signature(body, secret if secret is not None else self.app_secret)
        async with httpx.AsyncClient() as client:
            return await client.post(url, content=body, headers=headers)


def _attachments(photos: list[str]) -> dict[str, Any]:
    """A post's `attachments` as Graph shows them: one photo is the target, several an album's subattachments."""
    if not photos:
        return {}
    if len(photos) == 1:
        return {"attachments": {"data": [{"type": "photo", "target": {"id": photos[0]}}]}}
    album = {"type": "album", "subattachments": {"data": [{"type": "photo", "target": {"id": photo}} for photo in photos]}}
    return {"attachments": {"data": [album]}}


def feed_comment(
    post_id: str, comment_id: str, text: str, author: tuple[str, str], parent: str = "", verb: str = "add"
) -> dict[str, Any]:
    """A Page `feed` webhook for a comment (parent_id is the post for a top-level comment)."""
    value = {
        "from": {"id": author[0], "name": author[1]},
        "post": {"id": post_id, "status_type": "added_photos"},
        "message": text,
        "post_id": post_id,
        "comment_id": comment_id,
        "created_time": int(time.time()),
        "item": "comment",
        "parent_id": parent or post_id,
        "verb": verb,
    }
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time()), "changes": [{"field": "feed", "value": value}]}]}


def messenger(sender: str, mid: str, text: str, timestamp_ms: int | None = None, echo: bool = False, obj: str = "page", account: str = PAGE_ID) -> dict[str, Any]:
    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
    event = {"sender": {"id": sender}, "recipient": {"id": account}, "timestamp": ts, "message": message}
    return {"object": obj, "entry": [{"id": account, "time": ts, "messaging": [event]}]}


def ig_comment(media_id: str, comment_id: str, text: str, author: tuple[str, str], parent: str = "") -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": author[0], "username": author[1]},
        "media": {"id": media_id, "media_product_type": "FEED"},
        "id": comment_id,
        "text": text,
    }
    if parent:
        value["parent_id"] = parent
    return {"object": "instagram", "entry": [{"id": IG_ID, "time": int(time.time()), "changes": [{"field": "comments", "value": value}]}]}


def ig_mention(media_id: str, comment_id: str = "") -> dict[str, Any]:
    """A `mentions` webhook: in a comment (with its id), or in the caption of the media (none)."""
    value = {"media_id": media_id, "comment_id": comment_id} if comment_id else {"media_id": media_id}
    return {"object": "instagram", "entry": [{"id": IG_ID, "time": int(time.time()), "changes": [{"field": "mentions", "value": value}]}]}


async def until(condition: Any, timeout: float = 10.0) -> None:
    """Wait until condition() is true."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)
