"""The best-time model learns from real engagement, end to end: posts published over simulated
weeks through the real scheduler and publisher to a fake Mastodon whose audience rewards one hour
of the week, their favourites, boosts and replies fetched while they grow, the model refitted on
every pick, and its picks moving to that hour. The clock is the run's: weeks pass in seconds."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from bot.commands import CommandContext
from bot.post_commands import PostCommands
from bot.posting_history import posting_history
from brain.slots import SlotChooser
from brain.timing import local_slot
from connectors.base import IncomingMessage
from core.addressing import MessageKind, ReplyAddress, Visibility
from core.config import Settings, load_settings
from core.times import account_zone
from fakes.console_app import stand_in_brain
from fakes.posting_weeks import posting_weeks
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus

ZONE = account_zone("Europe/Berlin")
START = datetime(2026, 1, 5, 0, 0, tzinfo=ZONE).astimezone(timezone.utc)  # a Monday; no DST change for weeks
BEST_DAY, BEST_HOUR = 3, 19  # Thursday 19:00 local: when this audience engages most
FOLLOWERS_WRITE_AT = 9  # ...but they write to the shop in the morning: the model's prior points there
DAYS = 28


def expected_engagement(created: datetime) -> float:
    """The audience: an evening peak at BEST_HOUR, strongest on BEST_DAY; a few likes otherwise."""
    weekday, hour = local_slot(created, ZONE)
    gap = min(abs(hour - BEST_HOUR), 24 - abs(hour - BEST_HOUR))
    return 4.0 * math.exp(1.6 * math.exp(-0.5 * (gap / 1.5) ** 2) + (0.8 if weekday == BEST_DAY else 0.0))


def audience(status_id: str, created: datetime, now: datetime) -> dict[str, int]:
    """Counts grow over the first day or two after posting, then stay; each post has its own noise."""
    rng = np.random.default_rng(int(status_id) % 2**32)
    final = rng.poisson(expected_engagement(created) * rng.lognormal(-0.08, 0.4))
    grown = final * (1 - math.exp(-max((now - created).total_seconds(), 0) / 3600 / 12))
    favourites, boosts = int(grown * 0.6), int(grown * 0.3)
    return {"favourites_count": favourites, "reblogs_count": boosts, "replies_count": int(grown) - favourites - boosts}


def berlin(config_file: Path) -> Settings:
    config_file.write_text(config_file.read_text().replace('log_level = "DEBUG"', 'log_level = "INFO"\ntimezone = "Europe/Berlin"'))
    return load_settings(config_file)


def followers_wrote_in_the_morning(engine: Engine, days: int = 10) -> None:
    """Followers write all day long, more in the morning: the model's prior leans there."""
    contact = repo.get_or_create_contact(engine, "mastodon", "2001", "fan")
    assert contact.id is not None
    hours = [*range(8, 22), FOLLOWERS_WRITE_AT, FOLLOWERS_WRITE_AT]
    for day in range(days):
        for n, hour in enumerate(hours):
            at = START - timedelta(days=day + 1) + timedelta(hours=hour, minutes=n)
            repo.add_message(engine, platform="mastodon", platform_message_id=f"m{day}-{n}", contact_id=contact.id, text="hi", received_at=at)


def best_of_week(engine: Engine, chooser: SlotChooser) -> tuple[int, int]:
    """The (weekday, hour) the model expects most of, among the hours it may pick from."""
    model = chooser.timing_model(posting_history(engine, "mastodon"))
    first, last = chooser.schedule.best_hours
    return max(((d, h) for d in range(7) for h in range(first, last + 1)), key=lambda s: model.predict(*s))


def is_peak(slot: tuple[int, int]) -> bool:
    return abs(slot[1] - BEST_HOUR) <= 1


async def test_picks_move_to_the_hour_the_audience_rewards(config_file: Path) -> None:
    settings = berlin(config_file)
    engine = make_engine(settings.database_url)
    followers_wrote_in_the_morning(engine)
    picks: list[tuple[int, int]] = []
    async with posting_weeks(engine, settings.schedule, ZONE, START, audience, np.random.default_rng(7)) as run:
        before = best_of_week(engine, run.chooser)
        for day in range(DAYS):  # a post a day, at the hour the model picks for that day
            at = await run.post_on_day(START + timedelta(days=day), f"Fresh bread, day {day}")
            picks.append(local_slot(at, ZONE))
        owner = IncomingMessage("mastodon", "m-owner", "boss", "/besttime", ReplyAddress(MessageKind.private, Visibility.direct, "boss", "m-owner"))
        commands = PostCommands(engine, stand_in_brain(settings), run.scheduler, settings)
        besttime_at_once = await commands.besttime(CommandContext(owner, run.connector, "@mastodon"))
        await run.sweep_until(START + timedelta(days=DAYS + 20))  # the last posts' engagement comes in too
        after = best_of_week(engine, run.chooser)
        besttime = await commands.besttime(CommandContext(owner, run.connector, "@mastodon"))
        told, posted = run.told, run.fake.posted()

    posts = repo.list_posts(engine, limit=100)
    assert [p.status for p in posts] == [PostStatus.published] * DAYS and not told and len(posted) == DAYS
    # Engagement was asked for again while it grew, and no more once it stopped (or at the limit).
    fetches = [len(repo.engagement_samples(engine, p.id)) for p in posts if p.id is not None]
    assert min(fetches) >= 2 and max(fetches) <= settings.schedule.engagement_fetches
    assert all(p.engagement_due_at is None for p in posts)
    learned = posting_history(engine, "mastodon").published
    assert len(learned) == DAYS and sum(p.engagement for p in learned) > 0
    engine.dispose()

    assert before[1] == FOLLOWERS_WRITE_AT  # before any post: the hour followers write in
    first_week, last_two_weeks = picks[:7], picks[-14:]
    assert sum(map(is_peak, first_week)) <= 2, first_week
    assert sum(map(is_peak, last_two_weeks)) >= 10, last_two_weeks
    assert after == (BEST_DAY, BEST_HOUR), after  # the model's own best hour of the week, after learning
    assert f"from {DAYS} posts" in besttime and f"rests on {DAYS} of your own posts on mastodon" in besttime, besttime
    assert "not in yet" not in besttime
    # Right after the last post, its engagement is not fetched yet: said, and not counted.
    counted = re.search(r"rests on (\d+) of your own posts on mastodon \(their engagement\); (\d+) more posts? whose", besttime_at_once)
    assert counted is not None and int(counted[2]) >= 1 and int(counted[1]) + int(counted[2]) == DAYS, besttime_at_once
