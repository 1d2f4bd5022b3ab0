"""A platform's posting history from the database, as the brain's choice of a posting time takes it."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from brain.slots import PostingHistory, PublishedPost
from storage import repo
from storage.models import PostStatus


def posting_history(engine: Engine, platform: str) -> PostingHistory:
    """The platform's published posts with their latest engagement, when followers wrote (on any
    platform), when its followers are online (where it says), and the times already scheduled on it."""
    published = [
        PublishedPost(post.published_at or post.created_at, engagement, post.content_type)
        for post, engagement in repo.published_engagement(engine, platform)
    ]
    scheduled = repo.posts_with_status(engine, [PostStatus.scheduled], platform=platform)
    return PostingHistory(
        published=published,
        follower_activity=repo.message_times(engine),
        taken=[p.scheduled_at for p in scheduled if p.scheduled_at],
        audience_hours=repo.audience_hours(engine, platform),
    )
