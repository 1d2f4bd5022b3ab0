"""Whether every sentence of a draft is supported: by a current fact, the follower's own words, or the plan."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from brain.checks import NUMBER_RE, URL_RE, words
from brain.encoder import Encoder
from brain.fact_search import STOPWORDS as _STOPWORDS
from brain.fact_search import fact_sentences

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
SUPPORT_MIN_OVERLAP = 0.7  # share of a sentence's content words found in facts, message or plan
SUPPORT_MIN_COSINE = 0.8  # or this close in meaning to one fact or plan sentence
ENDED_MIN_COSINE = 0.7  # this close to an ended fact, and closer than to any current one, restates it


@dataclass(frozen=True)
class Support:
    current_facts: Sequence[str]
    ended_facts: Sequence[str]
    follower_text: str
    plan_sentences: Sequence[str]
    owner_words: Sequence[str] = ()  # replies the owner wrote or approved: their words, not their numbers


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text.strip()) if s.strip()]


def _norm(text: str) -> str:
    return " ".join(words(text))


def unsupported(draft: str, support: Support, encoder: Encoder | None = None) -> list[str]:
    """One reason per sentence of the draft that nothing supports; empty when the draft is faithful."""
    plan = {_norm(s) for s in support.plan_sentences}
    current = [s for _, s in fact_sentences(support.current_facts)]
    ended = [s for _, s in fact_sentences(support.ended_facts)]
    grounded_text = " ".join((*current, support.follower_text, *support.plan_sentences))
    known_numbers = set(NUMBER_RE.findall(grounded_text))
    known_words = set(words(" ".join((grounded_text, *support.owner_words))))
    ended_numbers = set(NUMBER_RE.findall(" ".join(ended))) - set(NUMBER_RE.findall(" ".join(current)))
    reasons: list[str] = []
    todo: list[str] = []
    for sentence in sentences(draft):
        if _norm(sentence) in plan:
            continue
        bare = URL_RE.sub(" ", sentence)  # links are checked against the allowed ones elsewhere
        numbers = NUMBER_RE.findall(bare)
        if stale := [n for n in numbers if n in ended_numbers]:
            reasons.append(f"states an ended fact ({stale[0]}): {sentence!r}")
            continue
        if unknown := [n for n in numbers if n not in known_numbers]:
            reasons.append(f"states a number nothing supports ({unknown[0]}): {sentence!r}")
            continue
        content = [w for w in words(bare) if w not in _STOPWORDS]
        if content and sum(w in known_words for w in content) / len(content) < SUPPORT_MIN_OVERLAP:
            todo.append(sentence)
    if todo and encoder is not None:
        references = [*current, *support.plan_sentences, *(s for reply in support.owner_words for s in sentences(reply))]
        vectors = encoder.encode([*todo, *references, *ended])
        asked, ref, old = vectors[: len(todo)], vectors[len(todo) : len(todo) + len(references)], vectors[len(todo) + len(references) :]
        for k, sentence in enumerate(todo):
            best = float((ref @ asked[k]).max()) if len(references) else 0.0
            stale_score = float((old @ asked[k]).max()) if len(ended) else 0.0
            if stale_score >= ENDED_MIN_COSINE and stale_score > best:
                reasons.append(f"restates an ended fact: {sentence!r}")
            elif best < SUPPORT_MIN_COSINE:
                reasons.append(f"nothing supports it: {sentence!r}")
    else:
        reasons.extend(f"nothing supports it: {s!r}" for s in todo)
    return reasons
