"""Idempotent publishing of one post: claim the row, call the platform, finish the row.

A post moves scheduled -> publishing in one conditional UPDATE (repo.claim_due_posts claims a
batch, each row on its own condition), so two dispatchers, or two processes, publish it once. If the process dies between the claim and the
finish, the row is found in `publishing` on the next start and we cannot know whether the
platform got it. Then:

- a connector with `idempotent_publish` (the platform deduplicates by the post's publish key,
  which is kept on the row across attempts) gets the same post again with the same key: it is
  published exactly once and not lost; so does a post published in two steps (Instagram's
  container, Facebook's unpublished photos): the first step is kept on the row and shows nothing,
  and the second finds what it published before;
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
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from core.config import ScheduleSettings
from core.errors import ConnectorError, RateLimited
from core.times import as_utc
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
        clock: Callable[[], datetime] = utcnow,
        coming: Mapping[str, Connector] | None = None,
    ) -> None:
        self.engine = engine
        self._connectors = connectors  # those connected now
        # Every connector the bot runs, also those not connected at the moment (down, being
        # retried): their posts wait with the retry backoff instead of failing.
        self._coming = coming if coming is not None else connectors
        self.settings = settings
        self.clock = clock  # the time that publishes and engagement are written down with; tests move it
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
        missing = next((i for i in post.images if "://" not in i and not os.path.isfile(i)), None)
        if missing:
            return await self._fail(
                post, f"its image {missing} is missing; put it back, or /image {post.id} none, then /reschedule {post.id} WHEN"
            )
        out = outgoing(post)
        try:
            platform_id = await self._publish(connector, post, out)
        except RateLimited as exc:
            return await self._retry(post, exc.retry_after, f"rate limited: {exc}")
        except ConnectorError as exc:
            return await self._fail(post, str(exc))
        except Exception as exc:  # a 5xx, a timeout, a dropped connection: did the platform get it?
            log.warning("publishing post %s: outcome unknown: %r", post.id, exc)
            if resumable(connector, out):
                return await self._retry(post, None, f"platform error: {exc!r}")
            return await self._fail(post, INTERRUPTED.format(platform=post.platform, id=post.id) + f" ({exc!r})")
        now = self.clock()
        engagement_at = now + timedelta(hours=self.settings.engagement_after_hours) if connector.reports_engagement else None
        # A post that cannot be published twice need not hold a slot until the row is written.
        await self._finished.write(repo.Published(post.id, platform_id, now, engagement_at), wait=not resumable(connector, out))
        log.info("post %s published on %s as %s", post.id, post.platform, platform_id)
        return Outcome(PostStatus.published)

    async def _publish(self, connector: Connector, post: Post, out: OutgoingPost) -> str:
        if not connector.in_two_steps(out):
            return await connector.publish(out)
        assert post.id is not None
        prepared = post.container_id
        if not prepared:
            prepared = await connector.prepare(out)
            # Written before the second step: a crash after this resumes from it, never prepares twice.
            repo.update_post(self.engine, post.id, container_id=prepared)
        return await connector.publish_prepared(prepared, out)

    async def _retry(self, post: Post, after_s: float | None, error: str) -> Outcome:
        assert post.id is not None
        if post.attempts >= self.settings.max_attempts:
            return await self._fail(post, f"gave up after {post.attempts} attempts; last: {error}")
        delay = after_s if after_s is not None else self.settings.retry_backoff_s * 2 ** (post.attempts - 1)
        at = self.clock() + timedelta(seconds=delay)
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
            elif resumable(connector, outgoing(post)):
                log.info("post %s was interrupted while publishing; publishing it again, once", post.id)
                again.append(repo.update_post(self.engine, post.id, status=PostStatus.scheduled, scheduled_at=self.clock()))
            else:
                await self._fail(post, INTERRUPTED.format(platform=post.platform, id=post.id))
        return again

    def platforms(self) -> list[str]:
        """Every platform the bot runs, also one not connected at the moment: those it can publish on."""
        return sorted(self._coming)

    def engagement_platforms(self) -> list[str]:
        """The connected platforms that report a post's engagement."""
        return [platform for platform, connector in self._connectors.items() if connector.reports_engagement]

    async def collect_audience(self) -> int:
        """Store each connected platform's follower count and followers-online hours where it
        reports them; returns how many of those it stored."""
        stored = 0
        for platform, connector in self._connectors.items():
            try:
                followers = await connector.fetch_follower_count()
                if followers is not None:
                    await asyncio.to_thread(repo.set_follower_count, self.engine, platform, followers, self.clock())
                    stored += 1
                hours = await connector.fetch_audience_hours()
            except Exception:
                log.exception("fetching %s's followers failed", platform)
                continue
            if hours:
                await asyncio.to_thread(repo.set_audience_hours, self.engine, platform, hours)
                stored += 1
        return stored

    async def collect_engagement(self, post_id: int) -> datetime | None:
        """Store a published post's engagement, where its platform reports it; returns when to ask
        again (None: no more).

        Engagement grows for a while after publishing: it is asked for `engagement_after_hours`
        after publishing, then again at 3x and 9x that time, up to `engagement_fetches` times, and
        no more once a fetch finds it no larger than the one before. The timing model learns from
        the latest sample of each post."""
        post = repo.get_post(self.engine, post_id)
        connector = self._connectors.get(post.platform) if post else None
        if post is None or connector is None or not post.platform_post_id:
            return None
        counts = await connector.fetch_engagement(post.platform_post_id)
        if counts is None:  # the post is gone
            return None
        earlier = repo.engagement_samples(self.engine, post_id)
        total = interactions(counts)
        repo.add_engagement(self.engine, post_id=post_id, interactions=total, counts=json.dumps(counts), fetched_at=self.clock())
        fetches = len(earlier) + 1
        if fetches >= self.settings.engagement_fetches or (earlier and total <= earlier[-1].interactions):
            return None
        published_at = as_utc(post.published_at or post.created_at)
        return published_at + timedelta(hours=self.settings.engagement_after_hours * 3**fetches)


def outgoing(post: Post) -> OutgoingPost:
    """A post row as its connector publishes it."""
    images = post.images
    return OutgoingPost(
        text=post.text,
        image_path=images[0] if images else None,
        image_alt=post.image_alt,
        more_images=tuple(images[1:]),
        idempotency_key=post.publish_key,
    )


def resumable(connector: Connector, post: OutgoingPost) -> bool:
    """Whether publishing this post again after an unknown outcome publishes it once: the platform
    deduplicates by key, or the post goes out in two steps whose second finds its earlier self."""
    return connector.idempotent_publish or connector.in_two_steps(post)


# Counts of people seeing a post, not acting on it; used only when a platform reports nothing else.
_AUDIENCE_KEYS = {"views", "impressions", "reach"}


def interactions(counts: Mapping[str, int]) -> int:
    acted = [v for k, v in counts.items() if k not in _AUDIENCE_KEYS]
    return int(sum(acted)) if acted else int(sum(counts.values()))
