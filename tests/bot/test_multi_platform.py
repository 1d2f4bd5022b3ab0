"""One bot on several platforms at once: fake Mastodon and fake Bluesky followers, the owner on fake
Telegram, every connector built from config as `bot run` builds them, in one process."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.cli_run import make_connectors
from core.config import Settings
from core.errors import ConfigError
from storage import repo
from storage.models import MessageStatus, PostStatus, utcnow
from fakes.app import FAST_DELIVERY, running, settings_with, wait_status
from fakes.bluesky_api import HANDLE, PASSWORD, FakeBluesky, actor
from fakes.mastodon_api import MAX_CHARACTERS, TOKEN as MASTODON_TOKEN, FakeMastodon, account
from fakes.server import FakeServer
from fakes.telegram_api import OWNER, TOKEN as TELEGRAM_TOKEN, FakeTelegram, to_owner, told

MASTODON_OWNER = "boss@example.social"
MASTODON_FAN = account("2001", "fan@other.social")
BLUESKY_FAN = actor("did:plc:fan00000000000000000000", "fan.bsky.social")
BLUESKY_OWNER = actor("did:plc:boss0000000000000000000", "boss.bsky.social")


@pytest.fixture
async def mastodon() -> AsyncIterator[FakeMastodon]:
    server = FakeMastodon()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bluesky() -> AsyncIterator[FakeBluesky]:
    server = FakeBluesky()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", MASTODON_TOKEN)
    monkeypatch.setenv("BLUESKY_HANDLE", HANDLE)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)


def three_platforms(config_file: Path, mastodon_url: str, bluesky_url: str, telegram: FakeTelegram) -> Settings:
    """Followers on Mastodon and Bluesky; the owner on Telegram (and on Mastodon too, where notices would
    otherwise go), told on Telegram. Replies go out by themselves on Mastodon and wait on Bluesky."""
    owners = f'[owners]\nmastodon = ["{MASTODON_OWNER}"]\nbluesky = ["{BLUESKY_OWNER["did"]}"]\n'
    text = config_file.read_text(encoding="utf-8").replace("[owners]\n", owners)
    config_file.write_text(text, encoding="utf-8")
    return settings_with(
        config_file,
        f"""
[owner]
notify = ["telegram"]

[connectors]
enabled = ["mastodon", "bluesky", "telegram"]
retry_first_s = 0.05
retry_max_s = 0.2

[policy]
auto_reply_platforms = ["mastodon"]

[mastodon]
api_base_url = "{mastodon_url}"
poll_interval_s = 0.05
{FAST_DELIVERY}

[bluesky]
base_url = "{bluesky_url}"
poll_interval_s = 0.05
{FAST_DELIVERY}

[telegram]
base_url = "{telegram.base_url}"
poll_timeout_s = 1
{FAST_DELIVERY}
""",
    )


def run_all(settings: Settings) -> object:
    """The App on every enabled connector, built by the same registry as `bot run`."""
    connectors, left_out = make_connectors(settings.connectors.enabled, settings)
    assert left_out == []
    return running(settings, connectors)


async def up(app: App, *platforms: str) -> None:
    """Return once these connectors have started (their start read what the platform says of itself)."""

    async def look() -> None:
        while not set(platforms) <= set(app.connections.live):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(look(), 20)


async def owner_says(telegram: FakeTelegram, text: str) -> str:
    """What the bot answers the owner's message on Telegram."""
    before = len(to_owner(telegram))
    telegram.push(telegram.message(text, user_id=OWNER))

    async def answer() -> str:
        while len(found := to_owner(telegram)) <= before:
            await asyncio.sleep(0.02)
        return found[before]

    return await asyncio.wait_for(answer(), 20)


