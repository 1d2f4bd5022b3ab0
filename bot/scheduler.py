"""Post scheduling: the post table is the schedule; one dispatcher publishes due posts in batches."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from core.config import ScheduleSettings
from bot.publisher import Publisher
from bot.when import as_utc
from storage import repo
from storage.models import Post, PostStatus, utcnow

log = logging.getLogger(__name__)

# A stored job names its function as text ("bot.scheduler:_run_job"), so it cannot hold the
# running scheduler itself; the job carries this name and looks the scheduler up here.
_RUNNING: dict[str, PostScheduler] = {}

ENGAGEMENT_JOB = "engagement"
ENGAGEMENT_SWEEP_S = 60  # engagement is fetched about a day after publishing: a minute late is nothing
# The dispatcher sleeps until the next post is due, but looks again at least this often, in case
# the wall clock jumped (a suspended laptop, an NTP step).
_MAX_SLEEP_S = 60.0


async def _run_job(name: str, kind: str, post_id: int | None = None) -> None:
    scheduler = _RUNNING.get(name)
    if scheduler is None:  # fired during shutdown; the next start sweeps again
        log.warning("job %s fired with no scheduler %r running", kind, name)
        return
    if kind == ENGAGEMENT_JOB:
        await scheduler.collect_due_engagement()


class PostScheduler:
    """The few scheduler calls the bot needs: schedule, cancel, and start/stop with the app.

    A scheduled post is only its row (status=scheduled, scheduled_at): there is no job per post.
    One dispatcher task sleeps until the earliest due time (or until woken by schedule() or a
    finished publish), claims due posts in batches of at most `parallel_publishes`, and publishes
    them. A post whose time passed more than `grace_minutes` ago, while the bot was down or too
    busy, is marked missed and shown to the owner. APScheduler, with its job store in the same
    database, runs the periodic engagement sweep over the post table.

    Measured with bench/scheduler.py (10,000 posts due over 60 s, SIGKILL halfway, 2 busy cores):
    one APScheduler job per post kept up with about 130 posts/s and was 17 s late at p99; see the
    README for this design's figures.
    """

    def __init__(self, engine: Engine, publisher: Publisher, settings: ScheduleSettings, name: str = "bot") -> None:
        self.engine = engine
        self.publisher = publisher
        self.settings = settings
        self.name = name
        # A post is due at an instant; give it at least a second of grace to be picked up at all.
        self.grace = max(timedelta(seconds=1), timedelta(minutes=settings.grace_minutes))
        self._aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": ENGAGEMENT_SWEEP_S},
        )
        # We log each post event ourselves; APScheduler's INFO line per run would only add noise.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if _RUNNING.get(self.name) not in (None, self):
            raise RuntimeError(f"a scheduler called {self.name!r} is already running")
        _RUNNING[self.name] = self
        self._aps.start(paused=True)  # tidy the store before any job can fire
        self._drop_jobs_per_post()
        self._aps.add_job(
            _run_job, "interval", seconds=ENGAGEMENT_SWEEP_S, args=(self.name, ENGAGEMENT_JOB),
            id=ENGAGEMENT_JOB, replace_existing=True,
        )
        await self.publisher.recover_interrupted()
        await self._mark_missed(utcnow())
        self._aps.resume()
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"post-dispatcher-{self.name}")
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
        self._aps.shutdown(wait=False)
        _RUNNING.pop(self.name, None)

    def schedule(self, post_id: int, at: datetime) -> Post:
        """Schedule (or reschedule) a post; writing the row is all it takes, so a crash loses nothing."""
        post = repo.update_post(
            self.engine, post_id, status=PostStatus.scheduled, scheduled_at=as_utc(at), publish_key=None, attempts=0, error=None
        )
        self._wake.set()
        return post

    def cancel(self, post_id: int) -> Post:
        return repo.update_post(self.engine, post_id, status=PostStatus.cancelled)

    def _drop_jobs_per_post(self) -> None:
        """Remove the jobs per post that earlier versions kept: their posts' rows say it all."""
        for job in self._aps.get_jobs():
            kind, _, post_id = job.id.partition(":")
            if kind == "engagement" and post_id.isdigit() and job.next_run_time is not None:
                post = repo.get_post(self.engine, int(post_id))
                if post is not None:
                    repo.update_post(self.engine, post.id, engagement_due_at=as_utc(job.next_run_time))  # type: ignore[arg-type]
            if kind in ("post", "engagement") and post_id:
                self._aps.remove_job(job.id)

    async def _dispatch(self) -> None:
        """Claim due posts while there are free slots; otherwise sleep until the next is due."""
        slots = self.settings.parallel_publishes
        while True:
            self._wake.clear()  # before looking, so a wake-up during the look is not lost
            now = utcnow()
            try:
                free = slots - len(self._publishing)
                # Claim a few at a time rather than one per finished publish: a claim is a write.
                claimable = free if free >= max(1, slots // 2) else 0
                claimed = self.publisher.claim_due(now, not_before=now - self.grace, limit=claimable) if claimable else []
                for post in claimed:
                    self._track(asyncio.get_running_loop().create_task(self._publish(post)))
                if claimed:
                    await asyncio.sleep(0)  # let the publishes start before claiming more
                    continue
                timeout: float | None = None
                if claimable:
                    due = repo.next_due_at(self.engine)
                    timeout = min(_MAX_SLEEP_S, (as_utc(due) - now).total_seconds()) if due is not None else _MAX_SLEEP_S
                    if timeout <= 0:  # due but not claimable: past the grace window
                        await self._mark_missed(now)
                        continue
            except Exception:  # a locked or lost database: log it, keep the dispatcher alive, try again
                log.exception("dispatching due posts failed; trying again in a second")
                timeout = 1.0
            try:  # timeout None: every slot is busy, and a finished publish wakes us
                async with asyncio.timeout(timeout):  # not wait_for: on 3.11 its inner task can swallow stop()'s cancel
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _mark_missed(self, now: datetime) -> None:
        for post in repo.overdue_posts(self.engine, now - self.grace):
            assert post.id is not None
            repo.update_post(self.engine, post.id, status=PostStatus.missed, error="its time passed while the bot was down")
            log.warning("post %s missed its time", post.id)
            await self.publisher.tell_owner(
                post.platform, f"post #{post.id} missed its time while the bot was down; /reschedule {post.id} WHEN"
            )

    def _track(self, task: asyncio.Task[None]) -> None:
        self._publishing.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._publishing.discard(finished)
            self._wake.set()  # a slot is free, and a retry may have come due

        task.add_done_callback(done)

    async def _publish(self, post: Post) -> None:
        try:
            await self.publisher.publish(post)
        except Exception:  # the one error hook for publishing: log it, tell the owner, keep running
            log.exception("publishing post %s failed", post.id)
            await self.publisher.tell_owner(post.platform, f"something went wrong with post #{post.id}; see the log")

    async def collect_due_engagement(self) -> int:
        """Fetch the engagement of every post whose time for it has come; returns how many were asked."""
        asked = 0
        platforms = list(self.publisher.connectors)
        while batch := repo.engagement_due(self.engine, utcnow(), platforms=platforms):
            for post in batch:
                assert post.id is not None
                try:
                    await self.publisher.collect_engagement(post.id)
                except Exception:
                    log.exception("fetching the engagement of post %s failed; not asked again", post.id)
                finally:
                    repo.update_post(self.engine, post.id, engagement_due_at=None)
                asked += 1
        return asked
