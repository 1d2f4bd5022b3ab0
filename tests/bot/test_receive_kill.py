"""A burst of 200 follower messages through the real `bot run` on Telegram (polling, webhook) and Slack
(Socket Mode, HTTP), SIGKILL at one point (receiving, drafting, sending), restart: every message is
stored once, each ends final, and none is answered twice (counted at the fake platform)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.message_states import FINAL_MESSAGE_STATES
from tests.conftest import BASE_CONFIG, ROOT
from fakes.openai_server import FakeOpenAIServer, fake_openai_server
from fakes.mastodon_api import TOKEN as MASTODON_TOKEN, FakeMastodon, account
from fakes.slack_api import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from fakes.telegram_api import TOKEN, FakeTelegram

pytestmark = pytest.mark.slow  # real processes killed and restarted

BOT = str(ROOT / ".venv" / "bin" / "bot")
BURST = 200
TG_OWNER = 42  # tests/conftest.py
SLACK_OWNER = "UOWNER01"
WEBHOOK_SECRET = "s3cret-token"
FINAL = {str(s) for s in FINAL_MESSAGE_STATES}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, openai_url: str, platform_toml: str) -> Path:
    path = tmp_path / "config.toml"
    text = BASE_CONFIG.replace('log_level = "DEBUG"', 'log_level = "INFO"').replace(
        "[owners]\n", f'[owners]\nslack = ["{SLACK_OWNER}"]\n'
    )
    path.write_text(
        text
        + f"""
[generator]
backend = "openai"
# The model writes every reply, so that a kill can land while a draft is being written (the
# planned replies call no model by default).
reply_mode = "free"

[openai]
base_url = "{openai_url}"
model = "fake"