async def test_two_platforms_answered_in_place_with_the_owner_on_a_third(
    config_file: Path, mastodon: FakeMastodon, bluesky: FakeBluesky, telegram: FakeTelegram
) -> None:
    settings = three_platforms(config_file, mastodon.url, bluesky.url, telegram)
    async with run_all(settings) as app:
        assert isinstance(app, App)
        await up(app, "mastodon", "bluesky", "telegram")  # past their first start: what comes now is new
        toot = mastodon.mention("hi there!", author=MASTODON_FAN)["status"]
        skeet = bluesky.mention("hi there!", author=BLUESKY_FAN)
        # Mastodon: answered by itself, in the thread of the mention.
        await mastodon.wait_for("statuses")
        # Bluesky: the reply waits; the owner is told on Telegram, and approves it there.
        waiting = await told(telegram, "waits for approval")
        reply_id = re.search(r"/approve (\d+)", waiting)
        assert reply_id is not None
        answer = await owner_says(telegram, f"/approve {reply_id.group(1)}")
        assert "sent" in answer.lower()
        await bluesky.wait_for("com.atproto.repo.createRecord")
        # An escalation on Mastodon goes to the chosen connector, Telegram, not to the owner's Mastodon.
        mastodon.mention("my cake arrived broken and nobody answers", author=MASTODON_FAN)
        escalated = await told(telegram, "escalated")
        await wait_status(app, MessageStatus.escalated)
        # The owner's command in a public Bluesky mention is answered privately, on Telegram: the
        # escalation's suggested reply waits there, never sent alone.
        bluesky.mention("/pending", author=BLUESKY_OWNER)
        listed = await told(telegram, "pending replies")
    assert "broken" in escalated and "suggested: " in escalated and "broken" in listed
    [mastodon_reply] = mastodon.posted()
    assert mastodon_reply["in_reply_to_id"] == toot["id"] and mastodon_reply["visibility"] == "public"
    [bluesky_reply] = bluesky.ours()  # the approved reply; the owner's answer was not posted
    assert bluesky_reply["record"]["reply"]["parent"]["uri"] == skeet["uri"]
    assert not [c for c in mastodon.calls_to("statuses") if c.params.get("visibility") == "direct"]
    assert sorted(m.platform for m in repo.list_messages(app.engine)) == ["bluesky", "mastodon", "mastodon"]


async def test_a_post_for_two_platforms_is_one_row_each_published_once_on_each(
    config_file: Path, mastodon: FakeMastodon, bluesky: FakeBluesky, telegram: FakeTelegram
) -> None:
    settings = three_platforms(config_file, mastodon.url, bluesky.url, telegram)
    async with run_all(settings) as app:
        assert isinstance(app, App) and app.engine is not None
        await up(app, "mastodon", "bluesky", "telegram")
        # Each platform's own limit: Bluesky 300, Mastodon the instance's (not the config's 500).
        longer = ("Fresh sourdough every morning. " * 20)[:600]
        refused = await owner_says(telegram, f"/compose @mastodon,bluesky {longer}")
        assert "bluesky allows 300 characters; this text has 600" in refused
        alone = await owner_says(telegram, f"/compose @mastodon {longer}")
        assert alone.startswith("draft #1 for mastodon")
        assert settings.brand.length_limit("mastodon") == MAX_CHARACTERS
        both = await owner_says(telegram, "/compose @mastodon,bluesky Fresh bread at 8!")
        assert both.splitlines()[:3] == [
            "draft #2 for mastodon: Fresh bread at 8!",
            "draft #3 for bluesky: Fresh bread at 8!",
            "/schedule 2 best (each platform at its own best time), /schedule 2 WHEN or /queue 2",
        ]
        scheduled = await owner_says(telegram, "/schedule 2 best")
        assert "post #2 on mastodon scheduled for" in scheduled and "post #3 on bluesky scheduled for" in scheduled
        rows = list(repo.posts_in_group(app.engine, 2))
        assert [(p.platform, p.status) for p in rows] == [("mastodon", PostStatus.scheduled), ("bluesky", PostStatus.scheduled)]
        assert app.scheduler is not None
        for post in rows:  # due now rather than at the best hour
            assert post.id is not None
            app.scheduler.schedule(post.id, utcnow())

        async def published() -> list[PostStatus]:
            while True:
                statuses = [p.status for p in repo.posts_in_group(app.engine, 2)]  # type: ignore[arg-type]
                if all(s == PostStatus.published for s in statuses):
                    return statuses
                await asyncio.sleep(0.05)

        await asyncio.wait_for(published(), 20)
    assert [s["content"] for s in mastodon.posted()] == ["Fresh bread at 8!"]
    assert [p["record"]["text"] for p in bluesky.ours()] == ["Fresh bread at 8!"]
    assert repo.get_post(app.engine, 1).status == PostStatus.draft  # type: ignore[union-attr]


