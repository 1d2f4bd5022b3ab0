"""The scheduler on its own: jobs survive a restart, the grace window, platform refusals."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from core.config import ScheduleSettings, Settings
from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from connectors.base import Connector
from connectors.console import ConsoleConnector
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus, utcnow
from fakes.social_platform import FakePlatform, FakePlatformConnector


def make_scheduler(engine: Engine, connector: Connector, grace_minutes: float = 30) -> PostScheduler:
    settings = ScheduleSettings(grace_minutes=grace_minutes)

    async def notify(platform: str, message: str) -> None:
        await connector.send_text("owner", message)

    return PostScheduler(engine, Publisher(engine, {connector.platform: connector}, settings, notify), settings, notify)


async def wait_for(engine: Engine, post_id: int, status: PostStatus, timeout_s: float = 20) -> None:
    for _ in range(int(timeout_s / 0.05)):
        post = repo.get_post(engine, post_id)
        if post is not None and post.status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"post {post_id} is {post.status if post else None}, not {status}")


async def test_a_scheduled_post_survives_a_restart(settings: Settings) -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdout=out)
    engine = make_engine(settings.database_url)
    post = repo.add_post(engine, platform="console", text="autumn sale")
    first = make_scheduler(engine, console)
    await first.start()
    assert post.id is not None
    first.schedule(post.id, utcnow() + timedelta(seconds=1.5))
    await first.stop()
    engine.dispose()
    with make_engine(settings.database_url).connect() as connection:  # the row is the schedule: no job per post
        assert not inspect(connection).has_table("apscheduler_jobs")  # nor any store of APScheduler's
        assert connection.execute(text(f"select status from post where id = {post.id}")).scalar_one() == "scheduled"

    engine = make_engine(settings.database_url)
    second = make_scheduler(engine, console)
    await second.start()
    try:
        await wait_for(engine, post.id, PostStatus.published)
    finally:
        await second.stop()
    assert out.getvalue().count("[published] autumn sale") == 1
    assert repo.get_post(engine, post.id).platform_post_id  # type: ignore[union-attr]
    engine.dispose()


async def test_overdue_posts_within_grace_are_published_later_ones_missed(engine: Engine) -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdout=out)
    now = utcnow()
    late = repo.add_post(engine, platform="console", text="a bit late", status=PostStatus.scheduled, scheduled_at=now - timedelta(minutes=10))
    too_late = repo.add_post(engine, platform="console", text="too late", status=PostStatus.scheduled, scheduled_at=now - timedelta(hours=2))
    scheduler = make_scheduler(engine, console, grace_minutes=30)
    await scheduler.start()
    try:
        await wait_for(engine, late.id, PostStatus.published)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
    assert repo.get_post(engine, too_late.id).status == PostStatus.missed  # type: ignore[arg-type, union-attr]
    assert "[published] too late" not in out.getvalue()
    assert f"post #{too_late.id} missed its time" in out.getvalue()


async def test_a_refused_post_fails_with_the_platform_message(engine: Engine) -> None:
    platform = FakePlatform(refuse={"buy now!!!": (400, "duplicate content")}).start()
    connector = FakePlatformConnector(platform.url)
    post = repo.add_post(engine, platform=connector.platform, text="buy now!!!")
    scheduler = make_scheduler(engine, connector)
    await scheduler.start()
    try:
        scheduler.schedule(post.id, utcnow())  # type: ignore[arg-type]
        await wait_for(engine, post.id, PostStatus.failed)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
        await connector.stop()
        platform.stop()
    assert "duplicate content" in (repo.get_post(engine, post.id).error or "")  # type: ignore[arg-type, union-attr]
    assert platform.posts == [] and any("duplicate content" in m for m in platform.messages)


async def test_a_cancelled_post_is_not_published(engine: Engine) -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdout=out)
    post = repo.add_post(engine, platform="console", text="never mind")
    keep = repo.add_post(engine, platform="console", text="this one")
    scheduler = make_scheduler(engine, console)
    await scheduler.start()
    try:
        scheduler.schedule(post.id, utcnow() + timedelta(seconds=0.5))  # type: ignore[arg-type]
        scheduler.schedule(keep.id, utcnow() + timedelta(seconds=0.7))  # type: ignore[arg-type]
        scheduler.cancel(post.id)  # type: ignore[arg-type]
        await wait_for(engine, keep.id, PostStatus.published)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
    assert "never mind" not in out.getvalue()
    assert repo.get_post(engine, post.id).status == PostStatus.cancelled  # type: ignore[arg-type, union-attr]


async def test_engagement_is_fetched_after_publishing_and_feeds_the_timing_model(engine: Engine, settings: Settings) -> None:
    from bot.posting_history import posting_history
    from brain.service import Brain

    platform = FakePlatform().start()
    connector = FakePlatformConnector(platform.url)
    post = repo.add_post(engine, platform=connector.platform, text="rye bread is back")
    scheduler = make_scheduler(engine, connector)
    await scheduler.start()
    try:
        scheduler.schedule(post.id, utcnow())  # type: ignore[arg-type]
        await wait_for(engine, post.id, PostStatus.published)  # type: ignore[arg-type]
        published = repo.get_post(engine, post.id)  # type: ignore[arg-type]
        assert published is not None and published.engagement_due_at is not None and published.published_at is not None
        assert published.engagement_due_at - published.published_at == timedelta(hours=24)  # fetched a day later
        platform.stats[platform.posts[0]["id"]] = {"views": 500, "reactions": 30, "comments": 4}
        assert await scheduler.collect_due_engagement() == 0  # not yet
        repo.update_post(engine, post.id, engagement_due_at=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
        assert await scheduler.collect_due_engagement() == 1
        assert await scheduler.collect_due_engagement() == 0  # asked once for now
        again = repo.get_post(engine, post.id)  # type: ignore[arg-type]
        assert again is not None and again.engagement_due_at is not None and again.published_at is not None
        assert again.engagement_due_at - again.published_at == timedelta(hours=72)  # then at 3x, while it may grow
        repo.update_post(engine, post.id, engagement_due_at=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
        assert await scheduler.collect_due_engagement() == 1
        stopped = repo.get_post(engine, post.id)  # type: ignore[arg-type]
        assert stopped is not None and stopped.engagement_due_at is None  # the same count: it stopped growing
    finally:
        await scheduler.stop()
        await connector.stop()
        platform.stop()
    [(published, interactions)] = repo.published_engagement(engine, connector.platform)
    assert published.id == post.id and interactions == 34  # reactions + comments; views are not actions
    assert len(repo.engagement_samples(engine, post.id)) == 2  # type: ignore[arg-type]
    model = Brain(settings).timing_model(posting_history(engine, connector.platform))
    assert model.n_posts == 1 and model.median == 34


async def test_engagement_that_keeps_growing_is_asked_for_engagement_fetches_times(engine: Engine) -> None:
    platform = FakePlatform().start()
    connector = FakePlatformConnector(platform.url)
    post = repo.add_post(engine, platform=connector.platform, text="sourdough class on Sunday")
    scheduler = make_scheduler(engine, connector)
    await scheduler.start()
    due: list[timedelta] = []
    try:
        scheduler.schedule(post.id, utcnow())  # type: ignore[arg-type]
        await wait_for(engine, post.id, PostStatus.published)  # type: ignore[arg-type]
        for likes in (10, 20, 30, 40):
            row = repo.get_post(engine, post.id)  # type: ignore[arg-type]
            assert row is not None and row.published_at is not None
            if row.engagement_due_at is None:
                break
            due.append(row.engagement_due_at - row.published_at)
            platform.stats[platform.posts[0]["id"]] = {"likes": likes}
            repo.update_post(engine, post.id, engagement_due_at=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
            assert await scheduler.collect_due_engagement() == 1
    finally:
        await scheduler.stop()
        await connector.stop()
        platform.stop()
    assert due == [timedelta(hours=24), timedelta(hours=72), timedelta(hours=216)]  # then no more: engagement_fetches = 3
    assert [s.interactions for s in repo.engagement_samples(engine, post.id)] == [10, 20, 30]  # type: ignore[arg-type]


async def test_a_rate_limited_post_is_retried_after_the_platforms_wait(engine: Engine) -> None:
    platform = FakePlatform(rate_limit_once={"hello again": 0.5}).start()
    connector = FakePlatformConnector(platform.url)
    post = repo.add_post(engine, platform=connector.platform, text="hello again")
    scheduler = make_scheduler(engine, connector)
    await scheduler.start()
    try:
        scheduler.schedule(post.id, utcnow())  # type: ignore[arg-type]
        await wait_for(engine, post.id, PostStatus.published)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
        await connector.stop()
        platform.stop()
    published = repo.get_post(engine, post.id)  # type: ignore[arg-type]
    assert published.attempts == 2 and [p["text"] for p in platform.posts] == ["hello again"]  # type: ignore[union-attr]


async def test_posts_due_together_are_each_published_once_a_few_at_a_time(engine: Engine) -> None:
    platform = FakePlatform().start()
    # A platform that does not deduplicate by key: there the bound on posts in doubt matters (on
    # one that does, a post a crash left in `publishing` is simply sent again with its key).
    connector = FakePlatformConnector(platform.url, idempotent=False)
    now = utcnow()
    posts = [
        repo.add_post(engine, platform=connector.platform, text=f"post {i}", status=PostStatus.scheduled, scheduled_at=now)
        for i in range(30)
    ]
    later = repo.add_post(engine, platform=connector.platform, text="later", status=PostStatus.scheduled, scheduled_at=now + timedelta(seconds=0.8))
    scheduler = make_scheduler(engine, connector)
    in_flight: list[int] = []
    publish = connector.publish

    async def counting(post):  # type: ignore[no-untyped-def]
        in_flight.append(sum(1 for p in repo.list_posts(engine, limit=100) if p.status == PostStatus.publishing))
        return await publish(post)

    connector.publish = counting  # type: ignore[method-assign]
    await scheduler.start()
    try:
        await wait_for(engine, later.id, PostStatus.published)  # type: ignore[arg-type]
        for post in posts:
            await wait_for(engine, post.id, PostStatus.published)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
        await connector.stop()
        platform.stop()
    assert sorted(p["text"] for p in platform.posts) == sorted([f"post {i}" for i in range(30)] + ["later"])
    assert max(in_flight) <= ScheduleSettings().parallel_publishes  # a crash leaves at most that many in doubt
    # Published when due, not at the dispatcher's next idle wake-up (a minute): a loose bound, as a
    # busy CI machine may be slow, not a timing goal (those live in bench/scheduler.py).
    assert platform.posts[-1]["text"] == "later" and platform.posts[-1]["at"] - later.scheduled_at.timestamp() < 10  # type: ignore[union-attr]


async def test_a_post_scheduled_while_running_wakes_the_dispatcher(engine: Engine) -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdout=out)
    scheduler = make_scheduler(engine, console)
    await scheduler.start()
    try:
        await asyncio.sleep(0.3)  # the dispatcher is asleep: nothing is scheduled
        post = repo.add_post(engine, platform="console", text="right now")
        scheduler.schedule(post.id, utcnow())  # type: ignore[arg-type]
        await wait_for(engine, post.id, PostStatus.published, timeout_s=0.5)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
    assert out.getvalue().count("[published] right now") == 1


async def _old_job(*args: object) -> None:
    """Stands in for the function an earlier version's stored jobs named (it no longer exists)."""


