"""Slack connector on slack-bolt (async): DMs, mentions and thread replies; Socket Mode or HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from core.config import Settings, SlackSettings
from core.errors import ConfigError, ConnectorError, SettingRejected
from connectors.base import Connector, IncomingMessage, Inbox, OutgoingPost
from core.addressing import MessageKind, ReplyAddress, Visibility
from connectors.delivery import Delivery, Failure, poll_forever
from connectors.local_server import LocalServer

log = logging.getLogger(__name__)

#: Ping intervals a Socket Mode connection may take to open before a fresh URL is asked for.
CONNECT_TRIES = 3
#: Slack's errors for a token that no longer works, whatever the call (its other 4xx errors are about
#: the call: a channel not found, a message too long).
TOKEN_GONE = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})


def classify(exc: BaseException) -> Failure | None:
    """slack_sdk's exceptions in delivery terms."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if isinstance(response.data, dict) else None
        message = str(error or f"HTTP {response.status_code}")
        if response.status_code == 429:
            return Failure(message, retry_after=float(response.headers.get("Retry-After", "1")))
        return Failure(message, retryable=response.status_code >= 500)
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError)):
        return Failure(f"network error: {type(exc).__name__}", retryable=True)
    if isinstance(exc, SlackRequestError):  # a file upload to Slack's upload URL failed
        return Failure(str(exc), retryable=True)
    return None


def _refused(exc: SlackApiError) -> bool:
    """Slack said no for good (a wrong, revoked or uninstalled token), not "not now" (5xx, 429)."""
    failure = classify(exc)
    return failure is not None and not failure.retryable and failure.retry_after is None


def _is_direct(channel: str) -> bool:
    """Slack's direct-message conversations have ids starting with D; channels and groups don't."""
    return channel.startswith("D")


def _require(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"slack: set the {what} in the environment variable {name}")
    return value


