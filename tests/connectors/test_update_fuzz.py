"""Fuzzed Telegram updates and Slack events: a bad one is logged once and skipped, never a crash,
and the good ones around it are handled. Hypothesis runs few, derandomized examples (suite time, no flakes)."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest
from telegram import Update, User

from connectors.base import Cursor, IncomingMessage
from connectors.slack import SlackConnector
from connectors.telegram import TelegramConnector
from connectors.telegram_updates import CommentThreads, _sanitize_updates, to_incoming
from storage.models import MessageStatus
from fakes.app import running, slack_settings, stored_messages, telegram_settings, wait_status
from fakes.slack_api import BOT_USER, ENV, FOLLOWER, FakeSlack, dm
from fakes.telegram_api import BOT_ID, BOT_USERNAME, TOKEN, FakeTelegram

FUZZ = settings(
    max_examples=60, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BOT = User(id=BOT_ID, is_bot=True, first_name="Acme", username=BOT_USERNAME)

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8
)
oversized_text = st.sampled_from([5_000, 100_000, 1_000_000]).map(lambda n: "x" * n)


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 777, "type": "private", "first_name": "Ann"},
            "from": {"id": 777, "is_bot": False, "first_name": "Ann", "username": "ann"},
            "text": text,
        },
    }


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside nested dicts, the value's own included."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))


def replaced(value: Any, path: tuple[Any, ...], new: Any, drop: bool = False) -> Any:
    if not path:
        return new
    out = copy.copy(value)
    if len(path) == 1 and drop:
        out.pop(path[0])
    else:
        out[path[0]] = replaced(value[path[0]], path[1:], new, drop)
    return out


@st.composite
def broken(draw: st.DrawFn, good: dict[str, Any]) -> Any:
    """A good payload made bad: a field dropped, wrongly typed, oversized, or the whole thing truncated or junk."""
    kind = draw(st.sampled_from(["drop", "retype", "oversize", "truncate", "junk"]))
    if kind == "junk":
        return draw(json_values)
    if kind == "truncate":  # what is left of a dict cut off part-way, as a parser salvaging it would see it
        keep = draw(st.integers(0, max(0, len(good) - 1)))
        return dict(list(good.items())[:keep])
    path = draw(st.sampled_from([p for p in paths(good) if p]))
    if kind == "drop":
        return replaced(good, path, None, drop=True)
    if kind == "oversize":
        return replaced(good, path, draw(oversized_text))
    return replaced(good, path, draw(json_values))


def malformed_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]


def handle_telegram_batch(raw_updates: list[Any]) -> list[IncomingMessage]:
    """One getUpdates answer through our sanitizer, the library's parser and our conversion."""
    payload = _sanitize_updates(json.dumps({"ok": True, "result": raw_updates}).encode())
    handled = []
    threads = CommentThreads()
    for raw in json.loads(payload)["result"]:
        update = Update.de_json(raw, None)  # after sanitizing, the library parses every update
        if update.message is not None:
            incoming = to_incoming(update, update.message, BOT, threads)
            if incoming is not None:
                handled.append(incoming)
    return handled


