"""Reading command arguments out of the owner's plain sentences."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from core.errors import BotError
from bot.when import account_zone
from bot import words

BERLIN = account_zone("Europe/Berlin")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # a Monday


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("draft a post about our autumn sale", "our autumn sale"),
        ("Write something regarding the new vegan cake, please!", "the new vegan cake"),
        ("make me a post for the weekend offer", "the weekend offer"),
        ("a christmas opening hours post", "a christmas opening hours post"),
    ],
)
def test_topic(sentence: str, expected: str) -> None:
    assert words.topic(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("schedule it for the best time this week", "best"),
        ("put it out when most followers are online", "best"),
        ("schedule it for friday 10:00 please", "friday 10:00"),
        ("publish the draft tomorrow 9:30.", "tomorrow 9:30"),
        ("post it in 2h", "in 2h"),
    ],
)
def test_when(sentence: str, expected: str) -> None:
    assert words.when(sentence, BERLIN, NOW) == expected


def test_when_without_a_time_asks_for_one() -> None:
    with pytest.raises(BotError, match="when\\? say 'at the best time'"):
        words.when("schedule it soonish", BERLIN, NOW)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [("how did last week go?", "7"), ("summary of the last month", "30"), ("the last 14 days", "14"), ("how are we doing", "7"), ("stats for 2 weeks", "14")],
)
def test_days(sentence: str, expected: str) -> None:
    assert words.days(sentence) == expected
