"""Choosing when a post goes out: the timing model's best free hour in a window, or the next free queue slot."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from brain.timing import EngagementModel, Observation, local_slot
from core.config import ScheduleSettings
from core.errors import BotError
from core.times import BadTime, as_utc, local_to_utc


@dataclass(frozen=True)
class PublishedPost:
    """One of the account's published posts, as the timing model learns from it."""

    published_at: datetime
    engagement: float
    content_type: str = ""


@dataclass(frozen=True)
class PostingHistory:
    """What a choice of time rests on, for one platform; every time in UTC."""

    published: Sequence[PublishedPost] = ()
    follower_activity: Sequence[datetime] = ()  # when followers wrote to the account: the model's prior
    taken: Collection[datetime] = ()  # times already scheduled on the platform
    # Followers online at each UTC hour, where the platform reports it (Instagram): a better prior
    # than when followers write, and used instead of it.
    audience_hours: Mapping[int, int] = field(default_factory=dict)


# The audience hours enter the model as samples of activity, this many on the busiest hour of each
# weekday and proportionally fewer elsewhere: enough that the model's log(count + 1) follows the
# shape of the followers' hours, not the +1.
AUDIENCE_SAMPLES = 100


def audience_activity(hours: Mapping[int, int], zone: ZoneInfo, week_of: datetime) -> list[tuple[int, int]]:
    """Followers-online hours (UTC) as (local weekday, local hour) samples over the week of `week_of`."""
    peak = max(hours.values(), default=0)
    if peak <= 0:
        return []
    start = as_utc(week_of).replace(hour=0, minute=0, second=0, microsecond=0)
    samples: list[tuple[int, int]] = []
    for day in range(7):
        for hour, online in hours.items():
            at = start + timedelta(days=day, hours=hour)
            samples.extend([local_slot(at, zone)] * round(AUDIENCE_SAMPLES * online / peak))
    return samples


class SlotChooser:
    """Picks times in the account's zone within [schedule] best_hours and [schedule.slots]."""

    def __init__(self, schedule: ScheduleSettings, zone: ZoneInfo, rng: np.random.Generator | None = None) -> None:
        self.schedule = schedule
        self.zone = zone
        self.rng = rng or np.random.default_rng()

    def timing_model(self, history: PostingHistory) -> EngagementModel:
        """Fitted on the platform's published posts; the prior from when its followers are online
        (where the platform says), else from when followers write."""
        observations = [
            Observation(*local_slot(as_utc(p.published_at), self.zone), p.engagement, p.content_type) for p in history.published
        ]
        activity = [local_slot(as_utc(t), self.zone) for t in history.follower_activity]
        audience = audience_activity(history.audience_hours, self.zone, datetime.now(self.zone))
        if audience:
            activity = audience
        types = tuple(sorted({o.content_type for o in observations if o.content_type}))
        model = EngagementModel(types=types).fit(observations, activity)
        model.audience_prior = bool(audience)
        return model

    def best_slot(
        self, history: PostingHistory, start: datetime, end: datetime, content_type: str = ""
    ) -> tuple[datetime, str]:
        """The model's pick among the whole local hours in [start, end), within [schedule]
        best_hours, not already taken; with one line on why."""
        taken = {as_utc(t) for t in history.taken}
        candidates: list[datetime] = []
        first, last = self.schedule.best_hours
        at = as_utc(start).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while at < end:
            local_hour = at - timedelta(minutes=at.astimezone(self.zone).minute)  # zones offset by :30 or :45
            hour = local_hour.astimezone(self.zone).hour
            if local_hour >= start and local_hour not in taken and first <= hour <= last:
                candidates.append(local_hour)
            at += timedelta(hours=1)
        if not candidates:
            raise BadTime(f"no free hour in that window between {first}:00 and {last}:00 ([schedule] best_hours)")
        model = self.timing_model(history)
        slots = [local_slot(c, self.zone) for c in candidates]
        pick = model.choose(slots, self.rng, content_type)
        return candidates[pick], model.explain(*slots[pick], content_type)

    def next_free_slot(
        self, platform: str, history: PostingHistory, now: datetime, content_type: str = ""
    ) -> tuple[datetime, str]:
        """The first [schedule.slots] time of the platform after `now` that no post takes yet; a
        "best" slot is the model's pick of that day."""
        slots = self.schedule.slots.get(platform)
        if not slots:
            raise BotError(f"no queue slots for {platform}: add them under [schedule.slots] in config.toml")
        taken = [as_utc(t) for t in history.taken]
        today = now.astimezone(self.zone).date()
        for offset in range(366):
            day = today + timedelta(days=offset)
            fixed = []
            for slot in slots:
                if slot != "best":
                    try:
                        fixed.append(local_to_utc(day, time.fromisoformat(slot), self.zone))
                    except BadTime:  # the clocks skip this slot today (DST)
                        continue
            for at in sorted(fixed):
                if at > now and at not in taken:
                    return at, "next free queue slot"
            on_day = [t for t in taken if t.astimezone(self.zone).date() == day and t not in fixed]
            if slots.count("best") > len(on_day):
                start = max(now + timedelta(minutes=5), local_to_utc(day, time(0), self.zone))
                end = local_to_utc(day + timedelta(days=1), time(0), self.zone)
                if start < end:
                    try:
                        return self.best_slot(history, start, end, content_type)
                    except BadTime:
                        continue
        raise BotError("the queue is full for the next year")
