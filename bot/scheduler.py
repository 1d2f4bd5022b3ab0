"""Post scheduling: the post table is the schedule; one dispatcher publishes due posts in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import inspect, text, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.config import ScheduleSettings
from core.errors import BotError
from core.platforms import post_problem
from bot.owner_notices import Notify, OwnerNotices
from bot.publisher import Outcome
from bot.when import as_utc
from storage import repo
from storage.models import Post, PostStatus, utcnow

log = logging.getLogger(__name__)

AUDIENCE_SWEEP_S = 12 * 3600
ENGAGEMENT_SWEEP_S = 60  # engagement is fetched about a day after publishing: a minute late is nothing
# The dispatcher sleeps until the next post is due, but looks again at least this often, in case
# the wall clock jumped (a suspended laptop, an NTP step).
_MAX_SLEEP_S = 60.0
# After a claim, the dispatcher waits this long before the next, so that posts coming due one
# after another (167 a second in bench/scheduler.py) are claimed a few per write, not one each.
_CLAIM_GAP_S = 0.02
# Where versions before the post table was the schedule kept a job per post.
_OLD_JOB_TABLE = "apscheduler_jobs"


class Publishing(Protocol):
    """What the scheduler needs of a publisher (bot.publisher.Publisher)."""

    async def claim_due(self, now: datetime, *, not_before: datetime, limit: int) -> list[Post]: ...

    async def publish(self, post: Post) -> Outcome: ...

    async def flush(self) -> None: ...

    async def recover_interrupted(self) -> list[Post]: ...

    def engagement_platforms(self) -> list[str]: ...

    def platforms(self) -> list[str]: ...

    async def collect_audience(self) -> int: ...

    async def collect_engagement(self, post_id: int) -> datetime | None: ...


class PostScheduler:
    """The few scheduler calls the bot needs: schedule, cancel, and start/stop with the app.

    A scheduled post is only its row (status=scheduled, scheduled_at): there is no job per post.
    One dispatcher task sleeps until the earliest due time (or until woken by schedule() or a
    finished publish), claims due posts in batches of at most `parallel_publishes`, and publishes
    them. A post whose time passed more than `grace_minutes` ago, while the bot was down or too
    busy, is marked missed and shown to the owner. APScheduler runs the periodic engagement sweep
    over the post table; it keeps nothing of its own, since every due time is on a post's row.

    Measured with bench/scheduler.py (10,000 posts due over 60 s, SIGKILL halfway, 2 busy cores):
    one APScheduler job per post kept up with about 130 posts/s and was 17 s late at p99; see
    docs/benchmarks.md for this design's figures.
    """

    def __init__(
        self,
        engine: Engine,
        publisher: Publishing,
        settings: ScheduleSettings,
        notify: Notify,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        # What "now" is: the wall clock, or a test's, which moves through weeks without waiting
        # (the dispatcher still sleeps in real seconds; schedule() wakes it).
        self.clock = clock
        self.publisher = publisher
        self.settings = settings
        self._notices = OwnerNotices(notify)
        # A post is due at an instant; give it at least a second of grace to be picked up at all.
        self.grace = max(timedelta(seconds=1), timedelta(minutes=settings.grace_minutes))
        self._aps = AsyncIOScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": ENGAGEMENT_SWEEP_S},
        )
        # We log each post event ourselves; APScheduler's INFO line per run would only add noise.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()
        # When the next post is due, as last read from the table (None: read it again). The
        # dispatcher is woken by every finished publish, and must not query the table each time.
        self._next_due: datetime | None = None

    async def start(self) -> None:
        if self._dispatcher is not None:
            raise RuntimeError("this scheduler is already running")
        self._drop_jobs_per_post()
        self._aps.add_job(
            self.collect_due_engagement, "interval", seconds=ENGAGEMENT_SWEEP_S, id="engagement", replace_existing=True
        )
        # Followers' online hours change slowly (Meta counts them per day): read them soon after start, then twice a day.
        self._aps.add_job(
            self.publisher.collect_audience,
            "interval",
            seconds=AUDIENCE_SWEEP_S,
            next_run_time=utcnow() + timedelta(seconds=ENGAGEMENT_SWEEP_S),
            id="audience",
            replace_existing=True,
        )
        await self.publisher.recover_interrupted()
        await self._mark_missed(self.clock())
        self._aps.start()
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name="post-dispatcher")
        log.info("scheduler started; next post due %s", repo.next_due_at(self.engine))

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Let publishes in flight finish (a cut one would need the owner to check), then stop."""
        if self._dispatcher is None:
            return
        self._dispatcher.cancel()
        await asyncio.gather(self._dispatcher, return_exceptions=True)
        self._dispatcher = None
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                await self.publisher.flush()
        except TimeoutError:  # the rows stay in `publishing`: sent again with their keys on the next start
            log.warning("published posts could not be written down before stopping")
        self._aps.shutdown(wait=False)

    def schedule(self, post_id: int, at: datetime) -> Post:
        """Schedule (or reschedule) a post; writing the row is all it takes, so a crash loses nothing."""
        current = repo.get_post(self.engine, post_id)
        if current is None:
            raise BotError(f"there is no post #{post_id}")
        problem = post_problem(current.platform, len(current.images), self.platforms())
        if problem:
            raise BotError(f"post #{post_id} cannot be scheduled: {problem}")
        post = repo.update_post(
            self.engine,
            post_id,
            status=PostStatus.scheduled,
            scheduled_at=as_utc(at),
            publish_key=None,
            container_id=None,
            attempts=0,
            error=None,
        )
        self._next_due = None  # it may be due before the post we knew of
        self._wake.set()
        return post

    def platforms(self) -> list[str]:
        """The platforms this bot publishes on (connected now or being retried)."""
        return self.publisher.platforms()

    def cancel(self, post_id: int) -> Post:
        return repo.update_post(self.engine, post_id, status=PostStatus.cancelled)

    def _drop_jobs_per_post(self) -> None:
        """Earlier versions kept a job per post in APScheduler's table: a post's row says it all
        now, and an engagement job's time moves onto its post's row. Read as plain rows (id,
        next_run_time), so that the jobs' pickled functions need not exist any more."""
        if not inspect(self.engine).has_table(_OLD_JOB_TABLE):
            return
        with self.engine.begin() as connection:
            for job_id, next_run in connection.execute(text(f"select id, next_run_time from {_OLD_JOB_TABLE}")).all():
                kind, _, post_id = str(job_id).partition(":")
                if kind == "engagement" and post_id.isdigit() and next_run is not None:
                    due = datetime.fromtimestamp(float(next_run), timezone.utc)
                    connection.execute(update(Post).where(col(Post.id) == int(post_id)).values(engagement_due_at=due))
            connection.execute(text(f"delete from {_OLD_JOB_TABLE}"))

    async def _dispatch(self) -> None:
        """Claim due posts while there are free slots; otherwise sleep until the next is due."""
        slots = self.settings.parallel_publishes
        while True:
            self._wake.clear()  # before looking, so a wake-up during the look is not lost
            now = self.clock()
            timeout: float | None = None  # None: every slot is busy, and a finished publish wakes us
            try:
                free = slots - len(self._publishing)
                # Claim a few at a time rather than one per finished publish: a claim is a write.
                limit = free if free >= max(1, slots // 2) else 0
                if limit and (self._next_due is None or self._next_due <= now):
                    claimed = await self.publisher.claim_due(now, not_before=now - self.grace, limit=limit)
                    for post in claimed:
                        self._track(asyncio.get_running_loop().create_task(self._publish(post)))
                    if len(claimed) == limit:
                        self._next_due = None  # more may be due
                        await asyncio.sleep(0)  # let the publishes start before claiming more
                        continue
                    due = repo.next_due_at(self.engine)
                    self._next_due = as_utc(due) if due is not None else now + timedelta(seconds=_MAX_SLEEP_S)
                    if claimed:
                        # Let the next few posts come due, to claim them in one write rather than one each.
                        await asyncio.sleep(_CLAIM_GAP_S)
                        continue
                    if self._next_due <= now:  # due but not claimed: past the grace window
                        await self._mark_missed(now)
                        self._next_due = None
                        continue
                if limit and self._next_due is not None:
                    timeout = min(_MAX_SLEEP_S, (self._next_due - now).total_seconds())
            except Exception:  # a locked or lost database: log it, keep the dispatcher alive, try again
                log.exception("dispatching due posts failed; trying again in a second")
                timeout = 1.0
            try:
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 its inner task can swallow stop()'s cancel
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _track(self, task: asyncio.Task[None]) -> None:
        self._publishing.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._publishing.discard(finished)
            self._wake.set()  # a slot is free, and a retry may have come due

        task.add_done_callback(done)

    async def _mark_missed(self, now: datetime) -> None:
        for post in repo.overdue_posts(self.engine, now - self.grace):
            assert post.id is not None
            repo.update_post(self.engine, post.id, status=PostStatus.missed, error="its time passed while the bot was down")
            log.warning("post %s missed its time", post.id)
            await self._notices.tell(
                post.platform, f"post #{post.id} missed its time while the bot was down; /reschedule {post.id} WHEN"
            )

    async def _publish(self, post: Post) -> None:
        try:
            outcome = await self.publisher.publish(post)
            retry_at = as_utc(outcome.retry_at) if outcome.retry_at is not None else None
            if retry_at is not None and self._next_due is not None and retry_at < self._next_due:
                self._next_due = retry_at  # back to scheduled, and due before the post we knew of
        except Exception:  # the one error hook for publishing: log it, tell the owner, keep running
            log.exception("publishing post %s failed", post.id)
            await self._notices.tell(post.platform, f"something went wrong with post #{post.id}; see the log")

    async def collect_due_engagement(self) -> int:
        """Fetch the engagement of every post whose time for it has come; returns how many were asked."""
        asked = 0
        platforms = self.publisher.engagement_platforms()
        while batch := repo.engagement_due(self.engine, self.clock(), platforms=platforms):
            for post in batch:
                assert post.id is not None
                again: datetime | None = None
                try:
                    again = await self.publisher.collect_engagement(post.id)
                except Exception:
                    log.exception("fetching the engagement of post %s failed; not asked again", post.id)
                finally:
                    repo.update_post(self.engine, post.id, engagement_due_at=again)
                asked += 1
        return asked