async def test_a_platform_down_at_start_is_retried_and_the_owner_told_once(
    config_file: Path, bluesky: FakeBluesky, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = FakeServer.free_port()
    settings = three_platforms(config_file, f"http://127.0.0.1:{port}", bluesky.url, telegram)
    settings.schedule.retry_backoff_s = 0.05
    settings.schedule.max_attempts = 100
    mastodon = FakeMastodon()
    try:
        async with run_all(settings) as app:
            assert isinstance(app, App) and app.engine is not None and app.scheduler is not None
            # The others run meanwhile: a Bluesky mention is stored and its reply waits for the owner.
            await up(app, "bluesky", "telegram")
            bluesky.mention("hi there!", author=BLUESKY_FAN)
            await told(telegram, "waits for approval")
            down = await told(telegram, "mastodon could not start")
            # A post due on Mastodon meanwhile waits for it instead of failing.
            post = repo.add_post(app.engine, platform="mastodon", text="Fresh bread at 8!")
            assert post.id is not None
            app.scheduler.schedule(post.id, utcnow())
            while sum("mastodon: trying to start again" in r.getMessage() for r in caplog.records) < 3:
                await asyncio.sleep(0.05)
            assert repo.get_post(app.engine, post.id).status == PostStatus.scheduled  # type: ignore[union-attr]
            await mastodon.start(port)  # the instance is back
            await told(telegram, "mastodon is connected now")
            await mastodon.wait_for("notifications", 2)  # polling has begun: what comes now is new
            mastodon.mention("hi there!", author=MASTODON_FAN)
            await mastodon.wait_for("statuses", 2)
    finally:
        await mastodon.stop()
    assert f"127.0.0.1:{port} (mastodon.api_base_url)" in down
    assert sum("mastodon could not start" in t for t in to_owner(telegram)) == 1
    assert sorted(s["in_reply_to_id"] is not None for s in mastodon.posted()) == [False, True]  # the post, the reply
    assert repo.get_post(app.engine, post.id).status == PostStatus.published  # type: ignore[union-attr]


async def test_a_wrong_token_stops_that_connector_only_with_one_line_naming_the_setting(
    config_file: Path,
    mastodon: FakeMastodon,
    bluesky: FakeBluesky,
    telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "wrong")
    settings = three_platforms(config_file, mastodon.url, bluesky.url, telegram)
    async with run_all(settings):
        stopped = await told(telegram, "mastodon is stopped")
        await bluesky.wait_for("app.bsky.notification.listNotifications", 2)  # the others go on
        await asyncio.sleep(0.3)  # longer than retry_max_s: a refused token is not tried again
    assert "\n" not in stopped and "$MASTODON_ACCESS_TOKEN (mastodon.access_token_env)" in stopped
    assert len(mastodon.calls_to("verify_credentials")) == 1


async def test_a_platform_that_goes_down_while_running_is_reported_once_and_again_when_back(
    config_file: Path, mastodon: FakeMastodon, bluesky: FakeBluesky, telegram: FakeTelegram
) -> None:
    settings = three_platforms(config_file, mastodon.url, bluesky.url, telegram)
    settings.connectors.down_after_failures = 2
    async with run_all(settings):
        await bluesky.wait_for("app.bsky.notification.listNotifications")
        await bluesky.stop()
        await told(telegram, "bluesky is down")
        await asyncio.sleep(1.0)  # the poller backs off 0.5 s, 1 s, 2 s: another failure, no other notice
        # The server comes back on its port having forgotten every session: the connector logs in again.
        await bluesky.start(bluesky.port)
        bluesky.access = bluesky.refresh = "forgotten"
        await told(telegram, "bluesky works again", timeout=30)
    assert sum("bluesky is down" in t for t in to_owner(telegram)) == 1
    assert len(bluesky.calls_to("com.atproto.server.createSession")) == 2


def test_a_connector_without_its_secret_is_left_out_naming_it(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN")
    connectors, left_out = make_connectors(["console", "mastodon"], settings)
    assert [c.platform for c in connectors] == ["console"]
    assert left_out == [
        "not started: mastodon: set the access token in the environment variable MASTODON_ACCESS_TOKEN "
        "(mastodon.access_token_env)"
    ]
    with pytest.raises(ConfigError, match="MASTODON_ACCESS_TOKEN"):
        make_connectors(["mastodon"], settings)


def test_enabled_connectors_are_known_names(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 'connectors\.enabled': unknown connector 'mastadon'"):
        settings_with(config_file, '[connectors]\nenabled = ["console", "mastadon"]\n')
