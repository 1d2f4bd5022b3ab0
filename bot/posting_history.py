"""A platform's posting history from the database, as the brain's choice of a posting time takes it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.engine import Engine

from brain.slots import PostingHistory, PublishedPost
from core.times import as_utc
from storage import repo
from storage.models import PostStatus


def posting_history(engine: Engine, platform: str) -> PostingHistory:
    """The platform's published posts with their latest engagement, when followers wrote (on any
    platform), when its followers are online (where it says), and the times already scheduled on it.

    Where the platform counts followers, a post's engagement is scaled to today's audience: a post
    made when the account had half its followers counts twice, so that an account's growth does not
    make its later posting hours look better than its earlier ones."""
    counts = repo.follower_counts(engine, platform)
    published = [
        PublishedPost(at, engagement * audience_growth(counts, at), post.content_type)
        for post, engagement in repo.published_engagement(engine, platform)
        for at in [post.published_at or post.created_at]
    ]
    scheduled = repo.posts_with_status(engine, [PostStatus.scheduled], platform=platform)
    return PostingHistory(
        published=published,
        follower_activity=repo.message_times(engine),
        taken=[p.scheduled_at for p in scheduled if p.scheduled_at],
        audience_hours=repo.audience_hours(engine, platform),
    )


def audience_growth(counts: Sequence[tuple[date, int]], at: datetime) -> float:
    """Today's followers over those on the day of `at` (the last count on or before it; before the
    first count, the first): 1.0 where nothing was counted."""
    if not counts:
        return 1.0
    i = bisect_right([day for day, _ in counts], as_utc(at).date())
    then = counts[max(i - 1, 0)][1]
    return counts[-1][1] / then if then > 0 else 1.0
