"""The posting history the best-time model learns from: engagement scaled to today's followers
where the platform counts them, and what /besttime says it rests on."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from bot.posting_history import audience_growth, posting_history
from core.config import Settings
from fakes.console_app import run_console
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus, utcnow

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def published(engine: Engine, platform: str, at: datetime, interactions: int) -> None:
    post = repo.add_post(engine, platform=platform, text="t", status=PostStatus.published)
    assert post.id is not None
    repo.update_post(engine, post.id, published_at=at)
    repo.add_engagement(engine, post_id=post.id, interactions=interactions)


def test_engagement_is_scaled_to_todays_followers(engine: Engine) -> None:
    published(engine, "instagram", NOW - timedelta(days=20), 10)  # when the account had 500 followers
    published(engine, "instagram", NOW - timedelta(days=1), 10)  # with 1,000
    published(engine, "facebook", NOW - timedelta(days=20), 10)  # Facebook counted nothing: as it is
    repo.set_follower_count(engine, "instagram", 500, NOW - timedelta(days=30))
    repo.set_follower_count(engine, "instagram", 1000, NOW - timedelta(days=2))
    assert sorted(p.engagement for p in posting_history(engine, "instagram").published) == [10.0, 20.0]
    assert [p.engagement for p in posting_history(engine, "facebook").published] == [10.0]


def test_audience_growth_takes_the_last_count_on_or_before_the_day() -> None:
    counts = [(date(2026, 11, 1), 400), (date(2026, 11, 10), 500), (date(2026, 11, 20), 1000)]
    assert audience_growth(counts, datetime(2026, 11, 10, 23, 0, tzinfo=timezone.utc)) == 2.0
    assert audience_growth(counts, datetime(2026, 11, 9, tzinfo=timezone.utc)) == 2.5
    assert audience_growth(counts, datetime(2026, 10, 1, tzinfo=timezone.utc)) == 2.5  # before the first count: the first
    assert audience_growth([], NOW) == 1.0 and audience_growth([(date(2026, 11, 1), 0), (date(2026, 11, 2), 5)], NOW - timedelta(days=40)) == 1.0


async def test_besttime_says_it_rests_on_the_followers_hours_and_count(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    published(engine, "instagram", utcnow() - timedelta(days=3), 12)
    repo.set_follower_count(engine, "instagram", 1234)
    repo.set_audience_hours(engine, "instagram", {h: 10 + (50 if h == 17 else 0) for h in range(24)})
    engine.dispose()
    out = await run_console(settings, ["/besttime @instagram", "/besttime @facebook", "/quit"])
    assert "it rests on 1 of your own posts on instagram (their engagement, scaled to your 1,234 followers now)" in out
    assert "on the hours your followers are online (instagram's insights)" in out
    assert "it rests on 0 of your own posts on facebook (their engagement) and on when your followers write" in out
