"""A fake Telegram Bot API server: the methods our connector calls, with updates queued by tests."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from fakes.server import FakeServer

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "acme_test_bot"
CHANNEL_ID = -1001234567890
OWNER = 42  # the owner id in tests/conftest.py

# Telegram's own account, the sender of a channel post's copy in its discussion group.
TELEGRAM_SERVICE = {"id": 777000, "is_bot": False, "first_name": "Telegram"}


def to_owner(telegram: FakeTelegram) -> list[str]:
    """What the bot sent the owner on Telegram, in order."""
    return [str(c.params["text"]) for c in telegram.calls_to("sendMessage") if str(c.params["chat_id"]) == str(OWNER)]


async def told(telegram: FakeTelegram, words: str, timeout: float = 20.0) -> str:
    """The first message to the owner on Telegram containing `words`, once there is one."""

    async def look() -> str:
        while not (found := [t for t in to_owner(telegram) if words in t]):
            await asyncio.sleep(0.02)
        return found[0]

    return await asyncio.wait_for(look(), timeout)


def automatic_forward(group: int, message_id: int, text: str) -> dict[str, object]:
    """A channel post as its discussion group receives it (as reply_to_message it has no sender)."""
    return {
        "message_id": message_id,
        "date": 1,
        "chat": {"id": group, "type": "supergroup", "title": "g"},
        "sender_chat": {"id": CHANNEL_ID, "type": "channel", "title": "Acme"},
        "is_automatic_forward": True,
        "text": text,
    }


def _value(raw: Any) -> Any:
    """Form values arrive as strings; the library JSON-encodes objects such as reply_parameters."""
    if isinstance(raw, str) and raw[:1] in "{[":
        return json.loads(raw)
    if isinstance(raw, web.FileField):
        return raw.file.read()
    return raw


class FakeTelegram(FakeServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        # Webhook delivery: updates waiting to be answered 200, and the tasks that post them.
        self._webhook_queue: asyncio.Queue[dict[str, Any]] | None = None
        self._pushers: list[asyncio.Task[None]] = []
        self.webhook_posts = 0  # every POST to the webhook, retries included
        self.served_updates = 0  # updates handed out by getUpdates, again-deliveries included

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    # -- what tests call -------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; an update_id is added when missing."""
        update = {"update_id": next(self._update_ids), **update}
        if self._webhook_queue is not None:
            self._webhook_queue.put_nowait(update)
            return update
        self.updates.append(update)
        self._new_update.set()
        return update

    def deliver_by_webhook(self, url: str, secret: str, connections: int = 8) -> None:
        """From now on push updates to `url` as Telegram does: each is posted again until it is
        answered 200 (Telegram delivers an update until the webhook confirms it)."""
        self._webhook_queue = asyncio.Queue()
        for update in self.updates:
            self._webhook_queue.put_nowait(update)
        self.updates = []
        self._pushers = [asyncio.create_task(self._push_webhooks(url, secret)) for _ in range(connections)]

    async def webhook_done(self) -> None:
        """Return once every update pushed so far was answered 200."""
        assert self._webhook_queue is not None
        await self._webhook_queue.join()

    async def _push_webhooks(self, url: str, secret: str) -> None:
        assert self._webhook_queue is not None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while True:
                update = await self._webhook_queue.get()
                while True:
                    self.webhook_posts += 1
                    try:
                        async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}) as r:
                            if r.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    await asyncio.sleep(0.2)
                self._webhook_queue.task_done()

    def message(
        self, text: str, *, user_id: int = 777, chat_id: int | None = None, chat_type: str = "private", **extra: Any
    ) -> dict[str, Any]:
        """A `message` update payload from a person."""
        chat: dict[str, Any] = {"id": chat_id if chat_id is not None else user_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"user{user_id}"
        else:
            chat["title"] = "Acme fans"
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "username": f"user{user_id}"},
                "text": text,
                **extra,
            }
        }

    def next_message_id(self) -> int:
        return next(self._message_ids)

    async def stop(self) -> None:
        for task in self._pushers:
            task.cancel()
        await asyncio.gather(*self._pushers, return_exceptions=True)
        self._new_update.set()  # end a pending long poll now
        await super().stop()

    # -- the Bot API -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        form = await request.post() if request.can_read_body else {}
        params = {k: _value(v) for k, v in form.items()}
        failure = await self.record(method, params)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": await handler(params)})

    async def api_getMe(self, params: dict[str, Any]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Acme", "username": BOT_USERNAME}

    async def api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def api_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0))
        timeout = float(params.get("timeout", 0))
        self.updates = [u for u in self.updates if not isinstance(u.get("update_id"), int) or u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        batch = self.updates[:100]
        self.served_updates += len(batch)
        return batch

    def _sent(self, chat_id: str, **content: Any) -> dict[str, Any]:
        if chat_id.startswith("@") or chat_id == str(CHANNEL_ID):
            chat: dict[str, Any] = {"id": CHANNEL_ID, "type": "channel", "title": "Acme"}
        else:
            chat = {"id": int(chat_id), "type": "private", "first_name": "someone"}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Acme"},
            **content,
        }

    async def api_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._sent(str(params["chat_id"]), text=params["text"])

    async def api_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = [{"file_id": "photo-1", "file_unique_id": "u1", "width": 1, "height": 1}]
        return self._sent(str(params["chat_id"]), photo=photo, caption=params.get("caption", ""))