async def test_jobs_per_post_from_an_earlier_version_become_rows(settings: Settings) -> None:
    """An older bot kept a job per post; the rows already say when to publish, the engagement job moves onto its row."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    engine = make_engine(settings.database_url)
    out = io.StringIO()
    console = ConsoleConnector(stdout=out)
    published = repo.add_post(engine, platform="console", text="old", status=PostStatus.published)
    waiting = repo.add_post(engine, platform="console", text="soon", status=PostStatus.scheduled, scheduled_at=utcnow() + timedelta(seconds=0.3))
    due = utcnow() + timedelta(hours=3)
    old = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)})
    old.start(paused=True)
    old.add_job(_old_job, "date", run_date=due, args=("bot", "engagement", published.id), id=f"engagement:{published.id}")
    old.add_job(_old_job, "date", run_date=waiting.scheduled_at, args=("bot", "post", waiting.id), id=f"post:{waiting.id}")
    old.add_job(_old_job, "interval", seconds=60, args=("bot", "engagement"), id="engagement")
    old.shutdown(wait=False)

    scheduler = make_scheduler(engine, console)
    await scheduler.start()
    try:
        assert [job.id for job in scheduler._aps.get_jobs()] == ["engagement", "audience"]
        with engine.connect() as connection:  # the old store is emptied
            assert connection.execute(text("select count(*) from apscheduler_jobs")).scalar_one() == 0
        await wait_for(engine, waiting.id, PostStatus.published)  # type: ignore[arg-type]
    finally:
        await scheduler.stop()
    moved = repo.get_post(engine, published.id)  # type: ignore[arg-type]
    assert moved is not None and moved.engagement_due_at is not None
    assert abs((moved.engagement_due_at - due).total_seconds()) < 1
    assert out.getvalue().count("[published] soon") == 1
    engine.dispose()
