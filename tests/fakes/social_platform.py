"""A fake social platform on 127.0.0.1 speaking plain HTTP, and the connector that talks to it.

The server deduplicates posts by the Idempotency-Key header when asked to, like Mastodon's API;
it can hold a publish open (to kill the publisher mid-call) and refuse texts with a 4xx.
Used by the scheduler tests and bench/scheduler.py.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from core.errors import ConnectorError, RateLimited
from connectors.base import Connector, Inbox, OutgoingPost
from core.addressing import ReplyAddress


@dataclass
class FakePlatform:
    dedupe: bool = True
    hold_s: float = 0.0  # hold the first publish this long after recording it
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # text -> (status, message)
    rate_limit_once: dict[str, float] = field(default_factory=dict)  # text -> Retry-After seconds, once
    posts: list[dict[str, Any]] = field(default_factory=list)  # every post created
    requests: int = 0
    messages: list[str] = field(default_factory=list)  # what the bot told the owner
    stats: dict[str, dict[str, int]] = field(default_factory=dict)  # post id -> engagement counts
    first_publish: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._by_key: dict[str, str] = {}
        self._lock = threading.Lock()

    async def _publish(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        if body["text"] in self.rate_limit_once:
            retry_after = self.rate_limit_once.pop(body["text"])
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": str(retry_after)})
        if body["text"] in self.refuse:
            status, message = self.refuse[body["text"]]
            return web.json_response({"error": message}, status=status)
        with self._lock:
            self.requests += 1
            if self.dedupe and key and key in self._by_key:
                return web.json_response({"id": self._by_key[key]})
            post_id = f"p{next(self._ids)}"
            self.posts.append({"id": post_id, "text": body["text"], "key": key, "at": time.time()})
            if key:
                self._by_key[key] = post_id
            hold = self.hold_s if not self.first_publish.is_set() else 0.0
            self.first_publish.set()
        if hold:
            await asyncio.sleep(hold)
        return web.json_response({"id": post_id}, status=201)

    async def _stats(self, request: web.Request) -> web.Response:
        post_id = request.match_info["post_id"]
        if not any(p["id"] == post_id for p in self.posts):
            return web.json_response({"error": "no such post"}, status=404)
        return web.json_response(self.stats.get(post_id, {"views": 0}))

    async def _message(self, request: web.Request) -> web.Response:
        self.messages.append((await request.json())["text"])
        return web.json_response({"id": f"m{len(self.messages)}"})

    def start(self) -> FakePlatform:
        """Serve on a free port in a background thread; returns self with url set."""
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/posts", self._publish)
            app.router.add_post("/messages", self._message)
            app.router.add_get("/posts/{post_id}/stats", self._stats)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())

        threading.Thread(target=serve, daemon=True, name="fake-platform").start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


class FakePlatformConnector(Connector):
    """Publishes to a FakePlatform over HTTP; owner notifications go to its /messages."""

    platform = "fakesocial"
    reports_engagement = True

    def __init__(self, url: str, *, idempotent: bool = True) -> None:
        self.idempotent_publish = idempotent
        self._client = httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=50))
        self._closed = asyncio.Event()

    async def start(self, inbox: Inbox) -> None:
        self._closed.clear()

    async def stop(self) -> None:
        await self._client.aclose()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        return await self.send_text(to.chat_id, text)

    async def send_text(self, chat_id: str, text: str) -> str:
        response = await self._client.post("/messages", json={"chat": chat_id, "text": text})
        return str(response.json()["id"])

    async def publish(self, post: OutgoingPost) -> str:
        headers = {"Idempotency-Key": post.idempotency_key} if post.idempotency_key else {}
        response = await self._client.post("/posts", json={"text": post.text}, headers=headers)
        if response.status_code == 429:
            raise RateLimited("rate limited", float(response.headers.get("Retry-After", "60")))
        if 400 <= response.status_code < 500:
            raise ConnectorError(f"{self.platform} refused the post: {response.json().get('error', response.status_code)}")
        response.raise_for_status()
        return str(response.json()["id"])

    async def fetch_engagement(self, platform_post_id: str) -> dict[str, int] | None:
        response = await self._client.get(f"/posts/{platform_post_id}/stats")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return {str(k): int(v) for k, v in response.json().items()}
