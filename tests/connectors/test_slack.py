"""The Slack connector on the real slack-bolt and slack_sdk, against a local fake Slack."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.app import App
from core.config import Settings
from core.errors import ConnectorError, SettingRejected
from connectors.base import OutgoingPost
from core.addressing import MessageKind, ReplyAddress, Visibility
from connectors.slack import SlackConnector
from connectors.telegram import TelegramConnector
from storage.models import MessageStatus
from fakes.app import running, slack_settings, stored_messages, telegram_settings, wait_failed_send, wait_status, wait_stored
from fakes.slack_api import APP_TOKEN, BOT_TOKEN, BOT_USER, ENV, FOLLOWER, OWNER, SIGNING_SECRET, FakeSlack, dm
from fakes.telegram_api import TOKEN as TELEGRAM_TOKEN, FakeTelegram, to_owner, told



@pytest.fixture
def fake(slack_fake: FakeSlack) -> FakeSlack:
    return slack_fake


@pytest.fixture
def settings(config_file: Path, fake: FakeSlack) -> Settings:
    return slack_settings(config_file, fake)


async def test_dm_is_answered_over_socket_mode(settings: Settings, fake: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connectors.slack")
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        event = dm("hi there!")
        envelope = await fake.push_event(event)
        [call] = await fake.wait_for("chat.postMessage")
        [stored] = await wait_status(app, MessageStatus.replied)
    assert envelope in fake.acks
    assert call.params["channel"] == "D0DM0001" and call.params["text"].startswith("Hi! How can we help you today?")  # the greeting plan's own words
    assert "thread_ts" not in call.params  # a plain DM is answered plainly
    assert stored.platform_message_id == f"D0DM0001:{event['ts']}"
    assert not [r for r in caplog.records if "delivered again" in r.getMessage()]  # retry_attempt 0 is the first


async def test_mentions_and_replies_to_our_threads_are_answered_in_thread(settings: Settings, fake: FakeSlack) -> None:
    our_post = "1700000000.000100"
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.push_event(
            {
                "type": "message",
                "channel": "C0GENERAL",
                "channel_type": "channel",
                "user": FOLLOWER,
                "text": "hi folks, unrelated",
                "ts": "1700000001.000001",
            }
        )
        mention = {
            "type": "app_mention",
            "channel": "C0GENERAL",
            "user": FOLLOWER,
            "text": f"<@{BOT_USER}> hello there! 👋",
            "ts": "1700000002.000001",
        }
        await fake.push_event(mention)
        # Slack also sends the mention as a channel message; it must not be answered twice.
        await fake.push_event({**mention, "type": "message", "channel_type": "channel"})
        await fake.push_event(
            {
                "type": "message",
                "channel": "C0GENERAL",
                "channel_type": "channel",
                "user": "UFAN0002",
                "text": "hi hi, hello! 👋",
                "ts": "1700000003.000001",
                "thread_ts": our_post,
                "parent_user_id": BOT_USER,
            }
        )
        await fake.push_event(
            {
                "type": "message",
                "channel": "C0GENERAL",
                "channel_type": "channel",
                "user": "UFAN0003",
                "text": "hi, someone else's thread",
                "ts": "1700000004.000001",
                "thread_ts": "1700000000.000999",
                "parent_user_id": "USOMEONE",
            }
        )
        await fake.wait_for("chat.postMessage", 2)
        while len(fake.acks) < 5:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # let anything wrongly accepted reach the pipeline
        messages = stored_messages(app)
    calls = fake.calls_to("chat.postMessage")
    assert sorted(m.text for m in messages) == ["hello there! 👋", "hi hi, hello! 👋"]
    assert sorted(m.platform_message_id for m in messages) == [
        "C0GENERAL:1700000002.000001",
        f"C0GENERAL:1700000003.000001:{our_post}",
    ]
    assert sorted(c.params["thread_ts"] for c in calls) == sorted(["1700000002.000001", our_post])


async def test_owner_commands_over_slack(settings: Settings, fake: FakeSlack) -> None:
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        # Slack keeps a message that starts with "/" for its own slash commands: the owner mentions the bot first.
        await fake.push_event(dm(f"<@{BOT_USER}> /inbox", user=OWNER, channel="D0OWNER1"))
        await fake.push_event(dm("what should we post today?", user=OWNER, channel="D0OWNER1", ts="1700000009.1"))
        first, second = await fake.wait_for("chat.postMessage", 2)
        assert stored_messages(app) == []
    assert first.params["channel"] == "D0OWNER1" and first.params["text"] == "nothing is waiting for you"
    # Ideas from the facts, never what the (stand-in) model would say.
    assert second.params["text"].startswith("Ideas from your facts") and "Hello from Acme!" not in second.params["text"]


async def test_escalation_goes_to_the_owner(settings: Settings, fake: FakeSlack) -> None:
    async with running(settings, SlackConnector(settings.slack, ENV)):
        await fake.push_event(dm("the order arrived broken"))
        [call] = await fake.wait_for("chat.postMessage")
    assert call.params["channel"] == OWNER and "escalated" in call.params["text"]


async def test_publish_text_and_image(settings: Settings, fake: FakeSlack, tmp_path: Path) -> None:
    image = tmp_path / "cake.png"
    image.write_bytes(b"\x89PNG fake image")
    async with running(settings, slack := SlackConnector(settings.slack, ENV)):
        await fake.wait_for("apps.connections.open")
        await asyncio.sleep(0.1)
        text_id = await slack.publish(OutgoingPost("Autumn sale: 20% off"))
        image_id = await slack.publish(OutgoingPost("Fresh scones", image_path=str(image)))
    [post] = fake.calls_to("chat.postMessage")
    [complete] = fake.calls_to("files.completeUploadExternal")
    [upload] = fake.calls_to("upload")
    assert post.params["channel"] == "C0POSTS1" and post.params["text"] == "Autumn sale: 20% off"
    assert text_id.startswith("C0POSTS1:")
    assert complete.params["channel_id"] == "C0POSTS1" and complete.params["initial_comment"] == "Fresh scones"
    assert upload.params["bytes"] == len(image.read_bytes())
    assert image_id == "C0POSTS1:file:F0001"


async def test_429_waits_retry_after_then_sends(settings: Settings, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.push_event(dm("hi!"))
        first, second = await fake.wait_for("chat.postMessage", 2)
        await wait_status(app, MessageStatus.replied)
    assert second.at - first.at >= 0.9


async def test_500_three_times_fails_the_send_and_records_why(settings: Settings, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 500, {"ok": False, "error": "internal_error"}, times=3)
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.push_event(dm("hi!"))
        failed = await wait_failed_send(app)
        await fake.push_event(dm("hi again", ts="1700000010.000001"))
        await wait_status(app, MessageStatus.replied)
    to_followers = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] != OWNER]
    assert len(to_followers) == 4  # three failed tries, then the next follower's reply
    assert "failed after 3 attempts: internal_error" in (failed.error or "")


async def test_4xx_error_fails_that_send_once(settings: Settings, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.push_event(dm("hi!"))
        failed = await wait_failed_send(app)
    to_followers = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] != OWNER]
    assert len(to_followers) == 1 and "channel_not_found" in (failed.error or "")


async def test_malformed_event_is_ignored_with_one_log_line(
    settings: Settings, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.slack")
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.push_event(
            {
                "type": "message",
                "channel": "D0DM0001",
                "channel_type": "im",
                "user": FOLLOWER,
                "text": ["not", "a", "string"],
                "ts": "1700000001.000001",
            }
        )
        await fake.push_event(dm("hi!"))
        await wait_status(app, MessageStatus.replied)
        assert [m.text for m in stored_messages(app)] == ["hi!"]
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 1


async def test_bad_tokens_are_a_clear_error_at_start(settings: Settings, fake: FakeSlack) -> None:
    bad_bot = SlackConnector(settings.slack, {**ENV, "SLACK_BOT_TOKEN": "xoxb-wrong"})
    with pytest.raises(SettingRejected, match=r"slack rejected the bot token in \$SLACK_BOT_TOKEN: invalid_auth"):
        await bad_bot.start(_ignore)
    bad_app = SlackConnector(settings.slack, {**ENV, "SLACK_APP_TOKEN": "xapp-wrong"})
    with pytest.raises(SettingRejected, match=r"app token in \$SLACK_APP_TOKEN: invalid_auth"):
        await bad_app.start(_ignore)
    await bad_app.stop()


async def test_the_first_event_is_stored_while_the_web_api_fails(settings: Settings, fake: FakeSlack) -> None:
    """Who the events are for is known from the start: an auth.test failing later loses no event."""
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await fake.connected()
        fake.fail_next("auth.test", 500, {"ok": False, "error": "internal_error"}, times=5)
        envelope = await fake.push_event(dm("hi there!"))
        [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.text == "hi there!" and envelope in fake.acks


async def test_slack_failing_at_start_is_not_a_refused_token(settings: Settings, fake: FakeSlack) -> None:
    """A 5xx says nothing about the token: the bot tries again later instead of stopping Slack for good."""
    fake.fail_next("auth.test", 500, {"ok": False, "error": "internal_error"})
    slack = SlackConnector(settings.slack, ENV)
    with pytest.raises(ConnectorError, match="answered 500") as info:
        await slack.start(_ignore)
    assert not isinstance(info.value, SettingRejected)
    await slack.start(_ignore)  # Slack answers again
    await fake.connected()
    await slack.stop()


async def test_http_mode_accepts_only_signed_requests(config_file: Path, fake: FakeSlack) -> None:
    settings = slack_settings(config_file, fake, 'mode = "http"\nhttp_port = 0')
    slack = SlackConnector(settings.slack, ENV)
    verifier = SignatureVerifier(SIGNING_SECRET)
    async with running(settings, slack) as app:
        await fake.wait_for("auth.test")
        while slack._web is None:
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{slack.http_port}/slack/events"

        async def post(event: dict[str, object], secret_ok: bool = True, stale: bool = False) -> int:
            body = json.dumps(fake.event_body(event))
            stamp = str(int(time.time()) - (600 if stale else 0))
            signer = verifier if secret_ok else SignatureVerifier("wrong-secret")
            signature = signer.generate_signature(timestamp=stamp, body=body) or ""
            headers = {
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
                "Content-Type": "application/json",
            }
            async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
                return response.status

        forged = await post(dm("hi, forged", ts="1700000001.000001"), secret_ok=False)
        replayed = await post(dm("hi, replayed", ts="1700000002.000001"), stale=True)
        genuine = await post(dm("hi, genuine", ts="1700000003.000001"))
        [call] = await fake.wait_for("chat.postMessage")
        [stored] = await wait_status(app, MessageStatus.replied)
    assert (forged, replayed, genuine) == (401, 401, 200)
    assert stored.text == "hi, genuine" and call.params["channel"] == "D0DM0001"


async def _ignore(_: object) -> None:
    pass


async def test_a_reply_sent_later_finds_the_thread_from_the_stored_address(settings: Settings, fake: FakeSlack) -> None:
    """After the owner approves a reply, only what was stored is known: no raw event."""
    async with running(settings, slack := SlackConnector(settings.slack, ENV)):
        await fake.wait_for("apps.connections.open")
        for address in (
            ReplyAddress(MessageKind.comment, Visibility.group, "C0GENERAL", "1700000003.000001", "1700000000.000100"),
            ReplyAddress(MessageKind.mention, Visibility.group, "C0GENERAL", "1700000004.000001"),
            ReplyAddress(MessageKind.private, Visibility.direct, "D0DM0001", "1700000005.000001"),
        ):
            await slack.send_reply(address, "thanks!")
    assert [c.params.get("thread_ts") for c in fake.calls_to("chat.postMessage")] == [
        "1700000000.000100",
        "1700000004.000001",
        None,
    ]


# -- an outage while running: the owner, on Telegram, hears of it once, and when it is over ---------


@pytest.fixture
def with_telegram(config_file: Path, fake: FakeSlack, telegram_fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Slack in Socket Mode pinging every 0.3 s, and Telegram, where the owner is told things."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    slack_settings(config_file, fake, "ping_interval_s = 0.3")
    return telegram_settings(config_file, telegram_fake, '[owner]\nnotify = ["telegram"]\n[connectors]\ndown_after_failures = 2\n')


@asynccontextmanager
async def slack_beside_telegram(settings: Settings) -> AsyncIterator[tuple[App, SlackConnector]]:
    slack = SlackConnector(settings.slack, ENV)
    async with running(settings, [slack, TelegramConnector(settings.telegram)]) as app:
        yield app, slack


async def test_slack_down_while_running_is_reported_once_and_again_when_back(
    with_telegram: Settings, fake: FakeSlack, telegram_fake: FakeTelegram
) -> None:
    async with slack_beside_telegram(with_telegram) as (app, slack):
        await fake.push_event(dm("hi there!"))
        await wait_status(app, MessageStatus.replied)
        port, opened = fake.port, len(fake.calls_to("apps.connections.open"))
        await fake.stop()  # the connection drops and Slack answers nothing
        down = await told(telegram_fake, "slack is down")
        await asyncio.sleep(1.5)  # more failed reconnects (backing off), no second notice
        event = dm("hello again, anyone there?", ts="1700000010.000001")
        await fake.queue_event(event)  # Slack keeps it until a connection takes it
        await fake.start(port)
        await told(telegram_fake, "slack works again")
        await fake.all_acked()
        await wait_status(app, MessageStatus.replied)
        assert "slack" in app.connections.live
        messages = stored_messages(app)
    assert "\n" not in down and "network error" in down
    assert sum("slack is down" in t for t in to_owner(telegram_fake)) == 1
    assert sorted(m.text for m in messages) == ["hello again, anyone there?", "hi there!"]
    assert len(fake.calls_to("apps.connections.open")) > opened  # a fresh socket URL after the outage


async def test_slack_asking_to_reconnect_is_no_outage(with_telegram: Settings, fake: FakeSlack, telegram_fake: FakeTelegram) -> None:
    async with slack_beside_telegram(with_telegram) as (app, slack):
        await fake.disconnect("refresh_requested")
        await fake.wait_for("apps.connections.open", 2)
        await fake.push_event(dm("hi there!"))
        await wait_status(app, MessageStatus.replied)
        await fake.connected()
        await fake.drop_connection()  # dropped without a word: connected again at the first try
        await fake.wait_for("apps.connections.open", 3)
        await fake.push_event(dm("hello, me again!", ts="1700000011.000001"))
        await wait_stored(app, 2)
        await wait_status(app, MessageStatus.replied)
        await asyncio.sleep(0.5)
    assert not [t for t in to_owner(telegram_fake) if "slack" in t]


async def test_a_revoked_app_token_stops_slack_alone_naming_the_variable(
    with_telegram: Settings, fake: FakeSlack, telegram_fake: FakeTelegram
) -> None:
    async with slack_beside_telegram(with_telegram) as (app, slack):
        await fake.connected()
        await fake.revoke(APP_TOKEN)  # the app-level token was revoked: the connection goes with it
        stopped = await told(telegram_fake, "slack is stopped")
        await asyncio.wait_for(slack.wait_closed(), 10)
        opened = len(fake.calls_to("apps.connections.open"))
        await asyncio.sleep(1.0)  # several ping intervals: a revoked token is not tried again
        assert set(app.connections.live) == {"telegram"}
    assert "\n" not in stopped and "$SLACK_APP_TOKEN: token_revoked" in stopped and "start the bot again" in stopped
    assert len(fake.calls_to("apps.connections.open")) == opened == 2


async def test_a_revoked_bot_token_found_by_a_send_stops_slack_naming_the_variable(
    with_telegram: Settings, fake: FakeSlack, telegram_fake: FakeTelegram
) -> None:
    async with slack_beside_telegram(with_telegram) as (app, slack):
        await fake.push_event(dm("hi there!"))
        await wait_status(app, MessageStatus.replied)
        await fake.revoke(BOT_TOKEN)  # revoked in the app's settings; the socket stays open
        await fake.push_event(dm("hello again!", ts="1700000012.000001"))
        stopped = await told(telegram_fake, "slack is stopped")
        await asyncio.wait_for(slack.wait_closed(), 10)
        reply = await wait_failed_send(app)
        assert set(app.connections.live) == {"telegram"}
    assert "$SLACK_BOT_TOKEN: token_revoked" in stopped and "start the bot again" in stopped
    assert reply.error is not None and "token_revoked" in reply.error
    assert len(fake.calls_to("chat.postMessage")) == 2  # the first reply, and the one refused: not tried again
