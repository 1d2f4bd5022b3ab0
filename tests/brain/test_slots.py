"""Choosing a posting time from a history alone (no database, no chat): best free hour, next free queue slot."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import numpy as np
import pytest

from brain.slots import PostingHistory, PublishedPost, SlotChooser
from core.config import ScheduleSettings
from core.errors import BotError
from core.times import BadTime, account_zone, local_to_utc

BERLIN = account_zone("Europe/Berlin")
NOW = datetime(2026, 12, 7, 6, 30, tzinfo=timezone.utc)  # a Monday, 07:30 in Berlin


def chooser(**schedule: object) -> SlotChooser:
    return SlotChooser(ScheduleSettings(**schedule), BERLIN, np.random.default_rng(0))


def test_best_slot_is_a_free_whole_hour_within_best_hours() -> None:
    monday = NOW.astimezone(BERLIN).date()
    taken = [local_to_utc(monday, time(h), BERLIN) for h in range(8, 20)]
    at, why = chooser(best_hours=(8, 20)).best_slot(PostingHistory(taken=taken), NOW, NOW + timedelta(hours=20))
    local = at.astimezone(BERLIN)
    assert local.minute == 0 and local.hour == 20 and at not in taken
    assert why == "Mon 20:00: no history yet, so this is an exploratory pick"


def test_best_slot_learns_from_the_platforms_posts() -> None:
    # Posts at 18:00 did far better than those at every other hour: with enough of them the pick is 18:00.
    published = [
        PublishedPost(local_to_utc(NOW.date() - timedelta(days=d), time(h), BERLIN), 300.0 if h == 18 else 5.0)
        for d in range(1, 40)
        for h in range(8, 22)
    ]
    at, why = chooser().best_slot(PostingHistory(published=published), NOW, NOW + timedelta(hours=16))
    assert at.astimezone(BERLIN).hour == 18 and "from 546 posts" in why


def test_no_free_hour_is_one_clear_error() -> None:
    with pytest.raises(BadTime, match="no free hour in that window between 8:00 and 9:00"):
        chooser(best_hours=(8, 9)).best_slot(PostingHistory(), NOW, NOW + timedelta(minutes=20))


def test_next_free_slot_skips_taken_and_past_slots() -> None:
    c = chooser(slots={"telegram": ["07:00", "09:00", "13:00"]})
    monday = NOW.astimezone(BERLIN).date()
    nine = local_to_utc(monday, time(9), BERLIN)
    assert c.next_free_slot("telegram", PostingHistory(), NOW) == (nine, "next free queue slot")
    at, _ = c.next_free_slot("telegram", PostingHistory(taken=[nine]), NOW)
    assert at == local_to_utc(monday, time(13), BERLIN)


def test_a_platform_without_queue_slots_is_one_clear_error() -> None:
    with pytest.raises(BotError, match=r"no queue slots for slack: add them under \[schedule.slots\]"):
        chooser(slots={"telegram": ["09:00"]}).next_free_slot("slack", PostingHistory(), NOW)


def test_followers_online_hours_are_the_prior_where_the_platform_gives_them() -> None:
    # Followers online mostly at 17:00 UTC (18:00 in Berlin in winter), few at night; nobody wrote yet.
    hours = {h: 1000 if h == 17 else (400 if 8 <= h <= 20 else 50) for h in range(24)}
    c = chooser()
    model = c.timing_model(PostingHistory(audience_hours=hours))
    assert model.predict(0, 18) > model.predict(0, 12) > model.predict(0, 3)
    at, why = c.best_slot(PostingHistory(audience_hours=hours), NOW, NOW + timedelta(hours=16))
    assert "when your followers are online most" in why
    # Without them, when followers wrote is the prior, as before. They wrote before 8:00, outside
    # best_hours: the pick is not when they write, and the line does not say it is.
    wrote = [NOW - timedelta(days=d, hours=h) for d in range(7) for h in range(3)]
    why = c.best_slot(PostingHistory(follower_activity=wrote), NOW, NOW + timedelta(hours=16))[1]
    assert "none of your followers' 21 messages came at this hour" in why
