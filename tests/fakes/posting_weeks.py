"""Weeks of posting in seconds: the real scheduler, publisher and Mastodon connector, a fake
Mastodon whose audience reacts by the hour a status was created, and one clock that they all read
and that jumps ahead instead of waiting. The best-time model's whole learning loop, for
tests/bot/test_learning_loop.py and bench/best_time.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.engine import Engine

from bot.posting_history import posting_history
from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from brain.slots import SlotChooser
from connectors.mastodon import MastodonConnector
from core.config import MastodonSettings, ScheduleSettings
from core.times import as_utc
from fakes.mastodon_api import TOKEN, Audience, FakeMastodon
from storage import repo
from storage.models import PostStatus

PLATFORM = "mastodon"


class Clock:
    """The time the scheduler, the publisher and the fake server all read; the run moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class PostingWeeks:
    engine: Engine
    clock: Clock
    fake: FakeMastodon
    scheduler: PostScheduler
    chooser: SlotChooser
    connector: MastodonConnector
    told: list[str] = field(default_factory=list)  # what the owner was told (failures)

    async def sweep_until(self, moment: datetime) -> None:
        """Run the engagement sweep at every due time up to `moment`, as the running bot's
        minutely sweep would, then set the clock to `moment`."""
        while first := repo.engagement_due(self.engine, moment, platforms=[PLATFORM], limit=1):
            assert first[0].engagement_due_at is not None
            self.clock.at = max(self.clock.at, as_utc(first[0].engagement_due_at))
            await self.scheduler.collect_due_engagement()
        self.clock.at = moment

    async def post_on_day(self, midnight: datetime, text: str, timeout_s: float = 30.0) -> datetime:
        """One post in the local day that starts at `midnight`, at the model's pick of its hours
        (refitted on every published post's latest engagement), published by the scheduler."""
        await self.sweep_until(midnight)
        at, _ = self.chooser.best_slot(posting_history(self.engine, PLATFORM), midnight, midnight + timedelta(days=1))
        post = repo.add_post(self.engine, platform=PLATFORM, text=text)
        assert post.id is not None
        await self.sweep_until(at)
        self.scheduler.schedule(post.id, at)
        async with asyncio.timeout(timeout_s):
            while (row := repo.get_post(self.engine, post.id)) is None or row.status != PostStatus.published:
                if row is not None and row.status == PostStatus.failed:
                    raise AssertionError(f"post {post.id} failed: {row.error}")
                await asyncio.sleep(0.002)
        return at


@asynccontextmanager
async def posting_weeks(
    engine: Engine, schedule: ScheduleSettings, zone: ZoneInfo, start: datetime, audience: Audience, rng: np.random.Generator
) -> AsyncIterator[PostingWeeks]:
    clock = Clock(start)
    fake = FakeMastodon(clock=clock, audience=audience)
    await fake.start()
    # No send limits: the fake is local, and the clock, not the wall, says how time passes.
    settings = MastodonSettings(api_base_url=fake.url, streaming=False, overall_per_s=1e6, per_chat_per_s=1e6)
    connector = MastodonConnector(settings, env={settings.access_token_env: TOKEN})
    run_told: list[str] = []

    async def notify(platform: str, text: str) -> None:
        run_told.append(text)

    publisher = Publisher(engine, {PLATFORM: connector}, schedule, notify, clock=clock)
    scheduler = PostScheduler(engine, publisher, schedule, notify, clock=clock)
    await scheduler.start()
    try:
        yield PostingWeeks(engine, clock, fake, scheduler, SlotChooser(schedule, zone, rng), connector, run_told)
    finally:
        await scheduler.stop()
        connector.client.session.close()
        await fake.stop()
