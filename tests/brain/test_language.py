"""Which language a follower wrote in (brain/handoff.py): short texts are hard, so another language
is named only with evidence for it, a likely one without proof as a guess ("es?"), and a text
too short to tell as ""."""

from __future__ import annotations

import pytest

from brain.handoff import message_language


@pytest.mark.parametrize(
    "text, language",
    [
        ("¿tienen pan sin gluten?", "es"),  # lingua alone, in its fast mode: 'nl' at 0.89
        ("pan sin gluten por favor", "es"),  # lingua alone: 'nl'
        ("avez-vous du pain sans gluten?", "fr"),
        ("habt ihr heute glutenfreies Brot?", "de"),
        ("hebben jullie glutenvrij brood?", "nl"),
        ("quanto costa la torta al cioccolato?", "it"),
        ("vocês têm pão sem glúten?", "pt"),
        ("glutensiz ekmek var mı?", "tr"),
        ("do you have gluten free bread?", "en"),
        ("my cake arrived squashed and nobody answers the phone!!", "en"),
        ("fresh croissants today at the bakery?", "en"),
        ("is the sourdough vegan friendly", "en"),
    ],
)
def test_short_messages_get_their_language(text: str, language: str) -> None:
    assert message_language(text, "en") == language


def test_a_short_text_with_no_evidence_either_way_claims_no_language() -> None:
    """Four words the detector cannot place with confidence, likeliest English: no language is claimed."""
    assert message_language("Sourdough Brioche Focaccia Baguette", "en") == ""


def test_a_likely_foreign_text_without_proof_is_shown_as_a_guess() -> None:
    """No function word of one language alone, and the detector unsure: probably not English, marked as a guess."""
    assert message_language("gracias por todo amigos mios", "en") == "es?"
    assert message_language("me encanta todo lo que vendéis", "en") == "es?"