@FUZZ
@given(bad=broken(telegram_update(2, "is this open on sunday?")))
def test_a_bad_telegram_update_amid_good_ones_is_skipped_with_at_most_one_log_line(
    bad: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        handled = handle_telegram_batch([telegram_update(1, "hello"), bad, telegram_update(3, "thanks!")])
    texts = [m.text for m in handled]
    assert texts[0] == "hello" and texts[-1] == "thanks!" and len(texts) <= 3
    assert len(malformed_lines(caplog)) <= 1
    if len(texts) == 3:  # the bad one still made a message: a sane one
        assert isinstance(handled[1].text, str) and handled[1].message_id.startswith("777:")


@FUZZ
@given(payload=st.binary(max_size=200) | st.text(max_size=200).map(str.encode) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_getupdates_body_passes_the_sanitizer_without_an_error(payload: bytes) -> None:
    out = _sanitize_updates(payload)
    assert out == payload or isinstance(json.loads(out)["result"], list)


def test_a_truncated_getupdates_body_is_left_for_the_library_to_reject() -> None:
    body = json.dumps({"ok": True, "result": [telegram_update(1, "hello")]}).encode()
    assert _sanitize_updates(body[: len(body) // 2]) == body[: len(body) // 2]


@pytest.mark.parametrize(
    "field, value",
    [("text", 12345), ("text", ["a", "list"]), ("from", "ann"), ("chat", {"id": "777", "type": "private"}),
     ("message_id", "1"), ("date", "yesterday"), ("from", {"id": 777, "is_bot": False, "first_name": None})],
)
def test_a_wrongly_typed_telegram_field_is_logged_once_and_skipped(
    field: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bad = telegram_update(2, "hi")
    bad["message"][field] = value
    with caplog.at_level(logging.WARNING):
        handled = handle_telegram_batch([telegram_update(1, "hello"), bad, telegram_update(3, "thanks!")])
    assert [m.text for m in handled] == ["hello", "thanks!"]
    [line] = malformed_lines(caplog)
    assert "update 2" in line


async def test_malformed_telegram_updates_amid_good_ones_through_getupdates(
    config_file: Path, telegram_fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake = telegram_fake
    settings = telegram_settings(config_file, fake)
    caplog.set_level(logging.WARNING)
    good = [fake.message(f"hello {i}", user_id=700 + i) for i in range(3)]
    wrong_text = fake.message("x", user_id=710)
    wrong_text["message"]["text"] = {"not": "text"}
    no_chat = fake.message("x", user_id=711)
    del no_chat["message"]["chat"]
    async with running(settings, TelegramConnector(settings.telegram, token=TOKEN)) as app:
        for update in [good[0], wrong_text, {"message": 42}, good[1], no_chat, {"edited_message": "junk"}, good[2]]:
            fake.push(update)
        await wait_status(app, MessageStatus.replied)
        for _ in range(50):
            if len(stored_messages(app)) >= 3:
                break
            await fake.wait_for("getUpdates", 1)
        await fake.wait_for("getUpdates", 2)  # polled on past all of them
        stored = sorted(m.text for m in stored_messages(app))
    assert stored == ["hello 0", "hello 1", "hello 2"]
    assert len(malformed_lines(caplog)) == 4  # one line for each bad update


class ListInbox:
    """The Inbox the handler stores into, kept in a list: the test reads what was stored."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []

    async def store(self, messages: Sequence[IncomingMessage], cursor: Cursor | None = None) -> None:
        self.messages.extend(messages)

    async def cursor(self, name: str) -> str | None:
        return None


def slack_event(text: str = "hi there", ts: str = "1700000001.000001") -> dict[str, Any]:
    return {"type": "message", "channel": "D0DM0001", "channel_type": "im", "user": FOLLOWER, "text": text, "ts": ts}


@pytest.fixture
def slack_connector() -> SlackConnector:
    from core.config import SlackSettings

    connector = SlackConnector(SlackSettings(base_url="http://127.0.0.1:9/api/"), ENV)
    connector.bot_user_id = BOT_USER
    return connector


@FUZZ
@given(bad=broken(slack_event()))
async def test_a_bad_slack_event_through_our_handler_is_skipped_with_at_most_one_log_line(
    bad: Any, slack_connector: SlackConnector, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = ListInbox()
    slack_connector._inbox = inbox
    request = AsyncBoltRequest(body="", headers={})
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for event in [slack_event("hello", "1.1"), bad, slack_event("thanks!", "1.3")]:
            if not isinstance(event, dict):  # Bolt hands a listener only the event's dict
                continue
            if event.get("type") == "app_mention":
                await slack_connector._on_mention(event, {"event": event}, request)
            else:
                await slack_connector._on_message_event(event, {"event": event}, request)
    received = inbox.messages
    texts = [m.text for m in received]
    assert texts[0] == "hello" and texts[-1] == "thanks!" and len(texts) <= 3
    assert len(malformed_lines(caplog)) <= 1
    for incoming in received:
        assert all(isinstance(v, str) for v in (incoming.message_id, incoming.chat_id, incoming.user_id, incoming.text))


@pytest.mark.parametrize(
    "field, value", [("text", None), ("text", 5), ("user", ["U1"]), ("ts", 1700000001.5), ("channel", ""), ("thread_ts", {"a": 1})]
)
def test_a_wrongly_typed_slack_field_is_logged_once_and_skipped(
    field: str, value: Any, slack_connector: SlackConnector, caplog: pytest.LogCaptureFixture
) -> None:
    event = {**slack_event(), field: value}
    with caplog.at_level(logging.WARNING):
        incoming = slack_connector._to_incoming(event)
    if field == "thread_ts":  # an unusable thread is dropped; the message itself is fine
        assert incoming is not None and incoming.message_id == "D0DM0001:1700000001.000001"
        assert malformed_lines(caplog) == []
    else:
        assert incoming is None and len(malformed_lines(caplog)) == 1


async def test_malformed_slack_events_amid_good_ones_over_socket_mode(
    config_file: Path, slack_fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake = slack_fake
    settings = slack_settings(config_file, fake)
    caplog.set_level(logging.WARNING, logger="connectors.slack")
    now = time.time()
    events = [
        dm("hello 0", ts=f"{now:.6f}"),
        {**dm("x"), "user": {"id": FOLLOWER}},
        {**dm("x"), "text": "y" * 200_000, "ts": None},
        dm("hello 1", ts=f"{now + 1:.6f}"),
        {"type": "message", "channel_type": "im"},
        dm("hello 2", ts=f"{now + 2:.6f}"),
    ]
    async with running(settings, SlackConnector(settings.slack, ENV)) as app:
        for event in events:
            await fake.push_event(event)
        for _ in range(100):
            if len(stored_messages(app)) >= 3:
                break
            await wait_status(app, MessageStatus.replied)
        stored = sorted(m.text for m in stored_messages(app))
    assert stored == ["hello 0", "hello 1", "hello 2"]
    assert len(malformed_lines(caplog)) == 3
