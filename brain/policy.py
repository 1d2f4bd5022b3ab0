"""The reply policy: which action an understood message gets, every threshold from config."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import PolicySettings
from brain.understand import Understanding


class Action(StrEnum):
    auto_reply = "auto_reply"
    queue_for_approval = "queue_for_approval"
    escalate = "escalate"
    ignore_spam = "ignore_spam"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(understanding: Understanding, policy: PolicySettings, *, auto_reply_enabled: bool) -> Decision:
    u = understanding
    if u.intent in policy.ignore_intents and u.intent_confidence >= policy.min_confidence:
        return Decision(Action.ignore_spam, f"{u.intent} ({u.intent_confidence:.2f})")
    if u.intent in policy.escalate_intents:
        return Decision(Action.escalate, f"intent {u.intent}")
    if u.sentiment == "negative" and u.sentiment_confidence >= policy.escalate_negative_confidence:
        return Decision(Action.escalate, f"negative sentiment ({u.sentiment_confidence:.2f})")
    if (
        auto_reply_enabled
        and u.intent in policy.auto_reply_intents
        and u.intent_confidence >= policy.min_confidence
    ):
        return Decision(Action.auto_reply, f"{u.intent} ({u.intent_confidence:.2f})")
    return Decision(Action.queue_for_approval, f"{u.intent} ({u.intent_confidence:.2f}) needs the owner")
