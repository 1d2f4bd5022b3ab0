"""The bench's own readings for the owner's-voice curve and the reply and post figures per batch of rows."""

from __future__ import annotations

from bench import replies
from bench.reply_judge import Verdict


def test_a_reply_s_opening_is_read_from_its_first_sentence() -> None:
    assert replies.opening_move("Thanks for asking! We are open 8:00 to 18:00.") == "thanks"
    assert replies.opening_move("Yes, there is a lift. Thanks!") == "straight"  # the thanks is not the opening
    assert replies.opening_move("We open at 8:00.") == "straight"
    assert replies.opening_move("So sorry it arrived late. Please send us a private message.") == "apology"
    assert replies.opening_move("Hi! How can we help?") == "hello"


def test_the_owner_s_wording_is_the_f1_of_words() -> None:
    assert replies.wording_f1("We open at 8:00.", "We open at 8:00.") == 1.0
    assert replies.wording_f1("We open at 8:00.", "Closed on Sundays.") == 0.0
    # 4 words shared, of 4 and 5: 2*4/9.
    assert abs(replies.wording_f1("We open at 8:00.", "We open at 8:00, Monday.") - 8 / 9) < 1e-9
    assert replies.wording_f1("", "anything") == 0.0


def _outcome(batch: int | None, acceptable: bool) -> replies.PostOutcome:
    row = {"id": "x", "topic": "t"} | ({"batch": batch} if batch else {})
    return replies.PostOutcome(row, "text", Verdict(acceptable, invented=() if acceptable else ("number 9",)), 1.0, ())


def test_post_figures_are_given_per_batch_when_topics_were_added() -> None:
    outcomes = [_outcome(None, True), _outcome(None, False), _outcome(2, True)]
    groups = replies.post_groups("heldout", outcomes)
    assert groups["heldout"]["n"] == 3 and groups["heldout"]["invented_count"] == 1
    assert groups["heldout batch 1"]["publishable_pct"] == 50.0 and groups["heldout batch 2"]["publishable_pct"] == 100.0
    assert list(replies.post_groups("tune", outcomes[:2])) == ["tune"]  # one batch: no split


def _reply(batch: int | None, acceptable: bool, intent: str = "question") -> replies.Outcome:
    row = {"id": "x", "intent": intent, "answer": [], "must": [], "sarcastic": False, "sentiment": "neutral"}
    row |= {"batch": batch} if batch else {}
    return replies.Outcome(row, "text", "auto_reply", True, Verdict(acceptable), 3, 0.1, "neutral")


def test_reply_figures_are_given_per_batch_when_messages_were_added() -> None:
    outcomes = [_reply(None, True), _reply(None, False, "praise"), _reply(2, False), _reply(2, False, "praise")]
    groups = replies.reply_groups("heldout", outcomes)
    assert list(groups) == ["heldout", "heldout batch 1", "heldout batch 2"]  # the split's own key stays
    assert groups["heldout"]["n"] == 4 and groups["heldout"]["acceptable_pct"] == 25.0
    assert groups["heldout batch 1"]["acceptable_pct"] == 50.0 and groups["heldout batch 2"]["acceptable_pct"] == 0.0
    assert groups["heldout batch 1"]["per_intent"]["praise"] == {"n": 1, "acceptable_pct": 0.0}
    assert list(replies.reply_groups("tune", outcomes[:2])) == ["tune"]  # one batch: no split
