"""The calendar's shape: a week of hours or a month of days in the account's zone, the posts in each, the heatmap levels."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from core.times import as_utc
from storage.models import Post, PostStatus

# What the calendar shows: drafts live on the Drafts page, cancelled posts nowhere.
SHOWN = (PostStatus.scheduled, PostStatus.publishing, PostStatus.published, PostStatus.failed, PostStatus.missed)
HEAT_LEVELS = 6  # heat-0 .. heat-5 in views.css
MONTH_CHIPS = 4  # posts shown in a day of the month view; the week view has them all


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC (a day whose midnight the clocks skip starts at 01:00)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def moment(post: Post) -> datetime:
    """When a post went out, else when it is (or was) due: where the calendar puts it."""
    at = post.published_at or post.scheduled_at or post.created_at
    return as_utc(at)


@dataclass
class Hour:
    day: date
    hour: int
    heat: int | None = None  # HEAT_LEVELS steps of the predicted engagement; None without a model
    predicted: float | None = None  # expected interactions
    pick: bool = False
    past: bool = False
    posts: list[Post] = field(default_factory=list)


@dataclass
class Week:
    start: date  # a Monday
    days: list[date]
    rows: list[list[Hour]]  # rows[hour][weekday]
    posts: list[Post]

    @property
    def previous(self) -> date:
        return self.start - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.start + timedelta(days=7)


@dataclass
class Day:
    day: date
    in_month: bool
    today: bool
    posts: list[Post] = field(default_factory=list)

    @property
    def shown(self) -> list[Post]:
        """Those that need the owner first (failed, missed, scheduled), then published, at most MONTH_CHIPS."""
        return sorted(self.posts, key=lambda p: (p.status == PostStatus.published, moment(p)))[:MONTH_CHIPS]

    @property
    def more(self) -> int:
        return max(0, len(self.posts) - MONTH_CHIPS)


@dataclass
class Month:
    first: date
    weeks: list[list[Day]]
    posts: list[Post]

    @property
    def previous(self) -> date:
        return (self.first - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1)


def week_range(start: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return local_midnight(start, zone), local_midnight(start + timedelta(days=7), zone)


def month_grid_range(first: date, zone: ZoneInfo) -> tuple[date, date, datetime, datetime]:
    """The Monday before the month's first day to the Sunday after its last, as days and UTC bounds."""
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    grid_start = monday_of(first)
    grid_end = monday_of(last) + timedelta(days=7)
    return grid_start, grid_end, local_midnight(grid_start, zone), local_midnight(grid_end, zone)


def heat_levels(predict: Callable[[int, int], float], measured: bool) -> list[list[tuple[int, float | None]]]:
    """[weekday][hour] -> (level, expected interactions) from the model's log1p predictions; without
    measured posts (`measured` false) the levels follow the prior alone and no number is claimed."""
    values = [[math.expm1(predict(w, h)) for h in range(24)] for w in range(7)]
    low, high = min(map(min, values)), max(map(max, values))
    spread = high - low
    return [
        [(min(HEAT_LEVELS - 1, int((v - low) / spread * HEAT_LEVELS)) if spread > 1e-9 else 0, v if measured else None) for v in row]
        for row in values
    ]


def build_week(
    start: date,
    zone: ZoneInfo,
    posts: Sequence[Post],
    heat: list[list[tuple[int, float | None]]] | None,
    pick: datetime | None,
    now: datetime,
) -> Week:
    days = [start + timedelta(days=i) for i in range(7)]
    local_now = now.astimezone(zone)
    hour_now = (local_now.date(), local_now.hour)
    rows = [[Hour(day, hour, past=(day, hour) < hour_now) for day in days] for hour in range(24)]
    for weekday in range(7):
        for hour in range(24):
            if heat is not None:
                rows[hour][weekday].heat, rows[hour][weekday].predicted = heat[weekday][hour]
    for post in posts:
        local = moment(post).astimezone(zone)
        offset = (local.date() - start).days
        if 0 <= offset < 7:
            rows[local.hour][offset].posts.append(post)
    if pick is not None:
        local = pick.astimezone(zone)
        offset = (local.date() - start).days
        if 0 <= offset < 7:
            rows[local.hour][offset].pick = True
    return Week(start, days, rows, list(posts))


def build_month(first: date, zone: ZoneInfo, posts: Sequence[Post], today: date) -> Month:
    grid_start, grid_end, _, _ = month_grid_range(first, zone)
    days = [grid_start + timedelta(days=i) for i in range((grid_end - grid_start).days)]
    cells = {d: Day(d, d.month == first.month, d == today) for d in days}
    for post in posts:
        local_day = moment(post).astimezone(zone).date()
        if local_day in cells:
            cells[local_day].posts.append(post)
    weeks = [[cells[d] for d in days[i : i + 7]] for i in range(0, len(days), 7)]
    in_month = [p for p in posts if moment(p).astimezone(zone).date().month == first.month]
    return Month(first, weeks, in_month)
