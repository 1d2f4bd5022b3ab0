"""Times the owner types and reads, in the account's time zone; everything stored is UTC."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.times import BadTime, account_zone, as_utc, local_to_utc

__all__ = ["WHEN_HELP", "BadTime", "account_zone", "as_utc", "local_to_utc", "parse_when", "show"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WHEN_HELP = "a time like '2026-12-01 18:00', 'today 18:00', 'tomorrow 9:30', 'fri 18:00', 'in 2h' or 'in 45m'"


def _clock(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?", text)
    if not match or int(match[1]) > 23 or int(match[2] or 0) > 59:
        raise BadTime(f"{text!r} is not a time of day (HH:MM)")
    return time(int(match[1]), int(match[2] or 0))


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """Read the owner's time in the account's zone; returns UTC. Raises BadTime."""
    words = text.strip().lower().split()
    local_now = now.astimezone(zone)
    if len(words) == 2 and words[0] == "in":
        match = re.fullmatch(r"(\d+)(s|m|min|h|d)", words[1])
        if not match:
            raise BadTime(f"cannot read {text!r}; try {WHEN_HELP}")
        unit = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days"}[match[2]]
        return as_utc(now) + timedelta(**{unit: int(match[1])})
    if len(words) != 2:
        raise BadTime(f"cannot read {text!r}; try {WHEN_HELP}")
    day_word, clock = words[0], _clock(words[1])
    if day_word == "today":
        day = local_now.date()
    elif day_word == "tomorrow":
        day = local_now.date() + timedelta(days=1)
    elif day_word[:3] in WEEKDAYS:
        ahead = (WEEKDAYS.index(day_word[:3]) - local_now.weekday()) % 7
        day = local_now.date() + timedelta(days=ahead)
        if ahead == 0 and clock <= local_now.time():
            day += timedelta(days=7)
    else:
        try:
            day = date.fromisoformat(day_word)
        except ValueError:
            raise BadTime(f"cannot read {text!r}; try {WHEN_HELP}") from None
    return local_to_utc(day, clock, zone)


def show(moment: datetime, zone: ZoneInfo) -> str:
    """A stored UTC time as the owner reads it: 'Tue 2026-12-01 18:00 CET'."""
    return as_utc(moment).astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