[policy]
auto_reply_platforms = ["telegram", "slack", "mastodon"]
auto_send_kinds = ["free"]  # the model's replies go out on their own, so kills land while sending
min_confidence = 0.0
max_auto_replies_per_contact_per_hour = 1000
max_auto_replies_per_platform_per_minute = 100000
{platform_toml}
""",
        encoding="utf-8",
    )
    return path


FAST = "per_chat_per_s = 1000.0\noverall_per_s = 1000.0\nretry_backoff_s = 0.01\n"


class Database:
    """Reads the bot's SQLite file from outside, as another process would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[tuple[str, str, str]]:
        """(platform_message_id, chat_id, status) of every stored message."""
        if not self.path.exists():
            return []
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as db:
                return list(db.execute("SELECT platform_message_id, chat_id, status FROM message"))
        except sqlite3.OperationalError:  # the schema is not there yet
            return []

    def sent_replies(self) -> Counter[str]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as db:
            return Counter(
                chat for (chat,) in db.execute(
                    "SELECT m.chat_id FROM reply r JOIN message m ON m.id = r.message_id WHERE r.status = 'sent'"
                )
            )

    async def wait(self, done: Callable[[list[tuple[str, str, str]]], bool], timeout: float) -> list[tuple[str, str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = await asyncio.to_thread(self.rows)
            if done(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; {Counter(r[2] for r in rows)} of {len(rows)} stored")
            await asyncio.sleep(0.1)


def all_final(rows: list[tuple[str, str, str]]) -> bool:
    return len(rows) >= BURST and all(status in FINAL for _, _, status in rows)


@asynccontextmanager
async def bot(config: Path, connector: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`bot run` in its own process; stopped with SIGTERM at the end unless the test killed it."""
    proc = await asyncio.create_subprocess_exec(
        BOT, "run", "--connector", connector, "--config", str(config),
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL, stderr=open(config.parent / "bot.log", "ab"),  # noqa: SIM115
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def kill(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    await proc.wait()


def log_tail(config: Path) -> str:
    path = config.parent / "bot.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Scenario:
    """One platform mode: how to configure it, push the burst, know a kill point, count sends."""

    connector: str
    env: dict[str, str]
    platform_toml: str
    push: Callable[[], Awaitable[None]]  # queue the burst (the fake delivers it as the platform would)
    delivered: Callable[[], Awaitable[None]]  # every message acknowledged by the bot
    receiving: Callable[[], Awaitable[None]]  # returns while the bot is receiving the burst
    sends: Callable[[], Counter[str]]  # replies the platform got, per chat


async def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the kill point")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def telegram(mode: str) -> AsyncIterator[tuple[Scenario, FakeTelegram]]:
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    webhook = f'mode = "webhook"\nwebhook_url = "https://bot.example.com/tg"\nwebhook_listen = "127.0.0.1"\nwebhook_port = {port}\nwebhook_path = "/tg"\n'
    toml = f'[telegram]\nbase_url = "{fake.base_url}"\npoll_timeout_s = 1\n{FAST}' + (webhook if mode == "webhook" else "")

    async def push() -> None:
        if mode == "webhook":
            fake.deliver_by_webhook(f"http://127.0.0.1:{port}/tg", WEBHOOK_SECRET)
        for n in range(BURST):
            fake.push(fake.message(f"hello there, nice shop! 👋 ({n})", user_id=10_000 + n))

    async def delivered() -> None:
        if mode == "webhook":
            await asyncio.wait_for(fake.webhook_done(), 60)
        else:  # confirmed by the next getUpdates' offset
            await wait_until(lambda: not fake.updates)

    async def receiving() -> None:
        if mode == "webhook":
            await wait_until(lambda: fake.webhook_posts >= BURST // 4)
        else:  # the first batch was handed over; the bot is storing it
            await wait_until(lambda: fake.served_updates > 0)

    def sends() -> Counter[str]:
        return Counter(
            str(c.params["chat_id"]) for c in fake.calls_to("sendMessage") if str(c.params["chat_id"]) != str(TG_OWNER)
        )

    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    try:
        yield Scenario("telegram", env, toml, push, delivered, receiving, sends), fake
    finally:
        await fake.stop()


@asynccontextmanager
async def slack(mode: str) -> AsyncIterator[tuple[Scenario, FakeSlack]]:
    fake = FakeSlack()
    await fake.start()
    port = free_port()
    http = f'mode = "http"\nhttp_listen = "127.0.0.1"\nhttp_port = {port}\nhttp_path = "/slack/events"\n'
    toml = f'[slack]\nbase_url = "{fake.base_url}"\n{FAST}' + (http if mode == "http" else "")
    if mode == "http":
        fake.deliver_http(f"http://127.0.0.1:{port}/slack/events")

    def event(n: int) -> dict[str, object]:
        return {
            "type": "message", "channel": f"D{n:07d}", "channel_type": "im", "user": f"UFAN{n:05d}",
            "text": f"hello there, nice shop! 👋 ({n})", "ts": f"1700000000.{n:06d}",
        }

    async def push() -> None:
        for n in range(BURST):
            if mode == "http":
                fake.queue_http_event(event(n))
            else:
                await fake.queue_event(event(n))

    async def delivered() -> None:
        await asyncio.wait_for(fake.http_done() if mode == "http" else fake.all_acked(), 60)

    async def receiving() -> None:
        if mode == "http":
            await wait_until(lambda: fake.http_posts >= BURST // 4)
        else:
            await wait_until(lambda: len(fake.acks) >= BURST // 4)

    def sends() -> Counter[str]:
        return Counter(str(c.params["channel"]) for c in fake.calls_to("chat.postMessage") if c.params["channel"] != SLACK_OWNER)

    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    try:
        yield Scenario("slack", env, toml, push, delivered, receiving, sends), fake
    finally:
        await fake.stop()


@asynccontextmanager
async def mastodon() -> AsyncIterator[tuple[Scenario, FakeMastodon]]:
    fake = FakeMastodon()
    await fake.start()
    toml = f'[mastodon]\napi_base_url = "{fake.url}"\npoll_interval_s = 0.2\n{FAST}'
    last: list[str] = []
    pushing: list[asyncio.Task[None]] = []

    async def push_after_first_poll() -> None:
        # The bot's first start leaves older notifications unanswered: the burst comes once it polls.
        await fake.wait_for("notifications", timeout=60)
        for n in range(BURST):
            note = fake.mention(f"hello there, nice shop! 👋 ({n})", author=account(str(50_000 + n), f"fan{n}@other.social"))
        last.append(note["id"])

    async def push() -> None:
        pushing.append(asyncio.create_task(push_after_first_poll()))

    async def delivered() -> None:  # the stored cursor reached the newest notification
        await wait_until(lambda: bool(last) and any(c.params.get("min_id") == last[0] for c in fake.calls_to("notifications")))

    async def receiving() -> None:
        await wait_until(lambda: fake.served_notifications > 0)

    def sends() -> Counter[str]:
        parents = [fake.statuses[s["in_reply_to_id"]] for s in fake.posted() if s["in_reply_to_id"]]
        return Counter(str(p["account"]["acct"]) for p in parents)

    try:
        yield Scenario("mastodon", {"MASTODON_ACCESS_TOKEN": MASTODON_TOKEN}, toml, push, delivered, receiving, sends), fake
    finally:
        for task in pushing:
            task.cancel()
        await fake.stop()


PLATFORMS = {
    "mastodon-polling": mastodon,
    "telegram-polling": lambda: telegram("polling"),
    "telegram-webhook": lambda: telegram("webhook"),
    "slack-socket": lambda: slack("socket"),
    "slack-http": lambda: slack("http"),
}
SEND_METHOD = {"telegram": "sendMessage", "slack": "chat.postMessage", "mastodon": "statuses"}

# Each case starts the bot twice (~8 s of imports each on a busy 2-core machine) and works through
# 200 messages, so there are four: every mode once, every kill point at least once, Telegram polling
# (the case) while receiving. Any other pair of PLATFORMS and points runs the same way.
CASES = [
    ("telegram-polling", "receiving"),
    ("telegram-webhook", "sending"),
    ("slack-socket", "drafting"),
    ("slack-http", "receiving"),
    ("mastodon-polling", "receiving"),
]


async def kill_point(point: str, scenario: Scenario, server: FakeTelegram | FakeSlack | FakeMastodon, llm: FakeOpenAIServer) -> None:
    if point == "receiving":
        await scenario.receiving()
    elif point == "drafting":
        await wait_until(lambda: len(llm.requests) >= 20)
    else:  # the platform has the reply; the bot waits for the answer
        await wait_until(lambda: len(server.calls_to(SEND_METHOD[scenario.connector])) >= 10)


@pytest.mark.parametrize(("platform", "point"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
async def test_burst_killed_and_restarted_loses_nothing_and_answers_once(tmp_path: Path, platform: str, point: str) -> None:
    with fake_openai_server(reply="Hi, thanks for saying hello!", delay_s=0.002) as llm:
        async with PLATFORMS[platform]() as (scenario, server):
            if point == "sending":
                server.hold_call(SEND_METHOD[scenario.connector], 10, 30)
            config = write_config(tmp_path, llm.base_url, scenario.platform_toml)
            db = Database(tmp_path / "data" / "bot.db")
            await scenario.push()
            async with bot(config, scenario.connector, scenario.env) as first:
                await kill_point(point, scenario, server, llm)
                await kill(first)
            killed_with = Counter(status for _, _, status in db.rows())
            async with bot(config, scenario.connector, scenario.env):
                try:
                    await scenario.delivered()
                    rows = await db.wait(all_final, 90)
                except AssertionError:
                    raise AssertionError(log_tail(config)) from None
            sends = scenario.sends()

    assert sum(killed_with.values()) < BURST or point != "receiving", "the kill came after receiving"
    ids = [platform_id for platform_id, _, _ in rows]
    assert len(ids) == len(set(ids)) == BURST
    assert all(status in FINAL for _, _, status in rows)
    assert sends and max(sends.values()) == 1, sends.most_common(3)
    sent = db.sent_replies()
    assert max(sent.values()) == 1
    assert set(sent) <= set(sends)  # each reply the database calls sent reached the platform once
    if point == "sending":  # the reply cut mid-send is not sent again; it waits for the owner
        assert len(sends) == len(sent) + 1


async def test_burst_while_another_writer_locks_the_database(tmp_path: Path) -> None:
    """The bot waits for the lock (and tries again) instead of dropping; Telegram's offset waits too."""
    with fake_openai_server(reply="Hi, thanks for saying hello!", delay_s=0.002) as llm:
        async with telegram("polling") as (scenario, fake):
            config = write_config(tmp_path, llm.base_url, scenario.platform_toml)
            db = Database(tmp_path / "data" / "bot.db")
            async with bot(config, scenario.connector, scenario.env):
                await fake.wait_for("getUpdates", 2, timeout=60)  # started, migrated, polling
                locker = sqlite3.connect(db.path, timeout=10, isolation_level=None)
                locker.execute("BEGIN IMMEDIATE")  # holds the write lock
                try:
                    await scenario.push()
                    await asyncio.sleep(4)
                    assert fake.updates, "the offset moved on while nothing could be stored"
                finally:
                    locker.execute("ROLLBACK")
                    locker.close()
                try:
                    await scenario.delivered()
                    rows = await db.wait(all_final, 90)
                except AssertionError:
                    raise AssertionError(log_tail(config)) from None
            sends = scenario.sends()
    assert len({platform_id for platform_id, _, _ in rows}) == len(rows) == BURST
    # Which greetings get a reply is the classifier's call; receiving's part is that every one is
    # stored once and no reply goes out twice or unrecorded.
    sent = db.sent_replies()
    assert sends and max(sends.values()) == 1 and set(sends) == set(sent) and max(sent.values()) == 1
