"""Replies go where the message was written, as the same kind and visibility, also after a restart:
a public comment is never answered in private, nor a private message in public."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.slack import SlackConnector
from connectors.telegram import TelegramConnector
from core.addressing import MessageKind, ReplyAddress, Visibility
from core.errors import ConnectorError
from storage.models import Message, MessageStatus
from fakes.app import running, slack_settings, stored_messages, telegram_settings
from fakes.slack_api import ENV, FOLLOWER, OWNER as SLACK_OWNER, FakeSlack
from fakes.telegram_api import OWNER, TELEGRAM_SERVICE, TOKEN, FakeTelegram, automatic_forward

GROUP = -100555


async def until_pending(app, n: int) -> list[Message]:  # type: ignore[no-untyped-def]
    async def poll() -> list[Message]:
        while len(found := [m for m in stored_messages(app) if m.status == MessageStatus.pending]) < n:
            await asyncio.sleep(0.02)
        return found

    return await asyncio.wait_for(poll(), 20)


async def test_telegram_comment_and_private_message_are_answered_in_place_after_a_restart(
    config_file: Path, telegram_fake: FakeTelegram
) -> None:
    settings = telegram_settings(config_file, telegram_fake)
    settings.policy.auto_reply_platforms = []  # every draft waits for the owner, across the restart
    forward = {**automatic_forward(GROUP, 50, "our autumn sale starts today"), "from": TELEGRAM_SERVICE}
    comment = telegram_fake.message(
        "do you open on saturday?", user_id=3, chat_id=GROUP, chat_type="supergroup",
        reply_to_message=forward, message_thread_id=50,
    )
    private = telegram_fake.message("do you open on sunday?", user_id=777)
    async with running(settings, TelegramConnector(settings.telegram, token=TOKEN)) as app:
        telegram_fake.push({"message": forward})
        telegram_fake.push(comment)
        telegram_fake.push(private)
        stored = {m.text: m for m in await until_pending(app, 2)}
    public_row, private_row = stored["do you open on saturday?"], stored["do you open on sunday?"]
    assert (public_row.kind, public_row.visibility, public_row.chat_id, public_row.thread_id) == (
        MessageKind.comment, Visibility.group, str(GROUP), "50"
    )
    assert (private_row.kind, private_row.visibility, private_row.chat_id) == (MessageKind.private, Visibility.direct, "777")

    # A new process knows only the rows: the approved replies go where each message was written.
    async with running(settings, TelegramConnector(settings.telegram, token=TOKEN)):
        telegram_fake.push(telegram_fake.message("/approve 1", user_id=OWNER))
        telegram_fake.push(telegram_fake.message("/approve 2", user_id=OWNER))
        # Two notes to the owner before the restart; after it two replies and two "sent" answers.
        await telegram_fake.wait_for("sendMessage", 6)
    to_followers = [c.params for c in telegram_fake.calls_to("sendMessage") if c.params["chat_id"] != str(OWNER)]
    by_chat = {p["chat_id"]: p["reply_parameters"]["message_id"] for p in to_followers}
    assert len(to_followers) == 2
    assert by_chat == {str(GROUP): comment["message"]["message_id"], "777": private["message"]["message_id"]}


async def test_telegram_refuses_an_address_that_does_not_fit_its_chat(config_file: Path, telegram_fake: FakeTelegram) -> None:
    settings = telegram_settings(config_file, telegram_fake)
    async with running(settings, tg := TelegramConnector(settings.telegram, token=TOKEN)):
        await telegram_fake.wait_for("getUpdates")
        with pytest.raises(ConnectorError, match="refusing to answer a direct private in a group"):
            await tg.send_reply(ReplyAddress(MessageKind.private, Visibility.direct, str(GROUP), "7"), "hi")
        with pytest.raises(ConnectorError, match="refusing to answer a group comment in a private chat"):
            await tg.send_reply(ReplyAddress(MessageKind.comment, Visibility.group, "777", "7", "50"), "hi")
    assert telegram_fake.calls_to("sendMessage") == []


async def test_slack_dm_and_channel_mention_are_answered_in_place_after_a_restart(config_file: Path, slack_fake: FakeSlack) -> None:
    settings = slack_settings(config_file, slack_fake)
    settings.policy.auto_reply_platforms = []
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        await slack_fake.push_event(
            {"type": "app_mention", "channel": "C0GENERAL", "user": FOLLOWER,
             "text": "do you open on saturday?", "ts": "1700000002.000001"}
        )
        await slack_fake.push_event(
            {"type": "message", "channel": "D0DM0001", "channel_type": "im", "user": FOLLOWER,
             "text": "do you open on sunday?", "ts": "1700000003.000001"}
        )
        stored = {m.text: m for m in await until_pending(app, 2)}
    assert (stored["do you open on saturday?"].kind, stored["do you open on saturday?"].visibility) == (
        MessageKind.mention, Visibility.group
    )
    assert (stored["do you open on sunday?"].kind, stored["do you open on sunday?"].visibility) == (
        MessageKind.private, Visibility.direct
    )

    async with running(settings, SlackConnector(settings.slack, ENV)):
        await slack_fake.push_event({"type": "message", "channel": "D0OWNER1", "channel_type": "im", "user": SLACK_OWNER,
                                "text": "/approve 1", "ts": "1700000010.000001"})
        await slack_fake.push_event({"type": "message", "channel": "D0OWNER1", "channel_type": "im", "user": SLACK_OWNER,
                                "text": "/approve 2", "ts": "1700000011.000001"})
        await slack_fake.wait_for("chat.postMessage", 6)
    to_followers = {c.params["channel"]: c.params.get("thread_ts") for c in slack_fake.calls_to("chat.postMessage")
                    if c.params["channel"] not in {"D0OWNER1", SLACK_OWNER}}
    # The mention is answered in a thread under it in the channel; the DM plainly, in the DM.
    assert to_followers == {"C0GENERAL": "1700000002.000001", "D0DM0001": None}


async def test_slack_refuses_an_address_that_does_not_fit_its_conversation(config_file: Path, slack_fake: FakeSlack) -> None:
    settings = slack_settings(config_file, slack_fake)
    async with running(settings, connector := SlackConnector(settings.slack, ENV)):
        await slack_fake.wait_for("apps.connections.open")
        with pytest.raises(ConnectorError, match="refusing to answer a direct private in a channel"):
            await connector.send_reply(ReplyAddress(MessageKind.private, Visibility.direct, "C0GENERAL", "1.0"), "hi")
        with pytest.raises(ConnectorError, match="refusing to answer a group mention in a direct message"):
            await connector.send_reply(ReplyAddress(MessageKind.mention, Visibility.group, "D0DM0001", "1.0"), "hi")
    assert slack_fake.calls_to("chat.postMessage") == []


def test_an_address_cannot_mix_a_private_kind_with_a_public_visibility() -> None:
    with pytest.raises(ValueError, match="a private message cannot have public visibility"):
        ReplyAddress(MessageKind.private, Visibility.public, "777", "1")
    with pytest.raises(ValueError, match="a comment message cannot have direct visibility"):
        ReplyAddress(MessageKind.comment, Visibility.direct, "777", "1")
