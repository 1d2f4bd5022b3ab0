"""Time zones and stored times: every time stored is UTC; the account's zone is what the owner reads."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BotError, ConfigError


class BadTime(BotError):
    """A time could not be read, does not exist in the account's time zone, or no time fits."""


def account_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[bot] timezone {name!r} is not an IANA time zone name") from None


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; every one we store is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def local_to_utc(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in the zone, as UTC.

    DST: a time skipped when clocks go forward does not exist and is refused; a time that
    happens twice when clocks go back means the first of the two (fold=0).
    """
    wall = datetime.combine(day, clock, tzinfo=zone)
    utc = wall.astimezone(timezone.utc)
    if utc.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
        raise BadTime(f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it)")
    return utc
