"""The bench's own readings for the owner's-voice curve and the post figures per batch of topics."""

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
