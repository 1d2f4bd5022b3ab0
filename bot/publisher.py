"""Idempotent publishing of one post: claim the row, call the platform, finish the row.

A post moves scheduled -> publishing in one conditional UPDATE (repo.claim_due_posts claims a
batch, each row on its own condition), so two dispatchers, or two processes, publish it once. If the process dies between the claim and the
finish, the row is found in `publishing` on the next start and we cannot know whether the
platform got it. Then:

- a connector with `idempotent_publish` (the platform deduplicates by the post's publish key,
  which is kept on the row across attempts) gets the same post again with the same key: it is
  published exactly once and not lost;
- any other connector's post is marked failed with "interrupted while publishing" and the owner
  is told to check the platform and /reschedule it if it is not there. Publishing it again
  blindly could post it twice; dropping it silently would lose it.

Finished rows are written in groups (bot/finished_posts.py). So that few posts are ever in doubt,
a publish on a plain platform returns once its row is written; on an idempotent one it returns
when the platform answered, and the row follows with the next group (flush() at stop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from core.config import ScheduleSettings
from core.errors import ConnectorError, RateLimited
from bot.finished_posts import FinishedPosts
from bot.owner_notices import Notify, OwnerNotices
from connectors.base import Connector, OutgoingPost
from storage import repo
from storage.models import Post, PostStatus, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What one publish attempt did. status None: the post was not ours to publish."""

    status: PostStatus | None
    retry_at: datetime | None = None  # set when the post went back to scheduled


INTERRUPTED = "interrupted while publishing: check {platform}; /reschedule {id} WHEN if the post is not there"


class Publisher:
    """Publishes claimed posts through their platform's connector and writes down each outcome."""

    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, Connector],
        settings: ScheduleSettings,
        notify: Notify,
        coming: Mapping[str, Connector] | None = None,
    ) -> None:
        self.engine = engine
        self._connectors = connectors  # those connected now
        # Every connector the bot runs, also those not connected at the moment (down, being
        # retried): their posts wait with the retry backoff instead of failing.
        self._coming = coming if coming is not None else connectors
        self.settings = settings
        self._notices = OwnerNotices(notify)
        self._finished = FinishedPosts(engine)

    async def claim_due(self, now: datetime, *, not_before: datetime, limit: int) -> list[Post]:
        """Claim up to `limit` due posts for publishing (each keeps the key of an earlier claim).

        The caller claims no more than it publishes at once: posts due together wait unclaimed,
        so a crash leaves at most that many in `publishing`. In a thread, like the finishing
        writes, so that the publishes in flight go on meanwhile.
        """
        key = uuid.uuid4().hex
        return await asyncio.to_thread(repo.claim_due_posts, self.engine, now, not_before=not_before, limit=limit, batch_key=key)

    async def publish(self, post: Post) -> Outcome:
        """Publish a post claimed by claim_due, and write down how it went."""
        assert post.id is not None and post.status == PostStatus.publishing
        connector = self._connectors.get(post.platform)
        if connector is None:
            if post.platform in self._coming:
                return await self._retry(post, None, f"{post.platform} is not connected at the moment")
            return await self._fail(post, f"{post.platform} is not connected")
        try:
            platform_id = await connector.publish(OutgoingPost(text=post.text, idempotency_key=post.publish_key))
        except RateLimited as exc:
            return await self._retry(post, exc.retry_after, f"rate limited: {exc}")
        except ConnectorError as exc:
            return await self._fail(post, str(exc))
        except Exception as exc:  # a 5xx, a timeout, a dropped connection: did the platform get it?
            log.warning("publishing post %s: outcome unknown: %r", post.id, exc)
            if connector.idempotent_publish:
                return await self._retry(post, None, f"platform error: {exc!r}")
            return await self._fail(post, INTERRUPTED.format(platform=post.platform, id=post.id) + f" ({exc!r})")
        now = utcnow()
        engagement_at = now + timedelta(hours=self.settings.engagement_after_hours) if connector.reports_engagement else None
        # A platform that deduplicates by key need not hold a slot until the row is written.
        await self._finished.write(repo.Published(post.id, platform_id, now, engagement_at), wait=not connector.idempotent_publish)
        log.info("post %s published on %s as %s", post.id, post.platform, platform_id)
        return Outcome(PostStatus.published)

    async def _retry(self, post: Post, after_s: float | None, error: str) -> Outcome:
        assert post.id is not None
        if post.attempts >= self.settings.max_attempts:
            return await self._fail(post, f"gave up after {post.attempts} attempts; last: {error}")
        delay = after_s if after_s is not None else self.settings.retry_backoff_s * 2 ** (post.attempts - 1)
        at = utcnow() + timedelta(seconds=delay)
        repo.update_post(self.engine, post.id, status=PostStatus.scheduled, scheduled_at=at, error=error)
        log.info("post %s will be retried in %.0f s", post.id, delay)
        return Outcome(PostStatus.scheduled, retry_at=at)

    async def _fail(self, post: Post, error: str) -> Outcome:
        assert post.id is not None
        repo.update_post(self.engine, post.id, status=PostStatus.failed, error=error)
        log.warning("post %s failed: %s", post.id, error)
        await self._notices.tell(post.platform, f"post #{post.id} failed: {error}")
        return Outcome(PostStatus.failed)

    async def flush(self) -> None:
        """Return once every finished publish is written down (at stop)."""
        await self._finished.flush()

    async def recover_interrupted(self) -> list[Post]:
        """Deal with posts a dead process left in `publishing`; returns those to publish again now."""
        again: list[Post] = []
        for post in repo.posts_with_status(self.engine, [PostStatus.publishing]):
            assert post.id is not None
            connector = self._coming.get(post.platform)  # one that is down takes the post again once up
            if connector is None:
                log.warning("post %s was interrupted while publishing; %s is not connected", post.id, post.platform)
            elif connector.idempotent_publish:
                log.info("post %s was interrupted while publishing; retrying with the same key", post.id)
                again.append(repo.update_post(self.engine, post.id, status=PostStatus.scheduled, scheduled_at=utcnow()))
            else:
                await self._fail(post, INTERRUPTED.format(platform=post.platform, id=post.id))
        return again

    def engagement_platforms(self) -> list[str]:
        """The connected platforms that report a post's engagement."""
        return [platform for platform, connector in self._connectors.items() if connector.reports_engagement]

    async def collect_engagement(self, post_id: int) -> None:
        """Store a published post's engagement, where its platform reports it."""
        post = repo.get_post(self.engine, post_id)
        connector = self._connectors.get(post.platform) if post else None
        if post is None or connector is None or not post.platform_post_id:
            return
        counts = await connector.fetch_engagement(post.platform_post_id)
        if counts:
            repo.add_engagement(self.engine, post_id=post_id, interactions=interactions(counts), counts=json.dumps(counts))


# Counts of people seeing a post, not acting on it; used only when a platform reports nothing else.
_AUDIENCE_KEYS = {"views", "impressions", "reach"}


def interactions(counts: Mapping[str, int]) -> int:
    acted = [v for k, v in counts.items() if k not in _AUDIENCE_KEYS]
    return int(sum(acted)) if acted else int(sum(counts.values()))
