"""Posts with the real SmolLM2 and encoder: whatever the model writes, only the facts of the day come out."""

from __future__ import annotations

from datetime import date

import pytest

from brain.checks import NUMBER_RE, URL_RE
from brain.posts import draft_posts
from brain.service import Brain
from fakes.bakery import BAKERY, DECEMBER, mentions_the_sale, presents_the_sale

pytestmark = [pytest.mark.models, pytest.mark.slow]


async def test_real_model_posts_keep_to_the_facts_of_the_day(settings) -> None:
    brain = Brain(settings)
    await brain.load()
    try:
        assert brain.generator is not None and brain.understander is not None
        known = set(NUMBER_RE.findall(" ".join(BAKERY.current_facts(DECEMBER))))
        for topic in ("our autumn sale", "home delivery"):
            variants = draft_posts(brain.generator, topic, "telegram", BAKERY, 3, encoder=brain.understander.encoder, today=DECEMBER)
            assert 1 <= len(variants) <= 3
            for variant in variants:
                assert not variant.check_failures, variant
                assert set(NUMBER_RE.findall(URL_RE.sub(" ", variant.text))) <= known, variant.text
                assert not presents_the_sale(variant.text), variant.text
            if topic == "our autumn sale":
                assert all(any("ended on 2026-11-30" in note for note in v.notes) for v in variants)
            else:
                assert "We deliver within 10 km for 3 EUR; free above 30 EUR." in variants[0].text
        # In November the sale is current: a post about it states it.
        november = draft_posts(brain.generator, "our autumn sale", "telegram", BAKERY, 1, encoder=brain.understander.encoder, today=date(2026, 11, 15))
        assert mentions_the_sale(november[0].text) and not november[0].check_failures
    finally:
        brain.close()
