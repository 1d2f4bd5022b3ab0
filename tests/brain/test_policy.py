from __future__ import annotations

import pytest

from core.config import PolicySettings
from brain.policy import Action, Situation, decide, draft_waits
from brain.risk import Risk
from brain.understand import Understanding

NO_RISK = Risk("", 0.1)
POLICY = PolicySettings(auto_reply_platforms=["console", "telegram"])


def u(
    intent: str, ic: float = 0.9, sentiment: str = "neutral", sc: float = 0.9, off: float = 0.0, language: str = ""
) -> Understanding:
    return Understanding(
        intent=intent, intent_confidence=ic, sentiment=sentiment, sentiment_confidence=sc,
        offensive=off >= 0.5, offensive_confidence=max(off, 1.0 - off), language=language,
    )


@pytest.mark.parametrize(
    ("understanding", "risk", "situation", "action"),
    [
        (u("greeting"), NO_RISK, Situation("console"), Action.auto_reply),
        (u("praise", sentiment="positive"), NO_RISK, Situation("telegram"), Action.auto_reply),
        (u("question"), NO_RISK, Situation("console"), Action.auto_reply),
        (u("greeting", ic=0.4), NO_RISK, Situation("console"), Action.queue_for_approval),
        (u("purchase_intent"), NO_RISK, Situation("console"), Action.queue_for_approval),
        (u("greeting"), NO_RISK, Situation("slack"), Action.queue_for_approval),  # auto-reply off there
        (u("greeting"), NO_RISK, Situation("console", contact_opted_out=True), Action.queue_for_approval),
        (u("greeting"), NO_RISK, Situation("console", over_rate_limit=True), Action.queue_for_approval),
        (u("complaint"), NO_RISK, Situation("console"), Action.escalate),
        (u("question", sentiment="negative", sc=0.8), NO_RISK, Situation("console"), Action.escalate),
        (u("question"), Risk("legal", 0.8), Situation("console"), Action.escalate),
        (u("spam"), NO_RISK, Situation("console"), Action.ignore_spam),
        (u("spam", ic=0.3), NO_RISK, Situation("console"), Action.queue_for_approval),
        (u("unsubscribe"), NO_RISK, Situation("console"), Action.opt_out),
        (u("praise", off=0.9), NO_RISK, Situation("console"), Action.queue_for_approval),  # abuse is never auto-answered
        (u("praise", off=0.7), NO_RISK, Situation("console"), Action.auto_reply),
        (u("praise", off=0.05), NO_RISK, Situation("console"), Action.auto_reply),  # surely not abusive
        (u("greeting", language="en"), NO_RISK, Situation("console"), Action.auto_reply),
        (u("greeting", language="de"), NO_RISK, Situation("console", brand_language="de"), Action.auto_reply),
        (u("spam", language="pt"), NO_RISK, Situation("console"), Action.queue_for_approval),  # not read: not ignored
        (u("unsubscribe", language="de"), NO_RISK, Situation("console"), Action.opt_out),  # stopping is always safe
    ],
)
def test_each_rule(understanding, risk, situation, action) -> None:
    assert decide(understanding, risk, POLICY, situation).action is action


def test_every_threshold_comes_from_config() -> None:
    strict = PolicySettings(min_confidence=0.95, escalate_negative_confidence=0.5, auto_reply_intents=["greeting"])
    assert decide(u("greeting", ic=0.9), NO_RISK, strict, Situation("console")).action is Action.queue_for_approval
    assert decide(u("question"), NO_RISK, strict, Situation("console")).action is Action.queue_for_approval
    assert decide(u("greeting", sentiment="negative", sc=0.6), NO_RISK, strict, Situation("console")).action is Action.escalate


def test_a_language_the_brand_does_not_write_in_waits_for_the_owner_with_that_reason() -> None:
    decision = decide(u("question", language="es"), NO_RISK, POLICY, Situation("console", brand_language="en"))
    assert decision.action is Action.queue_for_approval
    assert decision.reason == "written in 'es'; the brand writes in 'en'"


def test_a_language_only_guessed_waits_for_the_owner_and_says_it_is_a_guess() -> None:
    decision = decide(u("question", language="es?"), NO_RISK, POLICY, Situation("console", brand_language="en"))
    assert decision.action is Action.queue_for_approval
    assert decision.reason == "perhaps written in 'es' (too short to be sure); the brand writes in 'en'"


def test_only_sure_kinds_of_draft_go_out_on_their_own() -> None:
    policy = PolicySettings()
    assert draft_waits("greeting", 0.0, policy) == ""
    assert draft_waits("praise", 0.0, policy) == ""
    assert draft_waits("fact_answer", 0.2, policy) == ""
    assert "not clear-cut" in draft_waits("fact_answer", 0.01, policy)
    assert "not sent automatically" in draft_waits("support_answer", 0.3, policy)
    assert "not sent automatically" in draft_waits("free", 0.0, policy)
    # Both rules come from config.
    loose = PolicySettings(auto_send_kinds=["fact_answer", "free"], auto_send_min_fact_margin=0.0)
    assert draft_waits("fact_answer", 0.0, loose) == "" and draft_waits("free", 0.0, loose) == ""
    assert draft_waits("greeting", 0.0, loose) != ""
