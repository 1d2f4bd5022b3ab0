"""Post jobs on APScheduler, stored in the bot's own database so they survive restarts."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from bot.config import ScheduleSettings
from bot.publisher import Publisher
from bot.when import as_utc
from connectors.base import Connector
from storage import repo
from storage.models import Post, PostStatus, utcnow

log = logging.getLogger(__name__)

# A stored job names its function as text ("bot.scheduler:_run_job"), so it cannot hold the
# running scheduler itself; the job carries this name and looks the scheduler up here.
_RUNNING: dict[str, PostScheduler] = {}


async def _run_job(name: str, kind: str, post_id: int) -> None:
    scheduler = _RUNNING.get(name)
    if scheduler is None:  # fired during shutdown; the next start re-creates the job from the post row
        log.warning("job %s:%s fired with no scheduler %r running", kind, post_id, name)
        return
    await scheduler._fire(kind, post_id)


class PostScheduler:
    """The few scheduler calls the bot needs: schedule, cancel, and start/stop with the app.

    The Post table is the truth; jobs follow it. On start the store is reconciled with the
    table: a missing job is added, a stale one removed, and a post whose time passed more than
    `grace_minutes` ago is marked missed and shown to the owner.
    """

    def __init__(self, engine: Engine, publisher: Publisher, settings: ScheduleSettings, name: str = "bot") -> None:
        self.engine = engine
        self.publisher = publisher
        self.settings = settings
        self.name = name
        self.grace = timedelta(minutes=settings.grace_minutes)
        self._aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            timezone=timezone.utc,
            job_defaults={"misfire_grace_time": max(1, int(self.grace.total_seconds())), "coalesce": True},
        )
        self._aps.add_listener(self._on_missed, EVENT_JOB_MISSED)
        # We log each post event ourselves; APScheduler's INFO line per job would double them.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if _RUNNING.get(self.name) not in (None, self):
            raise RuntimeError(f"a scheduler called {self.name!r} is already running")
        _RUNNING[self.name] = self
        self._aps.start(paused=True)  # reconcile before any job can fire
        await self.publisher.recover_interrupted()
        await self._reconcile()
        self._aps.resume()
        log.info("scheduler started with %d jobs", len(self._aps.get_jobs()))

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Let publishes in flight finish (a cut one would need the owner to check), then stop."""
        if not self._aps.running:
            return
        self._aps.pause()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout_s)
        self._aps.shutdown(wait=False)
        _RUNNING.pop(self.name, None)

    def schedule(self, post_id: int, at: datetime) -> Post:
        """Schedule (or reschedule) a post; the row is written first, so a crash loses nothing."""
        post = repo.update_post(
            self.engine, post_id, status=PostStatus.scheduled, scheduled_at=as_utc(at), publish_key=None, attempts=0, error=None
        )
        self._add_job("post", post_id, as_utc(at))
        return post

    def cancel(self, post_id: int) -> Post:
        post = repo.update_post(self.engine, post_id, status=PostStatus.cancelled)
        self._remove_job(f"post:{post_id}")
        return post

    def _add_job(self, kind: str, post_id: int, at: datetime) -> None:
        self._aps.add_job(
            _run_job, "date", run_date=at, args=(self.name, kind, post_id), id=f"{kind}:{post_id}", replace_existing=True
        )

    def _remove_job(self, job_id: str) -> None:
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    async def _reconcile(self) -> None:
        now = utcnow()
        jobs = {job.id: job for job in self._aps.get_jobs()}
        wanted: set[str] = set()
        for post in repo.posts_with_status(self.engine, [PostStatus.scheduled]):
            assert post.id is not None
            at = as_utc(post.scheduled_at) if post.scheduled_at else now
            if at < now - self.grace:
                await self._mark_missed(post)
                continue
            job_id = f"post:{post.id}"
            wanted.add(job_id)
            job = jobs.get(job_id)
            if job is None or job.next_run_time is None or as_utc(job.next_run_time) != at:
                self._add_job("post", post.id, at)
        for job_id in jobs.keys() - wanted:
            if job_id.startswith("post:"):
                self._aps.remove_job(job_id)

    async def _mark_missed(self, post: Post) -> None:
        assert post.id is not None
        repo.update_post(self.engine, post.id, status=PostStatus.missed, error="its time passed while the bot was down")
        log.warning("post %s missed its time", post.id)
        await self.publisher.tell_owner(
            post.platform, f"post #{post.id} missed its time while the bot was down; /reschedule {post.id} WHEN"
        )

    def _on_missed(self, event: JobExecutionEvent) -> None:
        kind, _, post_id = event.job_id.partition(":")
        if kind != "post":
            return
        post = repo.get_post(self.engine, int(post_id))
        if post is not None and post.status == PostStatus.scheduled:
            self._track(asyncio.get_running_loop().create_task(self._mark_missed(post)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _fire(self, kind: str, post_id: int) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._track(task)  # type: ignore[arg-type]
        try:
            if kind == "post":
                outcome = await self.publisher.publish(post_id)
                if outcome.retry_at is not None:
                    self._add_job("post", post_id, outcome.retry_at)
                elif outcome.status == PostStatus.published and self._has_engagement(post_id):
                    after = timedelta(hours=self.settings.engagement_after_hours)
                    self._add_job("engagement", post_id, utcnow() + after)
            elif kind == "engagement":
                await self.publisher.collect_engagement(post_id)
        except Exception:  # the one error hook for jobs: log it, tell the owner, keep running
            log.exception("job %s:%s failed", kind, post_id)
            post = repo.get_post(self.engine, post_id)
            if post is not None:
                await self.publisher.tell_owner(post.platform, f"something went wrong with post #{post_id}; see the log")

    def _has_engagement(self, post_id: int) -> bool:
        post = repo.get_post(self.engine, post_id)
        connector = self.publisher.connectors.get(post.platform) if post else None
        return connector is not None and type(connector).fetch_engagement is not Connector.fetch_engagement
