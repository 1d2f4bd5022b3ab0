"""Owner times in the account's time zone, stored as UTC, across daylight-saving changes."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from bot.when import BadTime, account_zone, local_to_utc, parse_when, show

BERLIN = account_zone("Europe/Berlin")
UTC = timezone.utc


def test_tomorrow_across_spring_forward_uses_the_new_offset() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday, CET (+1); Sunday is CEST (+2)
    assert parse_when("tomorrow 09:00", BERLIN, now) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert parse_when("today 18:00", BERLIN, now) == datetime(2026, 3, 28, 17, 0, tzinfo=UTC)


def test_a_skipped_time_is_refused_and_a_repeated_one_is_the_first() -> None:
    with pytest.raises(BadTime, match="does not exist"):
        local_to_utc(date(2026, 3, 29), time(2, 30), BERLIN)
    # 02:30 happens twice on 25 Oct 2026; the first is still summer time (+2).
    assert local_to_utc(date(2026, 10, 25), time(2, 30), BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_weekday_relative_and_iso_forms() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 13:00 in Berlin
    assert parse_when("mon 12:00", BERLIN, now) == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # today's has passed
    assert parse_when("fri 18:30", BERLIN, now) == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert parse_when("in 45m", BERLIN, now) == datetime(2026, 11, 30, 12, 45, tzinfo=UTC)
    assert parse_when("2026-07-01 09:00", BERLIN, now) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert show(datetime(2026, 7, 1, 7, 0, tzinfo=UTC), BERLIN) == "Wed 2026-07-01 09:00 CEST"


@pytest.mark.parametrize("bad", ["soon", "tomorrow 25:00", "in 2 weeks", "2026-13-01 10:00", ""])
def test_unreadable_times_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(BadTime):
        parse_when(bad, BERLIN, datetime(2026, 11, 30, tzinfo=UTC))
