"""The Facebook Page connector against the fake Graph server: signed webhooks served by uvicorn,
polling with a stored cursor, comment replies, Messenger and its window, /hide and /delete, posts
(several photos too, resumed after a kill) and insights, the follower count."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from datetime import timedelta
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App
from bot.publisher import Publisher
from connectors.base import OutgoingPost
from connectors.facebook import FacebookConnector
from connectors.telegram import TelegramConnector
from core.config import Settings
from core.errors import ConfigError
from fakes import graph_publish_child as publish_child
from fakes.app import FAST_DELIVERY, TINY_PNG, running, settings_with, stored_messages, telegram_settings, wait_failed_send, wait_status, web_url
from fakes.graph_api import ENV, PAGE_ID, VERIFY_TOKEN, VERSION, FakeGraph, feed_comment, messenger, until
from fakes.telegram_api import OWNER as TELEGRAM_OWNER, TOKEN as TELEGRAM_TOKEN, FakeTelegram
from storage import repo
from storage.models import MessageStatus, PostStatus, utcnow
from tests.conftest import ROOT

OWNER = "9000"  # the owner's page-scoped id in Messenger
FAN = ("2001", "Fan Person")
PATH = "/webhooks/facebook"


@pytest.fixture
def fake(graph_fake: FakeGraph) -> FakeGraph:
    return graph_fake


def facebook_settings(config_file: Path, fake: FakeGraph, receive: str = "webhook") -> Settings:
    text = config_file.read_text(encoding="utf-8").replace("[owners]\n", f'[owners]\nfacebook = ["{OWNER}"]\n')
    config_file.write_text(text, encoding="utf-8")
    return settings_with(
        config_file,
        f"""
[policy]
auto_reply_platforms = ["facebook"]

