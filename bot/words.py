"""Reading a command's arguments out of the owner's plain sentence ("draft a post about X" -> "X")."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from brain.owner_requests import TOPIC_MARKERS
from core.errors import BotError
from bot.when import WHEN_HELP, BadTime, parse_when

_TOPIC_MARKERS = (TOPIC_MARKERS, r"on|for|that")
_POLITE = re.compile(r"[\s,.!?]*(?:please|pls|thanks|thank you)?[\s,.!?]*$", re.IGNORECASE)
_BEST = re.compile(r"\bbest\b|\bmost (?:people|followers)\b|\bonline\b|\bactive\b", re.IGNORECASE)


def topic(text: str) -> str:
    """What a post should be about: the words after 'about' (or 'on', 'for'), else the whole sentence."""
    for markers in _TOPIC_MARKERS:
        match = re.search(rf"\b(?:{markers})\s+(.+)$", text, re.IGNORECASE)
        if match:
            found = _POLITE.sub("", match[1]).strip()
            if found:
                return found
    return _POLITE.sub("", text).strip()


def when(text: str, zone: ZoneInfo, now: datetime) -> str:
    """'best', or the time in the sentence as /schedule reads it ('fri 10:00', 'in 2h')."""
    if _BEST.search(text):
        return "best"
    words = [w.strip(",.!?") for w in text.lower().split()]
    # Every time /schedule reads is two words ('fri 10:00', 'in 2h'); the last pair that reads wins.
    for start in range(len(words) - 2, -1, -1):
        candidate = " ".join(words[start : start + 2])
        try:
            parse_when(candidate, zone, now)
        except BadTime:
            continue
        return candidate
    raise BotError(f"when? say 'at the best time' or give {WHEN_HELP}")


def days(text: str, default: int = 7) -> str:
    """The span a look back covers: 'last month' -> 30, 'the last 14 days' -> 14, 'this week' -> 7."""
    lowered = text.lower()
    match = re.search(r"\b(\d{1,3})\s*(day|week|month)s?\b", lowered)
    if match:
        return str(int(match[1]) * {"day": 1, "week": 7, "month": 30}[match[2]])
    for word, n in (("year", 365), ("quarter", 91), ("month", 30), ("fortnight", 14), ("week", 7), ("today", 1), ("yesterday", 2)):
        if word in lowered:
            return str(n)
    return str(default)
