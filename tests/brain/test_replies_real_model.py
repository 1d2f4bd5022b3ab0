"""Planned replies with the real SmolLM2 writing candidates: whatever it writes, what is sent keeps to the plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from brain.checks import NUMBER_RE
from brain.grounding import ReplySupport, sentences, unsupported
from brain.service import Brain

pytestmark = pytest.mark.models

MESSAGES = {
    "What time do you open on Saturdays?": ("8:00", "18:00"),
    "I want to buy the gift box for my mom, how do I order?": ("https://example.com/shop",),
    "Best cinnamon rolls in town, hands down!!!": ("Thank",),
    "ordered 2 weeks ago and STILL nothing ... where is my order #4821": ("sorry", "#4821"),
}


async def test_model_candidates_keep_to_the_plan(settings) -> None:
    settings.generator.reply_candidates = 3
    brain = Brain(settings)
    brain.options = replace(brain.options, max_new_tokens=48)
    await brain.load()
    try:
        brand = settings.brand
        for text, needed in MESSAGES.items():
            draft = await brain.draft_reply(text, await brain.understand(text))
            assert all(n in draft.text for n in needed), (text, draft.text)
            support = ReplySupport(brand.current_facts(), brand.ended_facts(), text, sentences(draft.plan))
            assert unsupported(draft.text, support, brain.understander.encoder) == [], (text, draft.text)
            assert set(NUMBER_RE.findall(draft.text)) <= set(NUMBER_RE.findall(" ".join((*brand.current_facts(), text, *brand.allowed_links))))
    finally:
        brain.close()
