"""A fake Slack: the Web API methods our connector calls, and a Socket Mode WebSocket to push events."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from fakes.server import FakeServer

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
BOT_USER = "UBOT0001"
SIGNING_SECRET = "test-signing-secret"
OWNER = "UOWNER01"  # slack_settings() makes them the owner
FOLLOWER = "UFAN0001"
ENV = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}


def dm(text: str, user: str = FOLLOWER, **extra: object) -> dict[str, object]:
    return {
        "type": "message",
        "channel": "D0DM0001",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        **extra,
    }


class FakeSlack(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.acks: list[str] = []
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._ts = itertools.count(1)
        self._envelopes = itertools.count(1)
        # Socket Mode: envelopes sent and not acked yet; sent again on every new connection, as Slack does.
        self._unacked: dict[str, dict[str, Any]] = {}
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        # HTTP mode: event bodies waiting for a 200, and the tasks that post them.
        self._http_queue: asyncio.Queue[dict[str, Any]] | None = None
        self._pushers: list[asyncio.Task[None]] = []
        self.http_posts = 0  # every POST to the events URL, retries included
        self.revoked: set[str] = set()  # tokens Slack now answers token_revoked for

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link", self._link)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"

    # -- what tests call -------------------------------------------------------------------

    def new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def event_body(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Events API envelope Slack wraps an event in (as posted in HTTP mode)."""
        return {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{next(self._envelopes)}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0001", "user_id": BOT_USER, "is_bot": True}],
            "event": {"event_ts": event.get("ts", self.new_ts()), **event},
        }

    async def connected(self) -> None:
        """Return once a Socket Mode connection is open."""
        await asyncio.wait_for(self._connected.wait(), 10)

    async def push_event(self, event: dict[str, Any]) -> str:
        """Send an event over the Socket Mode connection; returns its envelope id."""
        await self.connected()
        return await self.queue_event(event)

    async def queue_event(self, event: dict[str, Any]) -> str:
        """Send an event over Socket Mode now if connected, else on the next connection; until it
        is acked it is sent again on every new connection (with retry_attempt counted up)."""
        envelope_id = f"env-{next(self._envelopes)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": self.event_body(event),
        }
        self._unacked[envelope_id] = envelope
        self._all_acked.clear()
        if self._socket is not None:
            await self._send(self._socket, envelope)
        return envelope_id

    async def all_acked(self) -> None:
        """Return once every event queued so far was acked."""
        await self._all_acked.wait()

    async def _send(self, ws: web.WebSocketResponse, envelope: dict[str, Any]) -> None:
        try:
            await ws.send_json({k: v for k, v in envelope.items() if k != "sent"})
            envelope["sent"] = True
        except (ConnectionError, RuntimeError):
            pass  # the connection went away: the envelope is sent again on the next one

    def deliver_http(self, url: str, connections: int = 8) -> None:
        """From now on post events queued with `queue_http_event` to `url`, signed, as Slack's
        Events API does: each again (with X-Slack-Retry-Num) until it is answered 200."""
        self._http_queue = asyncio.Queue()
        self._pushers = [asyncio.create_task(self._post_events(url)) for _ in range(connections)]

    def queue_http_event(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self._http_queue is not None, "call deliver_http first"
        body = self.event_body(event)
        self._http_queue.put_nowait(body)
        return body

    async def http_done(self) -> None:
        assert self._http_queue is not None
        await self._http_queue.join()

    async def _post_events(self, url: str) -> None:
        assert self._http_queue is not None
        signer = SignatureVerifier(SIGNING_SECRET)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:  # Slack waits 3 s
            while True:
                body = await self._http_queue.get()
                data = json.dumps(body)
                for attempt in itertools.count():
                    self.http_posts += 1
                    stamp = str(int(time.time()))
                    headers = {
                        "Content-Type": "application/json",
                        "X-Slack-Request-Timestamp": stamp,
                        "X-Slack-Signature": signer.generate_signature(timestamp=stamp, body=data) or "",
                    }
                    if attempt:
                        headers.update({"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"})
                    try:
                        async with http.post(url, data=data, headers=headers) as response:
                            if response.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    await asyncio.sleep(0.2)
                self._http_queue.task_done()

    async def stop(self) -> None:
        """Slack goes away: the Socket Mode connection drops and nothing answers on the port."""
        for task in self._pushers:
            task.cancel()
        await asyncio.gather(*self._pushers, return_exceptions=True)
        await self.drop_connection()
        await super().stop()

    async def drop_connection(self) -> None:
        """Close the Socket Mode connection without a word, as a network failure or Slack's side does."""
        socket = self._socket
        if socket is not None:
            await socket.close()

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect as Slack does from time to time, then close the connection
        (reasons: "warning", "refresh_requested", "link_disabled")."""
        await self.connected()
        socket = self._socket
        if socket is not None:
            await socket.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}})
            await socket.close()

    async def revoke(self, token: str) -> None:
        """The token is revoked (the app uninstalled, the token regenerated): every call with it
        answers token_revoked, and with the app token goes the open connection."""
        self.revoked.add(token)
        if token == APP_TOKEN:
            await self.drop_connection()

    # -- Socket Mode -----------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}})
        self._connected.set()
        for envelope in list(self._unacked.values()):
            if envelope.get("sent"):
                envelope["retry_attempt"] += 1
                envelope["retry_reason"] = "timeout"
            await self._send(ws, envelope)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                envelope_id = json.loads(msg.data).get("envelope_id")
                if envelope_id:
                    self.acks.append(envelope_id)
                    self._unacked.pop(envelope_id, None)
                    if not self._unacked:
                        self._all_acked.set()
        if self._socket is ws:
            self._socket = None
            self._connected.clear()
        return ws

    # -- the Web API -----------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
        failure = await self.record(method, params)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token in self.revoked:
            return web.json_response({"ok": False, "error": "token_revoked"})
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response({"ok": True, **handler(params)})

    def api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": BOT_USER, "bot_id": "B0001", "team_id": "T0001", "user": "acme", "team": "Acme"}

    def api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/link"}

    def api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        if channel.startswith("U"):  # a user id opens the DM with the app
            channel = "D" + channel[1:]
        ts = self.new_ts()
        return {"channel": channel, "ts": ts, "message": {"text": params.get("text"), "ts": ts, "user": BOT_USER}}

    def api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"upload_url": f"{self.url}/upload/F0001", "file_id": "F0001"}

    def api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params["files"]
        files = json.loads(files) if isinstance(files, str) else files
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.record("upload", {"file_id": request.match_info["file_id"], "bytes": len(body)})
        return web.Response(text=f"OK - {len(body)}")
