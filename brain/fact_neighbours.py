"""Which fact answers a message, by the written questions most like it and the facts that answered them.

The cross-encoder (brain/relevance.py) learnt from brain/datasets/fact_questions what answers what,
but a word it met only a few times there ("voucher" for a gift card, "skin test" for a patch test)
can still leave the answering fact at P 0.01. The written questions themselves are a second reading:
the few most like the message (by the shared encoder's cosine) each vote for the fact here most like
the one that answered them, and a question nothing answered votes for none. Relevance combines the
votes with its own P in a logistic model fitted on the reply bench's tune split
(`python -m brain.relevance_training neighbours`, brain/heads/README.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NEIGHBOURS_FILE = "neighbours.npz"  # in the cross-encoder's folder
COMBINE_FILE = "neighbours.json"  # its combination with the cross-encoder, and what it was built from
NEIGHBOURS = 5  # written questions that vote (5, 10, 20, 50 tried on the tune split: 5 best)
TEMPERATURE = 0.05  # a vote's weight: exp(cosine / TEMPERATURE), relative to the nearest question's
SHARPNESS = 8  # a vote goes to a fact by its cosine to the answering fact, to this power
VOTE_FLOOR = 1e-3  # log(vote + this): no vote at all is a strong sign, not minus infinity


@dataclass(frozen=True)
class Combination:
    """P = sigmoid(cross_encoder * logit(P_ce) + votes * log(vote + VOTE_FLOOR) + bias)."""

    cross_encoder: float
    votes: float
    bias: float

    def __call__(self, p: np.ndarray, vote: np.ndarray) -> np.ndarray:
        p = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
        z = self.cross_encoder * np.log(p / (1 - p)) + self.votes * np.log(vote + VOTE_FLOOR) + self.bias
        return (1 / (1 + np.exp(-z))).astype(np.float32)


@dataclass(frozen=True)
class Neighbours:
    """The written questions' embeddings, and per question its answering fact's (or none)."""

    questions: np.ndarray  # (n, dim) float32, L2-normalised
    answer: np.ndarray  # (n,) index into facts, -1 when no fact answered it
    facts: np.ndarray  # (m, dim) float32, L2-normalised
    encoder: str  # the encoder spec that embedded them
    combination: Combination

    def votes(self, message: np.ndarray, facts: np.ndarray) -> np.ndarray:
        """Per fact (rows of facts, L2-normalised), the share of the nearest questions' weight that
        goes to it, in [0, 1]."""
        similarity = self.questions @ message
        k = min(NEIGHBOURS, len(similarity))
        nearest = np.argpartition(-similarity, k - 1)[:k]
        weight = np.exp((similarity[nearest] - similarity[nearest].max()) / TEMPERATURE)
        answered = self.answer[nearest] >= 0
        if not answered.any():
            return np.zeros(len(facts), dtype=np.float32)
        like = np.maximum(self.facts[self.answer[nearest][answered]] @ facts.T, 0.0) ** SHARPNESS
        return ((weight[answered, None] * like).sum(axis=0) / weight.sum()).astype(np.float32)

    def save(self, folder: Path, record: dict[str, object]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # int8 halves float16's size; a cosine loses nothing a vote can tell.
        np.savez_compressed(
            folder / NEIGHBOURS_FILE, questions=_to_int8(self.questions), answer=self.answer.astype(np.int32), facts=_to_int8(self.facts)
        )
        c = self.combination
        meta = {"encoder": self.encoder, "combination": {"cross_encoder": c.cross_encoder, "votes": c.votes, "bias": c.bias}} | record
        (folder / COMBINE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _to_int8(vectors: np.ndarray) -> np.ndarray:
    return np.clip(np.round(vectors * 127), -127, 127).astype(np.int8)


def _from_int8(vectors: np.ndarray) -> np.ndarray:
    out = vectors.astype(np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def load_neighbours(folder: Path, encoder: str) -> Neighbours | None:
    """The votes that go with the cross-encoder in folder; None when there are none, or when they
    were embedded by another encoder than the configured one (their cosines would mean nothing)."""
    meta_file, data_file = folder / COMBINE_FILE, folder / NEIGHBOURS_FILE
    if not meta_file.is_file() or not data_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("encoder") != encoder:
            return None
        with np.load(data_file) as data:
            return Neighbours(
                _from_int8(data["questions"]), data["answer"].astype(np.int64), _from_int8(data["facts"]), encoder,
                Combination(**meta["combination"]),
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a broken file costs the votes, never the bot
        log.warning("the fact neighbours in %s cannot be loaded (%s): the cross-encoder ranks alone", folder, str(exc)[:200])
        return None