class SlackConnector(Connector):
    platform = "slack"

    def __init__(self, settings: SlackSettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.bot_token = _require(env, settings.bot_token_env, "bot token (xoxb-...)")
        if settings.mode == "socket":
            self.app_token = _require(env, settings.app_token_env, "app-level token (xapp-...)")
            signing_secret = ""
        else:
            self.app_token = ""
            signing_secret = _require(env, settings.signing_secret_env, "signing secret")
        # One retry path for every platform: slack_sdk's own retry handlers are turned off.
        self.client = AsyncWebClient(token=self.bot_token, base_url=settings.base_url, retry_handlers=[])
        self._authorized: AuthorizeResult | None = None

        async def authorize() -> AuthorizeResult | None:
            return self._authorized

        # process_before_response: the listener (which stores the message) runs before Bolt acks the
        # event, in both modes; a listener that raises is answered 500, so Slack delivers it again.
        self.app = AsyncApp(
            # Bolt would otherwise call auth.test again at the first event and, when that call fails
            # (a 5xx, a revoked token), answer the event 200: acked, never stored. The start's own
            # auth.test says who the events are for. (Bolt's client needs no token then.)
            client=AsyncWebClient(base_url=settings.base_url, retry_handlers=[]),
            authorize=authorize,
            signing_secret=signing_secret,
            request_verification_enabled=settings.mode == "http",
            process_before_response=True,
        )
        self.app.event("message")(self._on_message_event)
        self.app.event("app_mention")(self._on_mention)
        self.delivery = Delivery(self.platform, settings, classify)
        self.bot_user_id = ""
        self._inbox: Inbox | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._web: LocalServer | None = None
        self._closed = asyncio.Event()

    async def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._closed.clear()
        self.failure = None
        s = self.settings
        try:
            url = await self._check_tokens()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ConnectorError(f"slack: cannot reach the Web API at {s.base_url}: {type(exc).__name__}") from None
        except SlackApiError as exc:  # a 5xx or 429: Slack is there but cannot answer now
            raise ConnectorError(f"slack: the Web API at {s.base_url} answered {exc.response.status_code}") from None
        if url is not None:
            socket = AsyncSocketModeHandler(self.app, self.app_token, ping_interval=s.ping_interval_s)
            # Reconnecting is ours (_keep_connected), with the pollers' backoff and reporting, so the
            # owner hears of an outage; the SDK alone would retry quietly, and a revoked token forever.
            socket.client.default_auto_reconnect_enabled = False
            self._socket = socket
            await self._connect(url)
            self._watcher = asyncio.create_task(self._keep_connected(), name="slack-socket")
        else:
            server = LocalServer(self.app.web_app(path=s.http_path, port=s.http_port), s.http_listen, s.http_port)
            await server.start()
            self._web = server  # only once it listens: http_port reads the port it got
        log.info("slack connected as %s (%s mode)", self.bot_user_id, s.mode)

    async def _check_tokens(self) -> str | None:
        """Check the bot token (auth.test) and, in Socket Mode, ask for a socket URL with the app
        token (the socket client would retry a bad app token forever); returns the URL. A token
        Slack refuses raises SettingRejected naming its variable; other failures pass through."""
        s = self.settings
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            if _refused(exc):
                raise SettingRejected(self._bot_token_refused(exc)) from None
            raise
        self.bot_user_id = str(auth["user_id"])
        self._authorized = AuthorizeResult.from_auth_test_response(auth_test_response=auth, bot_token=self.bot_token)
        if s.mode != "socket":
            return None
        try:
            opened = await self.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            if _refused(exc):
                raise SettingRejected(
                    f"slack rejected the app token in ${s.app_token_env}: {exc.response.get('error')}; "
                    "make a new app-level token with connections:write (Basic Information) and put it there"
                ) from None
            raise
        return str(opened["url"])

    def _bot_token_refused(self, exc: SlackApiError) -> str:
        return (
            f"slack rejected the bot token in ${self.settings.bot_token_env}: {exc.response.get('error')}; "
            "install the app to the workspace again (OAuth & Permissions) and put its bot token there"
        )

    async def _connect(self, url: str) -> None:
        """Open the Socket Mode connection at `url`. The SDK's connect() tries the same URL again
        and again while it fails; a URL expires, so after a while a fresh one is asked for."""
        assert self._socket is not None
        self._socket.client.wss_uri = url
        await asyncio.wait_for(self._socket.connect_async(), CONNECT_TRIES * self.settings.ping_interval_s)

    async def _keep_connected(self) -> None:
        """Watch the Socket Mode connection like a poller watches its platform: each look is a round
        (reported through `polled`); one that finds the connection gone connects again, and a
        failed reconnect backs off and counts towards telling the owner that Slack is down."""

        async def look() -> bool:
            assert self._socket is not None
            client = self._socket.client
            if await client.is_connected():
                return True
            # Slack's own refresh (a "disconnect" message) reconnects under this lock too.
            async with client.connect_operation_lock:
                if await client.is_connected():
                    return True
                log.info("slack: the Socket Mode connection is gone; connecting again")
                try:
                    url = await self._check_tokens()
                except SettingRejected as exc:
                    self._stop_for_good(str(exc))
                    # No round to report (the owner hears "slack is stopped"): stop() cancels us.
                    await asyncio.get_running_loop().create_future()
                assert url is not None
                await self._connect(url)
                log.info("slack: connected again")
            return True

        pause = lambda: asyncio.sleep(self.settings.ping_interval_s)  # noqa: E731
        await poll_forever(self.platform, look, pause, classify, self.polled, doing="reconnecting")

    def _stop_for_good(self, why: str) -> None:
        """A token was revoked (the app uninstalled) while running: stop, and say what to do."""
        if self.failure is not None:
            return
        self.failure = f"{why}, then start the bot again (README: \"Connect Slack\")"
        log.error("slack stopped: %s", self.failure)
        self._stopping = asyncio.get_running_loop().create_task(self.stop())

    @property
    def http_port(self) -> int:
        """The port HTTP mode listens on (the real one when config says 0)."""
        assert self._web is not None
        return self._web.port

    async def _on_message_event(self, event: dict[str, Any], body: dict[str, Any], request: AsyncBoltRequest) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, other bots
        if event.get("channel_type") != "im":
            in_our_thread = event.get("thread_ts") and event.get("parent_user_id") == self.bot_user_id
            mentioned = f"<@{self.bot_user_id}>" in str(event.get("text", ""))
            if not in_our_thread or mentioned:  # mentions arrive as app_mention too
                return
        await self._deliver(event, body, request)

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], request: AsyncBoltRequest) -> None:
        await self._deliver(event, body, request)

    async def _deliver(self, event: dict[str, Any], body: dict[str, Any], request: AsyncBoltRequest) -> None:
        """Store the event's message; Bolt acks only when this returns (an exception means no ack)."""
        retry = (request.headers.get("x-slack-retry-num") or [""])[0]
        if retry not in ("", "0"):  # Socket Mode counts the first delivery as attempt 0
            # A retry carries the event's first event_id and ts: the store recognises the message and keeps it once.
            log.info("slack event %s delivered again (retry %s)", body.get("event_id"), retry)
        incoming = self._to_incoming(event)
        if incoming is not None and self._inbox is not None:
            await self._inbox.store([incoming])

    def _to_incoming(self, event: dict[str, Any]) -> IncomingMessage | None:
        channel, user, ts, text = (event.get(k) for k in ("channel", "user", "ts", "text"))
        if not all(isinstance(v, str) and v for v in (channel, user, ts)) or not isinstance(text, str):
            log.warning("slack %s event is malformed and ignored: no channel, user, ts or text", event.get("type"))
            return None
        text = re.sub(rf"<@{re.escape(self.bot_user_id)}>", "", text).strip()
        thread_ts = event.get("thread_ts")
        thread = thread_ts if isinstance(thread_ts, str) and thread_ts and thread_ts != ts else ""
        if _is_direct(str(channel)):
            kind = MessageKind.private
        else:
            kind = MessageKind.comment if thread and event.get("type") != "app_mention" else MessageKind.mention
        reply_to = ReplyAddress(
            kind=kind,
            visibility=Visibility.direct if kind is MessageKind.private else Visibility.group,
            chat_id=str(channel),
            message_id=str(ts),
            thread_id=thread,
        )
        return IncomingMessage(
            platform=self.platform,
            # The unique id; it kept the thread in it before replies had their own address.
            message_id=f"{channel}:{ts}" + (f":{thread}" if thread else ""),
            reply_to=reply_to,
            user_id=str(user),
            user_name=str(user),
            text=text,
            raw=event,
        )

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close_async()
        server, self._web = self._web, None
        if server is not None:
            await server.stop()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _send(self, channel: str, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """A Web API call through the delivery rules; a bot token Slack no longer takes (revoked, the
        app uninstalled) stops the connector, as it would at start, instead of failing send by send."""
        try:
            return await self.delivery.send(channel, what, call)
        except ConnectorError as exc:
            cause = exc.__cause__
            if isinstance(cause, SlackApiError) and cause.response.get("error") in TOKEN_GONE:
                self._stop_for_good(self._bot_token_refused(cause))
            raise

    async def _post(self, channel: str, what: str, text: str, thread_ts: str | None = None) -> str:
        response = await self._send(
            channel, what, lambda: self.client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts)
        )
        return f"{response['channel']}:{response['ts']}"

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        if to.is_private != _is_direct(to.chat_id):
            where = "a direct message" if _is_direct(to.chat_id) else "a channel"
            raise ConnectorError(f"slack: refusing to answer a {to.visibility} {to.kind} in {where} ({to.chat_id})")
        # Answer in the message's thread; a message in a channel starts one; a plain direct
        # message is answered plainly.
        thread_ts = to.thread_id or (None if to.is_private else to.message_id)
        return await self._post(to.chat_id, "reply", text, thread_ts)

    async def send_text(self, chat_id: str, text: str) -> str:
        return await self._post(chat_id, "message", text)

    async def publish(self, post: OutgoingPost) -> str:
        channel = self.settings.channel
        if not channel:
            raise ConfigError("slack.channel is not set: no channel to publish to")
        if not post.image_path:
            return await self._post(channel, "post", post.text)
        path = post.image_path
        if not os.path.isfile(path):
            raise ConnectorError(f"slack post image {path}: no such file")
        response = await self._send(
            channel,
            "image post",
            lambda: self.client.files_upload_v2(channel=channel, file=path, initial_comment=post.text),
        )
        return f"{channel}:file:{response['file']['id']}"


def from_settings(settings: Settings) -> SlackConnector:
    """The slack connector as `bot run` builds it (core/platforms.py); secrets from the environment."""
    return SlackConnector(settings.slack)
