"""The Instagram connector against the fake Graph server: comments, mentions and Direct messages by
signed webhook, replies, two-step container publishing (images, carousels, resumed from the post
row), the text-only post refused at scheduling time, and media insights."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from connectors.base import OutgoingPost
from connectors.instagram import InstagramConnector
from core.config import Settings
from core.errors import BotError, ConnectorError
from fakes import graph_publish_child as publish_child
from fakes.app import FAST_DELIVERY, running, settings_with, stored_messages, wait_failed_send, wait_status, web_url
from fakes.graph_api import ENV, IG_ID, IG_USERNAME, VERSION, FakeGraph, ig_comment, ig_mention, iso, messenger, until
from storage import repo
from storage.models import MessageStatus, PostStatus, utcnow
from tests.conftest import ROOT

FAN = ("3001", "fan.person")
PATH = "/webhooks/instagram"
IMAGE = "https://example.com/bread.jpg"


@pytest.fixture
def fake(graph_fake: FakeGraph) -> FakeGraph:
    return graph_fake


@pytest.fixture
def settings(config_file: Path, fake: FakeGraph) -> Settings:
    return settings_with(
        config_file,
        f"""
[policy]
auto_reply_platforms = ["instagram"]

[instagram]
base_url = "{fake.url}"
api_version = "{VERSION}"
account_id = "{IG_ID}"
container_poll_s = 0.02
{FAST_DELIVERY}
""",
    )


def connector(settings: Settings) -> InstagramConnector:
    return InstagramConnector(settings.instagram, env=ENV)


async def deliver(fake: FakeGraph, base: str, payload: dict[str, Any]) -> None:
    """Sent again while the bot answers 500 (not running yet), as Meta does."""
    for _ in range(250):
        if (await fake.deliver(base + PATH, payload)).status_code != 500:
            return
        await asyncio.sleep(0.02)


async def test_a_comment_is_answered_as_a_reply_and_our_own_are_not_messages(settings: Settings, fake: FakeGraph) -> None:
    c = connector(settings)
    async with running(settings, c) as app:
        base = await web_url(app)
        await deliver(fake, base, ig_comment("m1", "c1", "Thanks!", (IG_ID, IG_USERNAME)))
        await deliver(fake, base, ig_comment("m1", "c2", "hi there!", FAN))
        await deliver(fake, base, ig_comment("m1", "c2", "hi there!", FAN))  # delivered twice
        await deliver(fake, base, ig_comment("m1", "c3", "hello again!", FAN, parent="c2"))
        await fake.wait_for("post replies", 2)
        await until(lambda: len(repo.list_messages(app.engine, status=MessageStatus.replied)) == 2)
    assert sorted(m.platform_message_id for m in stored_messages(app)) == ["c2", "c3"]
    assert sorted(r["to"] for r in fake.replies) == ["c2", "c2"]  # a reply to a reply goes under its top-level comment


async def test_a_mention_is_read_and_answered_where_it_was_made(settings: Settings, fake: FakeGraph) -> None:
    fake.mentioned["c9"] = {"id": "c9", "text": "@acme.bakery hi there!", "username": "someone", "timestamp": "2026-12-07T10:00:00+0000"}
    c = connector(settings)
    async with running(settings, c) as app:
        base = await web_url(app)
        await deliver(fake, base, ig_mention("other-media", "c9"))
        await fake.wait_for("post mentions")
        [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.kind == "mention" and stored.chat_id == "other-media" and "hi there!" in stored.text
    assert fake.replies[0]["to"] == "c9" and fake.replies[0]["mention_media"] == "other-media"


async def test_a_caption_mention_by_webhook_is_answered_on_that_post_and_stored_once_when_polled_too(settings: Settings, fake: FakeGraph) -> None:
    media_id = fake.tag("Best croissants in town, @acme.bakery thank you!", "someone")
    c = connector(settings)
    async with running(settings, c) as app:
        base = await web_url(app)
        await deliver(fake, base, ig_mention(media_id))
        await fake.wait_for("post mentions")
        [stored] = await wait_status(app, MessageStatus.replied)
        # The same post found by polling (an owner switching to it, or both running): its id is the same.
        polled, _ = await c.poll_once("0")
        assert [m.message_id for m in polled] == [media_id]
        assert app.inbox is not None
        await app.inbox.store(polled)
        await asyncio.sleep(0.3)
    assert stored.kind == "mention" and stored.chat_id == media_id and stored.platform_message_id == media_id
    assert [m.platform_message_id for m in stored_messages(app)] == [media_id]
    [reply] = fake.replies
    assert reply["to"] == media_id and reply["mention_media"] == media_id
    assert "comment_id" not in fake.calls_to("post mentions")[0].params  # a comment on the post itself


async def test_polling_finds_the_posts_whose_caption_mentions_the_account(settings: Settings, fake: FakeGraph) -> None:
    settings.instagram.receive = "polling"
    settings.instagram.poll_interval_s = 0.05
    fake.tag("@acme.bakery from before the bot", "someone", at=time.time() - 86400)
    c = InstagramConnector(settings.instagram, env={"INSTAGRAM_ACCESS_TOKEN": ENV["INSTAGRAM_ACCESS_TOKEN"], "META_APP_SECRET": ENV["META_APP_SECRET"]})
    async with running(settings, c) as app:
        await fake.wait_for("get tags")
        mention = fake.tag("Lunch at @Acme.Bakery, hi there!", "someone")
        fake.tag("Our trip (the bakery is tagged in the photo)", "other")  # tagged, but says nothing to it
        fake.tag("Thanks @acme.bakery", IG_USERNAME)  # the account's own
        await fake.wait_for("post mentions")
        [stored] = await wait_status(app, MessageStatus.replied)
        polled = len(fake.calls_to("get tags"))
        await fake.wait_for("get tags", polled + 3)  # read again each round: stored and answered once
    assert [m.platform_message_id for m in stored_messages(app)] == [mention]
    assert stored.kind == "mention" and stored.text.startswith("Lunch at")
    assert [(r["to"], r["mention_media"]) for r in fake.replies] == [(mention, mention)]


async def test_a_direct_message_is_answered_in_the_conversation(settings: Settings, fake: FakeGraph) -> None:
    c = connector(settings)
    async with running(settings, c) as app:
        base = await web_url(app)
        await deliver(fake, base, messenger(FAN[0], "ig_m1", "hi there!", obj="instagram", account=IG_ID))
        await fake.wait_for("post messages")
        [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.kind == "private" and fake.messages[0]["account"] == IG_ID and fake.messages[0]["recipient"] == FAN[0]


async def test_a_direct_message_outside_the_window_waits_for_the_owner(settings: Settings, fake: FakeGraph) -> None:
    fake.window_closed.add(FAN[0])  # Instagram refuses in its own words (its clock, not ours)
    async with running(settings, connector(settings)) as app:
        base = await web_url(app)
        await deliver(fake, base, messenger(FAN[0], "ig_m2", "hi there!", obj="instagram", account=IG_ID))
        reply = await wait_failed_send(app)
    assert "outside of allowed window" in (reply.error or "") and fake.messages == []


async def test_an_image_post_is_a_container_then_media_publish(settings: Settings, fake: FakeGraph) -> None:
    fake.container_reads_before_finished = 3  # IN_PROGRESS for a while
    c = connector(settings)
    media_id = await c.publish(OutgoingPost(text="Fresh bread", image_path=IMAGE))
    [container] = fake.containers.values()
    assert container["params"] == {"image_url": IMAGE, "caption": "Fresh bread"}
    assert len(fake.calls_to("get object")) == 4  # polled until FINISHED
    assert fake.media[media_id]["container"] == container["id"] and len(fake.calls_to("post media_publish")) == 1
    await c.stop()


async def test_a_carousel_is_a_container_of_item_containers(settings: Settings, fake: FakeGraph) -> None:
    c = connector(settings)
    images = ("https://example.com/1.jpg", "https://example.com/2.jpg", "https://example.com/3.jpg")
    media_id = await c.publish(OutgoingPost(text="Our week", image_path=images[0], more_images=images[1:]))
    *items, carousel = fake.containers.values()
    assert [i["params"] for i in items] == [{"image_url": url, "is_carousel_item": "true"} for url in images]
    assert carousel["params"] == {"media_type": "CAROUSEL", "children": ",".join(i["id"] for i in items), "caption": "Our week"}
    assert fake.media[media_id]["container"] == carousel["id"]
    await c.stop()


async def test_a_failed_container_fails_the_post_with_its_reason(settings: Settings, fake: FakeGraph) -> None:
    c = connector(settings)
    container = await c.prepare(OutgoingPost(text="x", image_path=IMAGE))
    fake.containers[container]["status"] = "ERROR"
    with pytest.raises(ConnectorError, match="ERROR"):
        await c.publish_prepared(container, OutgoingPost(text="x", image_path=IMAGE))
    assert fake.calls_to("post media_publish") == []
    await c.stop()


def _scheduler(engine: Engine, settings: Settings, c: InstagramConnector) -> tuple[PostScheduler, Publisher]:
    async def notify(platform: str, text: str) -> None:
        pass

    publisher = Publisher(engine, {"instagram": c}, settings.schedule, notify)
    return PostScheduler(engine, publisher, settings.schedule, notify), publisher


async def test_a_text_only_instagram_post_is_refused_when_scheduled(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    scheduler, _ = _scheduler(engine, settings, connector(settings))
    post = repo.add_post(engine, platform="instagram", text="Just words")
    assert post.id is not None
    with pytest.raises(BotError, match="instagram posts need an image"):
        scheduler.schedule(post.id, utcnow() + timedelta(hours=1))
    assert repo.get_post(engine, post.id).status == PostStatus.draft  # type: ignore[union-attr]
    repo.update_post(engine, post.id, media=IMAGE)
    assert scheduler.schedule(post.id, utcnow() + timedelta(hours=1)).status == PostStatus.scheduled


async def test_publishing_resumes_from_the_container_on_the_post_row(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    c = connector(settings)
    container = await c.prepare(OutgoingPost(text="Fresh bread", image_path=IMAGE))
    post = repo.add_post(engine, platform="instagram", text="Fresh bread", status=PostStatus.scheduled, scheduled_at=utcnow())
    repo.update_post(engine, post.id, media=IMAGE, container_id=container)  # what a process killed after the first step left
    _, publisher = _scheduler(engine, settings, c)
    [claimed] = await publisher.claim_due(utcnow(), not_before=utcnow() - timedelta(days=1), limit=1)
    await publisher.publish(claimed)
    await publisher.flush()
    done = repo.get_post(engine, post.id)
    assert done is not None and done.status == PostStatus.published
    assert len(fake.containers) == 1 and fake.media[done.platform_post_id]["container"] == container  # type: ignore[index]
    fake.insights[done.platform_post_id] = {"likes": 12, "comments": 3, "reach": 400, "saved": 2, "shares": 1, "views": 900}  # type: ignore[index]
    await publisher.collect_engagement(post.id)
    [(_, interactions)] = repo.published_engagement(engine, "instagram")
    assert interactions == 18  # likes, comments, saves and shares; reach and views are audience
    [sample] = repo.engagement_samples(engine, post.id)
    assert json.loads(sample.counts) == {"likes": 12, "comments": 3, "reach": 400, "saved": 2, "shares": 1, "views": 900}
    # A media without views (an older API version, a type Meta does not count them for): the rest still comes.
    fake.unsupported_metrics.add("views")
    assert await c.fetch_engagement(done.platform_post_id) == {"likes": 12, "comments": 3, "reach": 400, "saved": 2, "shares": 1}  # type: ignore[arg-type]
    await c.stop()


@pytest.mark.slow
async def test_a_publish_killed_between_the_two_steps_resumes_and_publishes_once(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    post = repo.add_post(engine, platform="instagram", text="Fresh bread", status=PostStatus.scheduled, scheduled_at=utcnow())
    repo.update_post(engine, post.id, media=IMAGE)
    fake.hold_container_status = True  # the container stays IN_PROGRESS: the child waits between the steps

    async def child() -> asyncio.subprocess.Process:
        return await publish_child.start("instagram", settings.database_url, fake.url, ROOT)

    first = await child()
    try:
        await fake.wait_for("get object", 2, timeout=60)  # the container exists and its status is being read
        row = repo.get_post(engine, post.id)
        assert row is not None and row.status == PostStatus.publishing and row.container_id in fake.containers
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL and fake.calls_to("post media_publish") == []
    fake.hold_container_status = False
    second = await child()
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()
    done = repo.get_post(engine, post.id)
    assert done is not None and done.status == PostStatus.published, (done, out.decode(), err.decode())
    assert len(fake.calls_to("post media")) == 1  # the container was made once
    assert len(fake.calls_to("post media_publish")) == 1 and list(fake.media) == [done.platform_post_id]


async def test_a_media_publish_whose_answer_times_out_is_not_published_again(settings: Settings, fake: FakeGraph) -> None:
    settings.instagram.request_timeout_s = 0.3
    fake.slow_answers["post media_publish"] = 2  # done at once, answered too late: the call is tried again
    c = connector(settings)
    media_id = await c.publish(OutgoingPost(text="Fresh bread", image_path=IMAGE))
    assert list(fake.media) == [media_id] and len(fake.calls_to("post media_publish")) == 1
    await c.stop()


@pytest.mark.slow
async def test_a_publish_killed_during_media_publish_finds_its_post_and_publishes_once(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    # The same words went out two days ago: that earlier post is not taken for this one.
    fake.media["earlier"] = {"id": "earlier", "caption": "Fresh bread", "container": "", "at": time.time() - 2 * 86400}
    post = repo.add_post(engine, platform="instagram", text="Fresh bread", status=PostStatus.scheduled, scheduled_at=utcnow())
    repo.update_post(engine, post.id, media=IMAGE)
    fake.slow_answers["post media_publish"] = 60  # Instagram publishes at once; its answer never reaches the killed process

    first = await publish_child.start("instagram", settings.database_url, fake.url, ROOT)
    try:
        await fake.wait_for("post media_publish", timeout=60)
        await until(lambda: len(fake.media) == 2)
        os.kill(first.pid, signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
    [published] = [m for m in fake.media if m != "earlier"]
    row = repo.get_post(engine, post.id)
    assert row is not None and row.status == PostStatus.publishing and fake.containers[row.container_id]["status"] == "PUBLISHED"

    fake.slow_answers.clear()
    second = await publish_child.start("instagram", settings.database_url, fake.url, ROOT)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, err.decode()
    done = repo.get_post(engine, post.id)
    assert done is not None and done.status == PostStatus.published, (done, out.decode(), err.decode())
    assert done.platform_post_id == published
    assert len(fake.calls_to("post media")) == 1 and len(fake.calls_to("post media_publish")) == 1 and len(fake.media) == 2


async def test_polling_reads_new_comments_and_replies_on_recent_posts(config_file: Path, fake: FakeGraph, settings: Settings) -> None:
    settings.instagram.receive = "polling"
    settings.instagram.poll_interval_s = 0.05
    fake.media["m1"] = {"id": "m1", "caption": "Bread", "container": ""}
    old = {"id": "c0", "text": "from before the bot", "timestamp": "2020-01-01T00:00:00+0000", "from": {"id": FAN[0], "username": FAN[1]}}
    fake.ig_comments["m1"] = [old]
    c = InstagramConnector(settings.instagram, env={"INSTAGRAM_ACCESS_TOKEN": ENV["INSTAGRAM_ACCESS_TOKEN"], "META_APP_SECRET": ENV["META_APP_SECRET"]})
    async with running(settings, c) as app:
        await fake.wait_for("get comments")
        now = iso()
        reply = {"id": "c2", "text": "hello again!", "timestamp": now, "from": {"id": "3002", "username": "other"}}
        ours = {"id": "c3", "text": "Thank you!", "timestamp": now, "from": {"id": IG_ID, "username": IG_USERNAME}}
        fake.ig_comments["m1"] = [old, {"id": "c1", "text": "hi there!", "timestamp": now, "from": {"id": FAN[0], "username": FAN[1]},
                                        "replies": {"data": [reply, ours]}}]
        mid = fake.add_message(IG_ID, ("3003", "dm.person"), "hello!")
        await fake.wait_for("post replies", 2)
        await fake.wait_for("post messages")
        await until(lambda: len(repo.list_messages(app.engine, status=MessageStatus.replied)) == 3)
    assert sorted(m.platform_message_id for m in stored_messages(app)) == sorted(["c1", "c2", mid])
    assert sorted(r["to"] for r in fake.replies) == ["c1", "c1"]
    assert [(m["account"], m["recipient"]) for m in fake.messages] == [(IG_ID, "3003")]


async def test_hiding_and_deleting_an_instagram_comment(settings: Settings, fake: FakeGraph) -> None:
    from core.addressing import MessageKind, ReplyAddress, Visibility

    c = connector(settings)
    await c.hide_comment(ReplyAddress(MessageKind.comment, Visibility.public, chat_id="m1", message_id="c5", thread_id="c5"))
    assert fake.hidden == ["c5"] and fake.calls_to("post object")[0].params["hide"] == "true"
    with pytest.raises(ConnectorError, match="only comments"):
        await c.hide_comment(ReplyAddress(MessageKind.mention, Visibility.public, chat_id="m1", message_id="c6"))
    await c.delete_comment(ReplyAddress(MessageKind.comment, Visibility.public, chat_id="m1", message_id="c7", thread_id="c7"))
    assert fake.deleted == ["c7"]
    with pytest.raises(ConnectorError, match="only comments on the account's posts can be deleted"):
        await c.delete_comment(ReplyAddress(MessageKind.mention, Visibility.public, chat_id="m1", message_id="c6"))
    await c.stop()


async def test_followers_online_hours_are_stored_for_the_best_time(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    from bot.posting_history import posting_history

    c = connector(settings)
    _, publisher = _scheduler(engine, settings, c)
    assert await publisher.collect_audience() == 0  # no insight yet (fewer than 100 followers): nothing stored
    fake.online_followers = {str(h): 100 + h for h in range(24)}  # hours of Meta's UTC-07:00 day
    assert await publisher.collect_audience() == 1
    hours = posting_history(engine, "instagram").audience_hours
    assert hours[7] == 100 and hours[6] == 123  # Meta's 00:00 is 07:00 UTC, its 23:00 is 06:00 UTC
    assert posting_history(engine, "facebook").audience_hours == {}
    await c.stop()


async def test_the_follower_count_is_stored_once_a_day(settings: Settings, fake: FakeGraph, engine: Engine) -> None:
    c = connector(settings)
    _, publisher = _scheduler(engine, settings, c)
    fake.followers[IG_ID] = 1180
    assert await publisher.collect_audience() == 1  # the count; no online hours yet
    fake.followers[IG_ID] = 1234
    await publisher.collect_audience()  # later the same day: the day's count is the latest
    assert repo.follower_counts(engine, "instagram") == [(utcnow().date(), 1234)]
    assert fake.calls_to("get object")[-1].params["fields"] == "followers_count"
    await c.stop()