[facebook]
base_url = "{fake.url}"
api_version = "{VERSION}"
page_id = "{PAGE_ID}"
receive = "{receive}"
poll_interval_s = 0.05
rate_limit_wait_s = 0.05
{FAST_DELIVERY}
""",
    )


@pytest.fixture
def settings(config_file: Path, fake: FakeGraph) -> Settings:
    return facebook_settings(config_file, fake)


def connector(settings: Settings, env: dict[str, str] | None = None) -> FacebookConnector:
    return FacebookConnector(settings.facebook, env=ENV if env is None else env)


async def deliver(fake: FakeGraph, base: str, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
    """A delivery as Meta makes it: sent again while the bot answers 500 (not running yet)."""
    for _ in range(250):
        response = await fake.deliver(base + PATH, payload, **kwargs)
        if response.status_code != 500:
            return response
        await asyncio.sleep(0.02)
    return response


@contextlib.asynccontextmanager
async def bot_with_webhooks(settings: Settings, c: FacebookConnector) -> AsyncIterator[tuple[App, str]]:
    """The bot running on the connector; its HTTP server (dashboard and webhooks) on 127.0.0.1."""
    async with running(settings, c) as app:
        yield app, await web_url(app)


async def test_the_subscription_handshake_answers_the_challenge_only_with_the_verify_token(settings: Settings, fake: FakeGraph) -> None:
    async with bot_with_webhooks(settings, connector(settings)) as (_, base), httpx.AsyncClient() as http:
        ok = await http.get(base + PATH, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        wrong = await http.get(base + PATH, params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
        assert wrong.status_code == 403 and "1158201444" not in wrong.text


async def test_a_comment_is_stored_once_and_answered_in_its_thread(settings: Settings, fake: FakeGraph) -> None:
    post = fake.add_post()
    comment_id = f"{post.split('_')[1]}_777"
    payload = feed_comment(post, comment_id, "hi there!", FAN)
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        assert (await deliver(fake, base, payload)).status_code == 200
        assert (await deliver(fake, base, payload)).status_code == 200  # Meta sends one event twice
        await fake.wait_for("post comments")
        [stored] = await wait_status(app, MessageStatus.replied)
        await asyncio.sleep(0.2)
    assert [m.platform_message_id for m in stored_messages(app)] == [comment_id]
    assert stored.kind == "comment" and stored.visibility == "public" and stored.chat_id == post
    [sent] = repo.list_replies(app.engine)
    assert [(r["to"], r["message"], r["id"]) for r in fake.replies] == [(comment_id, sent.text, sent.platform_reply_id)]
    assert fake.hidden == []  # hiding is the owner's, never automatic


async def test_without_the_dashboard_the_webhooks_are_served_alone(config_file: Path, fake: FakeGraph) -> None:
    config_file.write_text(config_file.read_text(encoding="utf-8").replace("[web]\n", "[web]\nenabled = false\n"), encoding="utf-8")
    settings = facebook_settings(config_file, fake)
    assert not settings.web.enabled
    post = fake.add_post()
    async with bot_with_webhooks(settings, connector(settings)) as (app, base), httpx.AsyncClient() as http:
        assert (await deliver(fake, base, feed_comment(post, "1_5", "hi there!", FAN))).status_code == 200
        await wait_status(app, MessageStatus.replied)
        assert (await http.get(base + "/")).status_code == 404  # no dashboard
        assert (await http.get(base + PATH, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "7"})).text == "7"


async def test_a_reply_to_a_reply_is_answered_under_the_top_level_comment(settings: Settings, fake: FakeGraph) -> None:
    post = fake.add_post()
    top, reply = f"{post.split('_')[1]}_1", f"{post.split('_')[1]}_2"
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, feed_comment(post, reply, "hello again!", FAN, parent=top))
        await fake.wait_for("post comments")
        await wait_status(app, MessageStatus.replied)
    assert fake.replies[0]["to"] == top


async def test_badly_signed_deliveries_are_refused_and_never_parsed(settings: Settings, fake: FakeGraph, caplog: pytest.LogCaptureFixture) -> None:
    post = fake.add_post()
    caplog.set_level(logging.WARNING, logger="connectors.meta_webhooks")
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, feed_comment(post, "1_1", "hi there!", FAN))  # the bot is up
        wrong = await fake.deliver(base + PATH, feed_comment(post, "1_2", "hi there!", FAN), secret="guessed-secret")
        unsigned = await fake.deliver(base + PATH, feed_comment(post, "1_3", "hi there!", FAN), sign=False)
        garbage = await fake.deliver(base + PATH, {"object": "page"}, secret="x")
        await wait_status(app, MessageStatus.replied)
    assert (wrong.status_code, unsigned.status_code, garbage.status_code) == (403, 403, 403)
    assert [m.platform_message_id for m in stored_messages(app)] == ["1_1"]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 3 and any("wrong X-Hub-Signature-256" in r for r in refused) and any("no X-Hub-Signature-256" in r for r in refused)


async def test_the_pages_own_comments_and_messenger_echoes_are_not_messages(settings: Settings, fake: FakeGraph) -> None:
    post = fake.add_post()
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, feed_comment(post, "1_1", "Thanks for coming!", (PAGE_ID, "Acme Bakery")))
        await deliver(fake, base, messenger(PAGE_ID, "m_echo", "our own message", echo=True))
        await deliver(fake, base, feed_comment(post, "1_2", "hi there!", FAN))
        await wait_status(app, MessageStatus.replied)
    assert [m.platform_message_id for m in stored_messages(app)] == ["1_2"]


async def test_a_messenger_message_is_answered_in_the_conversation(settings: Settings, fake: FakeGraph) -> None:
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, messenger(FAN[0], "m_1", "hi there!"))
        await fake.wait_for("post messages")
        [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.kind == "private" and stored.visibility == "direct" and stored.chat_id == FAN[0]
    [sent] = repo.list_replies(app.engine)
    assert fake.messages == [{"account": PAGE_ID, "recipient": FAN[0], "text": sent.text, "type": "RESPONSE"}]


async def test_outside_the_messaging_window_the_reply_waits_for_the_owner_with_the_reason(settings: Settings, fake: FakeGraph) -> None:
    day_ago = int((time.time() - 25 * 3600) * 1000)
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, messenger(FAN[0], "m_old", "hi there!", timestamp_ms=day_ago))
        reply = await wait_failed_send(app)
        # Where the platform refuses in its own words (its clock, not ours), the typed error does the same.
        fake.window_closed.add("2002")
        await deliver(fake, base, messenger("2002", "m_new", "hi there!"))
        await until(lambda: len([r for r in repo.list_replies(app.engine) if r.error]) == 2)
    assert "within 24 hours" in (reply.error or "") and "facebook's own inbox" in (reply.error or "")
    [refused] = [r for r in repo.list_replies(app.engine) if r.id != reply.id]
    assert "outside of allowed window" in (refused.error or "")
    tried = [c.params["recipient"] for c in fake.calls_to("post messages") if OWNER not in c.params["recipient"]]
    assert tried == ['{"id":"2002"}']  # the old one was never tried


async def test_the_owner_hides_or_deletes_a_comment(settings: Settings, fake: FakeGraph) -> None:
    post = fake.add_post()
    async with bot_with_webhooks(settings, connector(settings)) as (app, base):
        await deliver(fake, base, feed_comment(post, "1_9", "this place is a scam, avoid", FAN))
        [stored] = await asyncio.wait_for(_final(app), 10)
        await deliver(fake, base, messenger(OWNER, "m_owner", f"/hide {stored.id}"))
        await until(lambda: fake.hidden == ["1_9"])
        await until(lambda: any("hidden" in m["text"] for m in fake.messages))
        assert fake.deleted == []  # hidden is not deleted
        await deliver(fake, base, messenger(OWNER, "m_owner2", f"/delete {stored.id}"))
        await until(lambda: fake.deleted == ["1_9"])
        await until(lambda: any("deleted on facebook" in m["text"] for m in fake.messages))
        await deliver(fake, base, messenger(OWNER, "m_owner3", "/delete"))
        await until(lambda: any("usage: /delete MESSAGE_ID" == m["text"] for m in fake.messages))
    assert fake.calls_to("delete object")[0].params["path"] == "1_9"


async def _final(app: App) -> list[Any]:
    while not (done := [m for m in stored_messages(app) if m.status not in (MessageStatus.received, MessageStatus.understood)]):
        await asyncio.sleep(0.02)
    return done


async def test_polling_reads_new_comments_after_the_stored_cursor(config_file: Path, fake: FakeGraph) -> None:
    settings = facebook_settings(config_file, fake, receive="polling")
    post = fake.add_post()
    fake.add_comment(post, "an old question from before the bot", FAN, at=time.time() - 3600)
    fake.app_secret = ""  # an app that does not require appsecret_proof
    c = connector(settings, env={"FACEBOOK_PAGE_TOKEN": ENV["FACEBOOK_PAGE_TOKEN"]})  # no webhook secrets needed
    assert c.webhook_routes() == ()
    async with running(settings, c) as app:
        await fake.wait_for("get comments")
        new = fake.add_comment(post, "hi there!", FAN)
        fake.add_comment(post, "Thank you!", (PAGE_ID, "Acme Bakery"))  # the page's own
        mid = fake.add_message(PAGE_ID, ("2002", "Other Fan"), "hello!")
        await fake.wait_for("post comments")
        await fake.wait_for("post messages")
        await until(lambda: len(repo.list_messages(app.engine, status=MessageStatus.replied)) == 2)
        cursor = repo.get_cursor(app.engine, "facebook:poll")
    assert sorted(m.platform_message_id for m in stored_messages(app)) == sorted([new, mid])
    assert [m["recipient"] for m in fake.messages] == ["2002"]  # Messenger answered in the conversation
    assert cursor is not None and int(cursor) >= int(time.time()) - 60
    # A restart reads from the stored cursor: nothing is stored or answered twice.
    again = connector(settings, env={"FACEBOOK_PAGE_TOKEN": ENV["FACEBOOK_PAGE_TOKEN"]})
    async with running(settings, again) as app:
        polls = len(fake.calls_to("get comments"))
        await fake.wait_for("get comments", polls + 3)
    assert len(stored_messages(app)) == 2 and len(fake.replies) == 1 and len(fake.messages) == 1


def test_webhooks_need_the_app_secret_and_verify_token(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="META_APP_SECRET"):
        FacebookConnector(settings.facebook, env={"FACEBOOK_PAGE_TOKEN": "x"})
    with pytest.raises(ConfigError, match="FACEBOOK_PAGE_TOKEN"):
        FacebookConnector(settings.facebook, env={})


async def test_a_revoked_token_stops_the_connector_and_says_what_to_do(settings: Settings, fake: FakeGraph) -> None:
    post = fake.add_post()
    c = connector(settings)
    async with bot_with_webhooks(settings, c) as (app, base):
        fake.tokens.clear()  # the owner changed their password: every call now answers 190
        await deliver(fake, base, feed_comment(post, "1_5", "hi there!", FAN))
        await asyncio.wait_for(c.wait_closed(), 10)
    assert c.failure is not None
    assert "FACEBOOK_PAGE_TOKEN" in c.failure and "Connect a Facebook Page" in c.failure and "190" in c.failure
    assert fake.replies == []


async def test_text_link_and_photo_posts(settings: Settings, fake: FakeGraph, tmp_path: Path) -> None:
    c = connector(settings)
    text_id = await c.publish(OutgoingPost(text="Our new sourdough is here: https://example.com/shop."))
    assert fake.posts[text_id]["link"] == "https://example.com/shop"
    by_url = await c.publish(OutgoingPost(text="Fresh rolls", image_path="https://example.com/rolls.jpg"))
    image = tmp_path / "cake.png"
    image.write_bytes(TINY_PNG)
    by_file = await c.publish(OutgoingPost(text="Cake of the day", image_path=str(image)))
    assert [p["post_id"] for p in fake.photos] == [by_url, by_file]
    assert fake.photos[0]["url"] == "https://example.com/rolls.jpg" and fake.photos[0]["caption"] == "Fresh rolls"
    assert fake.photos[1]["source"] == {"filename": "cake.png", "size": len(TINY_PNG)}
    await c.stop()


PHOTOS = ("https://example.com/1.jpg", "https://example.com/2.jpg")


async def test_several_photos_are_uploaded_unpublished_then_posted_together(settings: Settings, fake: FakeGraph, tmp_path: Path) -> None:
    image = tmp_path / "cake.png"
    image.write_bytes(TINY_PNG)
    c = connector(settings)
    post_id = await c.publish(OutgoingPost(text="Our week", image_path=PHOTOS[0], more_images=(PHOTOS[1], str(image))))
    assert [p["published"] for p in fake.photos] == [False, False, False]
    assert [p.get("url") for p in fake.photos] == [*PHOTOS, None] and fake.photos[2]["source"]["filename"] == "cake.png"
    assert fake.posts[post_id]["message"] == "Our week" and fake.published_photos() == [[p["id"] for p in fake.photos]]
    [feed] = fake.calls_to("post feed")
    assert json.loads(feed.params["attached_media"]) == [{"media_fbid": p["id"]} for p in fake.photos]
    await c.stop()


def _publisher(engine: Any, settings: Settings, c: FacebookConnector, told: list[str] | None = None) -> Publisher:
    async def notify(platform: str, text: str) -> None:
        (told if told is not None else []).append(text)

    return Publisher(engine, {"facebook": c}, settings.schedule, notify)


async def test_a_post_with_several_photos_left_half_way_resumes_from_its_photos(settings: Settings, fake: FakeGraph, engine: Any) -> None:
    """What a process killed after the uploads left: the photo ids on the row, the post in
    `publishing`. It is published with those photos, once; a plain post left so fails instead."""
    c = connector(settings)
    photos = await c.prepare(OutgoingPost(text="Our week", image_path=PHOTOS[0], more_images=PHOTOS[1:]))
    several = repo.add_post(engine, platform="facebook", text="Our week", status=PostStatus.publishing, scheduled_at=utcnow())
    repo.update_post(engine, several.id, media="\n".join(PHOTOS), container_id=photos)
    plain = repo.add_post(engine, platform="facebook", text="Just words", status=PostStatus.publishing, scheduled_at=utcnow())
    told: list[str] = []
    publisher = _publisher(engine, settings, c, told)
    assert [p.id for p in await publisher.recover_interrupted()] == [several.id]
    assert repo.get_post(engine, plain.id).status == PostStatus.failed and "interrupted" in told[0]  # type: ignore[union-attr]
    [claimed] = await publisher.claim_due(utcnow(), not_before=utcnow() - timedelta(days=1), limit=1)
    await publisher.publish(claimed)
    await publisher.flush()
    done = repo.get_post(engine, several.id)
    assert done is not None and done.status == PostStatus.published
    assert len(fake.photos) == 2 and fake.published_photos() == [photos.split(",")]  # not uploaded again
    assert fake.posts[done.platform_post_id]["message"] == "Our week"  # type: ignore[index]
    await c.stop()


async def test_photos_posted_before_a_crash_are_found_not_posted_again(settings: Settings, fake: FakeGraph) -> None:
    c = connector(settings)
    post = OutgoingPost(text="Our week", image_path=PHOTOS[0], more_images=PHOTOS[1:])
    photos = await c.prepare(post)
    first = await c.publish_prepared(photos, post)  # its answer lost with the process
    assert await c.publish_prepared(photos, post) == first
    assert len(fake.calls_to("post feed")) == 1 and len(fake.published_photos()) == 1
    await c.stop()


async def test_a_feed_call_whose_answer_times_out_is_not_posted_again(settings: Settings, fake: FakeGraph) -> None:
    settings.facebook.request_timeout_s = 0.3
    fake.slow_answers["post feed"] = 2  # done at once, answered too late: the call is tried again
    c = connector(settings)
    post_id = await c.publish(OutgoingPost(text="Our week", image_path=PHOTOS[0], more_images=PHOTOS[1:]))
    assert list(fake.posts) == [post_id] and len(fake.calls_to("post feed")) == 1
    await c.stop()


@pytest.mark.slow
@pytest.mark.parametrize("when", ["before the feed call", "during the feed call"])
async def test_a_post_with_several_photos_killed_half_way_is_posted_once(settings: Settings, fake: FakeGraph, engine: Any, when: str) -> None:
    post = repo.add_post(engine, platform="facebook", text="Our week", status=PostStatus.scheduled, scheduled_at=utcnow())
    repo.update_post(engine, post.id, media="\n".join(PHOTOS))
    if when == "before the feed call":
        fake.slow_answers["get feed"] = 60  # the look for an earlier post, just before the feed call, hangs
    else:
        fake.slow_answers["post feed"] = 60  # Facebook posts at once; its answer never reaches the killed process
    first = await publish_child.start("facebook", settings.database_url, fake.url, ROOT)
    try:
        if when == "before the feed call":
            await fake.wait_for("get feed", timeout=60)
        else:
            await fake.wait_for("post feed", timeout=60)
            await until(lambda: len(fake.posts) == 1)
        row = repo.get_post(engine, post.id)
        assert row is not None and row.status == PostStatus.publishing and row.container_id == ",".join(p["id"] for p in fake.photos)
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
    assert len(fake.calls_to("post feed")) == (when == "during the feed call")
    fake.slow_answers.clear()
    second = await publish_child.start("facebook", settings.database_url, fake.url, ROOT)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()
    done = repo.get_post(engine, post.id)
    assert done is not None and done.status == PostStatus.published, (done, out.decode(), err.decode())
    assert len(fake.photos) == 2 and fake.published_photos() == [[p["id"] for p in fake.photos]]
    assert list(fake.posts) == [done.platform_post_id]


async def test_post_insights_become_engagement(settings: Settings, fake: FakeGraph, engine: Any) -> None:
    c = connector(settings)
    post = repo.add_post(engine, platform="facebook", text="Fresh bread", status=PostStatus.scheduled, scheduled_at=utcnow())

    async def notify(platform: str, text: str) -> None:
        pass

    publisher = Publisher(engine, {"facebook": c}, settings.schedule, notify)
    [claimed] = await publisher.claim_due(utcnow(), not_before=utcnow().replace(year=2000), limit=1)
    await publisher.publish(claimed)
    await publisher.flush()
    published = repo.get_post(engine, post.id)
    assert published is not None and published.status == PostStatus.published and published.engagement_due_at is not None
    fake.insights[published.platform_post_id] = {"reactions": 7, "comments": 2, "shares": 1, "impressions": 300, "reach": 210}
    await publisher.collect_engagement(post.id)
    [(row, interactions)] = repo.published_engagement(engine, "facebook")
    assert interactions == 10  # people acting on it; impressions and reach are audience, not actions
    await c.stop()


async def test_the_pages_follower_count_is_stored(settings: Settings, fake: FakeGraph, engine: Any) -> None:
    c = connector(settings)
    publisher = _publisher(engine, settings, c)
    assert await publisher.collect_audience() == 0  # the page says nothing (yet): nothing stored
    fake.followers[PAGE_ID] = 310
    assert await publisher.collect_audience() == 1  # Facebook has no followers-online hours for a page
    assert repo.follower_counts(engine, "facebook") == [(utcnow().date(), 310)]
    await c.stop()


async def test_a_revoked_token_stops_facebook_alone_and_the_owner_is_told_on_telegram(
    settings: Settings, fake: FakeGraph, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    both = telegram_settings(config_file, telegram, '\n[owner]\nnotify = ["telegram"]\n')
    post = fake.add_post()
    c = connector(both)
    try:
        async with running(both, [c, TelegramConnector(both.telegram)]) as app:
            base = await web_url(app)
            fake.tokens.clear()  # every Graph call now answers 190
            await deliver(fake, base, feed_comment(post, "1_6", "hi there!", FAN))
            await asyncio.wait_for(c.wait_closed(), 10)

            async def told() -> None:
                while not any("facebook is stopped" in str(call.params["text"]) for call in telegram.calls_to("sendMessage")):
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(told(), 10)
            # Telegram goes on: the bot still answers the owner there.
            assert set(app.connections.live) == {"telegram"}
            telegram.push(telegram.message("/pending", user_id=TELEGRAM_OWNER))
            await until(lambda: len(telegram.calls_to("sendMessage")) >= 2)
    finally:
        await telegram.stop()
