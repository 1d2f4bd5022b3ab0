"""The Telegram connector on the real python-telegram-bot, against a local fake Bot API server."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from core.config import Settings
from core.errors import ConnectorError
from connectors.base import OutgoingPost
from connectors.telegram import SECRET_HEADER, TelegramConnector
from storage.models import MessageStatus
from fakes.app import running, stored_messages, telegram_settings, wait_failed_send, wait_status
from fakes.telegram_api import BOT_ID, BOT_USERNAME, CHANNEL_ID, OWNER, TELEGRAM_SERVICE, TOKEN, FakeTelegram, automatic_forward

WEBHOOK_SECRET = "s3cret-token"


@pytest.fixture
def fake(telegram_fake: FakeTelegram) -> FakeTelegram:
    return telegram_fake


@pytest.fixture
def settings(config_file: Path, fake: FakeTelegram) -> Settings:
    return telegram_settings(config_file, fake)


def connector(settings: Settings) -> TelegramConnector:
    return TelegramConnector(settings.telegram, token=TOKEN)


async def test_follower_message_is_answered_as_a_reply(settings: Settings, fake: FakeTelegram) -> None:
    async with running(settings, connector(settings)) as app:
        update = fake.push(fake.message("hi there!", user_id=777))
        [call] = await fake.wait_for("sendMessage")
        stored = await wait_status(app, MessageStatus.replied)
    assert call.params["chat_id"] == "777"
    assert call.params["text"].startswith("Hi! How can we help you today?")  # the greeting plan's own words
    assert call.params["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert [(m.status, m.platform_message_id) for m in stored] == [
        (MessageStatus.replied, f"777:{update['message']['message_id']}")
    ]


async def test_complaint_is_escalated_to_the_owner_chat(settings: Settings, fake: FakeTelegram) -> None:
    async with running(settings, connector(settings)):
        fake.push(fake.message("my cake arrived broken", user_id=777))
        [call] = await fake.wait_for("sendMessage")
    assert call.params["chat_id"] == str(OWNER)
    assert "escalated" in call.params["text"] and "broken" in call.params["text"]


async def test_owner_commands_work_in_the_owner_chat(settings: Settings, fake: FakeTelegram) -> None:
    async with running(settings, connector(settings)) as app:
        fake.push(fake.message("/help", user_id=OWNER))
        fake.push(fake.message("/inbox", user_id=OWNER))
        fake.push(fake.message("tell me a joke", user_id=OWNER))
        calls = await fake.wait_for("sendMessage", 3)
        stored = stored_messages(app)
    help_text, inbox, answer = (c.params["text"] for c in calls)
    assert "/inbox" in help_text and "commands:" in help_text
    assert inbox == "nothing is waiting for you"
    # What the bot can do, never what the (stand-in) model would say.
    assert answer.startswith("I can't answer that: I only say what") and "commands:" in answer and "Hello from Acme!" not in answer
    assert all(c.params["chat_id"] == str(OWNER) for c in calls)
    assert stored == []  # the owner is not a follower


async def test_group_messages_only_when_addressed_to_the_bot(settings: Settings, fake: FakeTelegram) -> None:
    group = -100555
    channel_post = automatic_forward(group, 5, "our new post")
    bot_message = {
        "message_id": 6,
        "date": 1,
        "chat": {"id": group, "type": "supergroup", "title": "g"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Acme"},
        "text": "earlier answer",
    }
    mention = f"@{BOT_USERNAME}"
    async with running(settings, connector(settings)) as app:
        fake.push(fake.message("hi all, chatting among ourselves", chat_id=group, chat_type="supergroup"))
        fake.push({"message": {**channel_post, "from": TELEGRAM_SERVICE}})
        fake.push(
            fake.message(
                f"hello {mention} 👋",
                user_id=1,
                chat_id=group,
                chat_type="supergroup",
                entities=[{"type": "mention", "offset": 6, "length": len(mention)}],
            )
        )
        fake.push(
            fake.message("hi, thanks!", user_id=2, chat_id=group, chat_type="supergroup", reply_to_message=bot_message)
        )
        fake.push(
            fake.message(
                "hi, lovely post", user_id=3, chat_id=group, chat_type="supergroup", reply_to_message=channel_post
            )
        )
        calls = await fake.wait_for("sendMessage", 3)
        await fake.wait_for("getUpdates", 3)  # one more poll: nothing else was about to be answered
        stored = stored_messages(app)
    assert sorted(m.text for m in stored) == ["hello 👋", "hi, lovely post", "hi, thanks!"]
    assert all(m.chat_id == str(group) for m in stored)
    assert len(fake.calls_to("sendMessage")) == 3 and all(c.params["chat_id"] == str(group) for c in calls)


async def test_comments_replying_to_other_comments_under_a_channel_post(settings: Settings, fake: FakeTelegram) -> None:
    group = -100555
    forward = {**automatic_forward(group, 50, "our autumn sale starts today"), "from": TELEGRAM_SERVICE}

    def in_group(text: str, user_id: int, **extra: object) -> dict[str, object]:
        return fake.message(text, user_id=user_id, chat_id=group, chat_type="supergroup", **extra)

    first = in_group("hi, lovely post", 3, reply_to_message=forward, message_thread_id=50)
    async with running(settings, connector(settings)) as app:
        fake.push({"message": forward})
        fake.push(first)
        # A reply to a comment names only that comment; the thread id says which post it is under.
        fake.push(in_group("hi, same here!", 4, reply_to_message=first["message"], message_thread_id=50))
        # A reply chain in the group's own chat is not a comment thread: not for the bot.
        chat = in_group("anyone up for lunch?", 5)
        fake.push(chat)
        fake.push(in_group("hi, me!", 6, reply_to_message=chat["message"], message_thread_id=chat["message"]["message_id"]))
        calls = await fake.wait_for("sendMessage", 2)
        await fake.wait_for("getUpdates", 3)  # one more poll: nothing else was about to be answered
        stored = stored_messages(app)
    assert sorted(m.text for m in stored) == ["hi, lovely post", "hi, same here!"]
    assert len(fake.calls_to("sendMessage")) == 2 and all(c.params["chat_id"] == str(group) for c in calls)


async def test_publish_text_and_photo_to_the_channel(settings: Settings, fake: FakeTelegram, tmp_path: Path) -> None:
    image = tmp_path / "cake.png"
    image.write_bytes(b"\x89PNG fake image bytes")
    async with running(settings, tg := connector(settings)):
        await fake.wait_for("getUpdates")
        text_id = await tg.publish(OutgoingPost("Autumn sale: 20% off cakes"))
        photo_id = await tg.publish(OutgoingPost("Fresh from the oven", image_path=str(image)))
    [text_call] = fake.calls_to("sendMessage")
    [photo_call] = fake.calls_to("sendPhoto")
    assert text_call.params == {"chat_id": "@acme", "text": "Autumn sale: 20% off cakes"}
    assert photo_call.params["chat_id"] == "@acme" and photo_call.params["caption"] == "Fresh from the oven"
    assert photo_call.params["photo"] == image.read_bytes()
    assert text_id.startswith(f"{CHANNEL_ID}:") and photo_id.startswith(f"{CHANNEL_ID}:") and text_id != photo_id


async def test_publish_with_a_missing_image_fails_clearly(settings: Settings, fake: FakeTelegram) -> None:
    async with running(settings, tg := connector(settings)):
        await fake.wait_for("getUpdates")
        with pytest.raises(ConnectorError, match="nope.png"):
            await tg.publish(OutgoingPost("x", image_path="nope.png"))
    assert fake.calls_to("sendPhoto") == []


async def test_429_waits_retry_after_then_sends(settings: Settings, fake: FakeTelegram) -> None:
    fake.fail_next(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    async with running(settings, connector(settings)) as app:
        fake.push(fake.message("hi!", user_id=777))
        first, second = await fake.wait_for("sendMessage", 2)
        await wait_status(app, MessageStatus.replied)
    assert second.at - first.at >= 0.9  # waited as told, not the short backoff
    assert second.params["text"] == first.params["text"]


async def test_500_three_times_fails_the_send_and_records_why(settings: Settings, fake: FakeTelegram) -> None:
    error = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    fake.fail_next("sendMessage", 500, error, times=3)
    async with running(settings, connector(settings)) as app:
        fake.push(fake.message("hi!", user_id=777))
        await fake.wait_for("sendMessage", 3)
        failed = await wait_failed_send(app)
        fake.push(fake.message("hi again", user_id=778))  # the bot carries on
        await fake.wait_for("sendMessage", 4)
        await wait_status(app, MessageStatus.replied)
    assert "failed after 3 attempts: Internal Server Error" in (failed.error or "")


async def test_400_fails_that_send_once_with_the_platform_message(settings: Settings, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    async with running(settings, connector(settings)) as app:
        fake.push(fake.message("hi!", user_id=777))
        failed = await wait_failed_send(app)
    assert len([c for c in fake.calls_to("sendMessage") if c.params["chat_id"] != str(OWNER)]) == 1
    assert "chat not found" in (failed.error or "").lower()


async def test_malformed_update_is_ignored_with_one_log_line(
    settings: Settings, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(settings, connector(settings)) as app:
        fake.push({"message": "this is not a message object"})
        fake.push(fake.message("hi!", user_id=777))
        await fake.wait_for("sendMessage")
        await fake.wait_for("getUpdates", 4)  # polled on past both
        stored = stored_messages(app)
    malformed = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(malformed) == 1 and "update 1 " in malformed[0].getMessage()
    assert [m.text for m in stored] == ["hi!"]


async def test_bad_token_is_a_clear_error_at_start(settings: Settings, fake: FakeTelegram) -> None:
    tg = TelegramConnector(settings.telegram, token="999:wrong")
    with pytest.raises(ConnectorError, match=r"telegram rejected the bot token in \$TELEGRAM_BOT_TOKEN") as info:
        await tg.start(_ignore)
    assert "\n" not in str(info.value)
    await tg.stop()


async def test_webhook_checks_the_secret_token(
    config_file: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    settings = telegram_settings(
        config_file, fake, 'mode = "webhook"\nwebhook_url = "https://bot.example.com/telegram"\nwebhook_port = 0'
    )
    caplog.set_level(logging.WARNING)
    tg = connector(settings)
    async with running(settings, tg) as app:
        await fake.wait_for("setWebhook")
        url = f"http://127.0.0.1:{tg.webhook_port}/telegram"
        async with aiohttp.ClientSession() as http:
            update = {"update_id": 1, **fake.message("hi from a forged request", user_id=666)}
            forged = await http.post(url, json=update, headers={SECRET_HEADER: "wrong"})
            unsigned = await http.post(url, json=update)
            malformed = await http.post(url, data=b"{not json", headers={SECRET_HEADER: WEBHOOK_SECRET})
            update = {"update_id": 2, **fake.message("hello there! 👋", user_id=777)}
            genuine = await http.post(url, json=update, headers={SECRET_HEADER: WEBHOOK_SECRET})
        await wait_status(app, MessageStatus.replied)
        [call] = [c for c in await fake.wait_for("sendMessage") if c.params["chat_id"] != str(OWNER)]
        stored = stored_messages(app)
    assert fake.webhook["url"] == "https://bot.example.com/telegram"
    assert fake.webhook["secret_token"] == WEBHOOK_SECRET
    assert (forged.status, unsigned.status, malformed.status, genuine.status) == (403, 403, 200, 200)
    assert call.params["chat_id"] == "777" and [m.text for m in stored] == ["hello there! 👋"]
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 1


async def test_a_refused_webhook_is_a_clear_error_at_start(
    config_file: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    settings = telegram_settings(
        config_file, fake, 'mode = "webhook"\nwebhook_url = "http://insecure"\nwebhook_port = 0'
    )
    description = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    fake.fail_next("setWebhook", 400, {"ok": False, "error_code": 400, "description": description})
    tg = connector(settings)
    try:
        with pytest.raises(ConnectorError, match=r"(?i)telegram refused the webhook http://insecure \(telegram.webhook_url\): .*https url"):
            await tg.start(_ignore)
    finally:
        await tg.stop()


async def _ignore(_: object) -> None:
    pass
