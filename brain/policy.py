"""The reply policy: which action an understood message gets, every threshold from config."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.config import PolicySettings
from brain.risk import Risk
from brain.understand import Understanding


class Action(StrEnum):
    auto_reply = "auto_reply"
    queue_for_approval = "queue_for_approval"
    escalate = "escalate"
    ignore_spam = "ignore_spam"
    opt_out = "opt_out"


@dataclass(frozen=True)
class Situation:
    """What the policy knows beyond the message itself."""

    platform: str
    contact_opted_out: bool = False
    over_rate_limit: bool = False
    brand_language: str = "en"  # ISO 639-1: the language the brand writes (and the encoder reads) in


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(u: Understanding, risk: Risk, policy: PolicySettings, situation: Situation) -> Decision:
    """First matching rule wins; the order puts safety before convenience."""
    if u.intent in policy.opt_out_intents and u.intent_confidence >= policy.min_confidence:
        return Decision(Action.opt_out, f"asked to stop ({u.intent} {u.intent_confidence:.2f})")
    if u.language and u.language != situation.brand_language.lower()[:2]:
        # Labels of a language the encoder does not read are guesses: neither ignored as spam nor answered.
        written = f"perhaps written in '{u.language[:-1]}' (too short to be sure)" if u.language.endswith("?") else f"written in '{u.language}'"
        return Decision(Action.queue_for_approval, f"{written}; the brand writes in '{situation.brand_language}'")
    if u.intent in policy.ignore_intents and u.intent_confidence >= policy.ignore_min_confidence:
        return Decision(Action.ignore_spam, f"{u.intent} {u.intent_confidence:.2f}")
    if risk.topic:
        return Decision(Action.escalate, f"mentions {risk.topic} ({risk.similarity:.2f})")
    if u.intent in policy.escalate_intents:
        return Decision(Action.escalate, f"{u.intent} {u.intent_confidence:.2f}")
    if u.sentiment == "negative" and u.sentiment_confidence >= policy.escalate_negative_confidence:
        return Decision(Action.escalate, f"negative sentiment {u.sentiment_confidence:.2f}")
    if situation.platform not in policy.auto_reply_platforms:
        return Decision(Action.queue_for_approval, f"auto-reply is off on {situation.platform}")
    if situation.contact_opted_out:
        return Decision(Action.queue_for_approval, "the contact opted out of automatic messages")
    if u.offensive and u.offensive_confidence >= policy.offensive_min_confidence:
        return Decision(Action.queue_for_approval, f"abusive language ({u.offensive_confidence:.2f})")
    if u.intent not in policy.auto_reply_intents:
        return Decision(Action.queue_for_approval, f"{u.intent} is not auto-answered")
    if u.intent_confidence < policy.min_confidence:
        return Decision(Action.queue_for_approval, f"unsure: {u.intent} {u.intent_confidence:.2f}")
    if situation.over_rate_limit:
        return Decision(Action.queue_for_approval, "automatic reply rate limit reached")
    return Decision(Action.auto_reply, f"{u.intent} {u.intent_confidence:.2f}")


# An escalation gets a suggested reply (the plan's apology and a move to private messages) for the
# owner to approve or edit, never sent alone: a complaint, an angry message, a refund request. A legal
# threat, a safety report or one of the owner's own risk words is theirs to word.
SUGGESTED_RISKS = frozenset({"", "refund"})


def drafts_reply(action: Action, risk: Risk | None = None) -> bool:
    """Whether the bot drafts a reply for this action: ignored and opted-out messages get none, nor an
    escalation for a legal threat, a safety report or an owner's risk word."""
    if action is Action.escalate:
        return risk is None or risk.topic in SUGGESTED_RISKS
    return action in (Action.auto_reply, Action.queue_for_approval)


def after_draft(decision: Decision, draft_text: str, needs_review: bool) -> Decision:
    """The decision once the reply is drafted: an automatic reply whose draft is empty or needs a look waits for the owner."""
    if decision.action is Action.auto_reply and (needs_review or not draft_text):
        return Decision(Action.queue_for_approval, "the draft needs a look")
    return decision


def draft_waits(kind: str, margin: float, policy: PolicySettings) -> str:
    """Why a drafted reply must wait for the owner even where decide() allows an automatic one
    ("" when it may go out): only the kinds of reply the system is sure of are sent on their own."""
    if kind not in policy.auto_send_kinds:
        return f"a {kind.replace('_', ' ')} reply is not sent automatically"
    if kind == "fact_answer" and margin < policy.auto_send_min_fact_margin:
        return f"the answering fact is not clear-cut (margin {margin:.2f})"
    return ""
