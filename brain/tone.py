"""How a reply should sound: warm, plain or sorry, reading sarcasm the sentiment head misses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brain.understand import Understanding

# Cheap, high-precision signs that positive words mean the opposite.
SARCASM_CUES = (
    "🙄", "😒", "🙃", "love that for me", "great, another", "oh great", "just great", "just perfect",
    "thanks for nothing", "yeah right", "yeah, right", "what a surprise", "as usual", "wow, thanks",
    "thanks a lot for", "so glad i waited", "can't wait to pay", "oh good,", "oh nice,", "super convenient",
    "my favourite way to", "my favorite way to", "love paying",
)
# The "/s" tag only as a word of its own: inside "/start" it is no sarcasm.
_SARCASM_TAG_RE = re.compile(r"(?:^|\s)/s(?:\s|$)", re.IGNORECASE)
_POSITIVE_RE = re.compile(r"\b(?:love|lovely|great|amazing|wonderful|fantastic|perfect|awesome|brilliant|thanks|nice)\b", re.IGNORECASE)
_NEGATIVE_TOPIC_RE = re.compile(
    r"\b(?:price increase|prices? (?:went|go|going) up|more expensive|still (?:nothing|waiting)|another delay|late again)\b",
    re.IGNORECASE,
)


def names_a_grievance(text: str) -> bool:
    """Whether the message names something people complain about ("still waiting", "late again"),
    whatever the sentiment head reads in a short message."""
    return bool(_NEGATIVE_TOPIC_RE.search(text))


@dataclass(frozen=True)
class Tone:
    kind: str  # "warm" (thanks, exclamation marks), "plain", or "sorry" (no cheer at all)
    sarcastic: bool


def is_sarcastic(text: str, understanding: Understanding) -> bool:
    """The sarcasm head, a cue, or positive words about a negative topic, or positive words the sentiment head reads as negative."""
    lowered = text.lower()
    if understanding.sarcastic or any(cue in lowered for cue in SARCASM_CUES) or _SARCASM_TAG_RE.search(text):
        return True
    if not _POSITIVE_RE.search(text):
        return False
    return names_a_grievance(text) or understanding.sentiment == "negative"


def reply_tone(text: str, understanding: Understanding) -> Tone:
    sarcastic = is_sarcastic(text, understanding)
    if sarcastic or understanding.sentiment == "negative" or understanding.intent in ("complaint", "support_request"):
        return Tone("sorry", sarcastic)
    if understanding.sentiment == "positive" or understanding.intent in ("praise", "greeting"):
        return Tone("warm", False)
    return Tone("plain", False)
