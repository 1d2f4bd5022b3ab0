"""Which of the brand's current facts answer a follower's question, by meaning with the encoder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from brain.encoder import Encoder

# A question closer than this to every fact sentence is one the facts do not answer (MiniLM
# cosine; on a dozen bakery questions, answered ones scored 0.48-0.84, unanswered ones 0.10-0.34).
ANSWER_MIN_COSINE = 0.4
# A second fact this close to the best one answers the question as well (say "delivery" and both
# the delivery fact and the free-delivery threshold are about it); further apart, only the best.
SECOND_FACT_MARGIN = 0.05
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
# Words a follower wraps a question in: they carry no meaning the facts could match.
_FILLER_RE = re.compile(
    r"^\s*(?:hi|hey|hello|hiya|yo|good (?:morning|afternoon|evening)|quick question|question|pls|please|sorry)\b[\s,!.:-]*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FactMatch:
    sentences: tuple[str, ...]  # the fact sentences that answer, best first; empty when none does
    score: float  # the best sentence's cosine similarity to the question
    runner_up: float  # the best sentence from another fact (how clear-cut the answer is)


def fact_sentences(facts: Sequence[str]) -> list[tuple[int, str]]:
    """Each fact split into its sentences, with the index of the fact it came from: a long fact
    that mixes topics (hours, then parking) is matched sentence by sentence."""
    return [(k, s.strip()) for k, fact in enumerate(facts) for s in _SENTENCE_RE.split(fact) if s.strip()]


def question_parts(text: str) -> list[str]:
    """The whole message, and each of its sentences without greeting filler: "Hi! Quick question,
    when do you open?" is matched on "when do you open?" too."""
    parts = [text.strip()]
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        core = _FILLER_RE.sub("", sentence).strip()
        if len(core.split()) >= 2 and core not in parts:
            parts.append(core)
    return parts


@lru_cache(maxsize=32)
def _sentence_vectors(encoder: Encoder, sentences: tuple[str, ...]) -> np.ndarray:
    # The facts change only with the config: encode them once, not for every question.
    return encoder.encode(sentences)


def answering_facts(text: str, facts: Sequence[str], encoder: Encoder) -> FactMatch:
    """The fact sentences that answer the message: the best one above ANSWER_MIN_COSINE, and one
    more from another fact when it is within SECOND_FACT_MARGIN of it."""
    split = fact_sentences(facts)
    if not split or not text.strip():
        return FactMatch((), 0.0, 0.0)
    vectors = _sentence_vectors(encoder, tuple(s for _, s in split))
    scores = (vectors @ encoder.encode(question_parts(text)).T).max(axis=1)
    order = np.argsort(-scores)
    best = int(order[0])
    others = [int(k) for k in order[1:] if split[int(k)][0] != split[best][0]]
    runner_up = float(scores[others[0]]) if others else 0.0
    if float(scores[best]) < ANSWER_MIN_COSINE:
        return FactMatch((), float(scores[best]), runner_up)
    chosen = [split[best][1]]
    if others and runner_up >= ANSWER_MIN_COSINE and float(scores[best]) - runner_up <= SECOND_FACT_MARGIN:
        chosen.append(split[others[0]][1])
    return FactMatch(tuple(chosen), float(scores[best]), runner_up)
