"""The owner's way of opening a reply, learnt from their own replies to similar messages.

The plan opens every reply with a fixed acknowledgement ("Thanks for asking!"). Owners differ:
many answer a question straight away ("Yes! We deliver within 10 km ..."), or thank in their own
words ("Aw, thank you!"). From the owner's replies to the messages most like this one, the plan
takes how they open: nothing, when most of them go straight to the point, or the nearest one's
opening sentence, when it makes the same move as the plan's (thanks for thanks, an apology for an
apology, a hello for a hello) and states nothing (no number, day, link, name or fact word).

Similar replies often do not decide: on the sample shops' tune set, of the 46 replies that
opened with thanks where the owner went straight, a third had no owner reply closer than 0.5
and most others had near replies of another sort or mixed openings. Owners keep habits, though: the
habit over all their replies (OpeningHabit) decides how a fact answer opens when no similar reply does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from brain.encoder import Encoder
from brain.examples import EXAMPLE_MIN_COSINE, Example
from brain.fact_search import QUESTION_RE
from brain.grounding import numbers, sentences, stems

OPENING_MAX_WORDS = 8
# Borrowing the owner's own opening sentence needs a message much closer than leaving the opening
# out: "best cinnamon rolls in town" (thanked) sits 0.5-0.6 from "how much is a cinnamon roll".
BORROW_MIN_COSINE = 0.75
# A habit needs this many of the owner's answers, and this share of them opened the same way.
HABIT_MIN_ANSWERS = 5
HABIT_MIN_SHARE = 0.6
# An owner's reply states a fact when it has one of the fact's numbers or this many of its words.
FACT_MIN_WORDS = 3

_MOVES = {
    "thanks": re.compile(r"\b(thank|thanks|thx|appreciate)", re.IGNORECASE),
    "apology": re.compile(r"\b(sorry|apologi[sz]e|apologies)\b", re.IGNORECASE),
    "hello": re.compile(r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening))\b", re.IGNORECASE),
}
# A time of day is a claim too: the owner's "Good evening!" is wrong for a hello sent at noon.
_CLAIM_RE = re.compile(
    r"\d|https?://|www\.|@\w|\b(today|tonight|tomorrow|morning|afternoon|evening|night|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"free|refund\w*|discount\w*|guarantee\w*|replace\w*|next week|promise)\b",
    re.IGNORECASE,
)
_NAME_RE = re.compile(r"(?<!^)\b[A-Z][a-z]+\b")


def moves(sentence: str) -> frozenset[str]:
    return frozenset(name for name, pattern in _MOVES.items() if pattern.search(sentence))


def _opening(reply: str, fact_stems: set[str]) -> str | None:
    """The reply's first sentence when it is only a move (states nothing); None when it states something."""
    said = sentences(reply)
    if not said:
        return None
    first = said[0]
    if len(first.split()) > OPENING_MAX_WORDS or _CLAIM_RE.search(first) or _NAME_RE.search(first):
        return None
    if stems([first]) & fact_stems:
        return None  # "Celebration cakes start at ...": the answer itself
    return first


@dataclass(frozen=True)
class OpeningHabit:
    """How the owner opens an answer to a question that states one of the facts, over all their
    replies (approved or edited): straight with the answer, or with a move first ("Thanks for asking!")."""

    answers: int = 0
    straight: int = 0

    @classmethod
    def learn(cls, owner_replies: Sequence[Example], facts: Sequence[str]) -> OpeningHabit:
        fact_stems, fact_numbers = [stems([f]) for f in facts], [numbers([f]) for f in facts]
        all_stems = set().union(*fact_stems) if fact_stems else set()
        answers = straight = 0
        for message, reply in owner_replies:
            if not QUESTION_RE.search(message):
                continue
            said, said_numbers = stems([reply]), numbers([reply])
            if not any(n & said_numbers or len(w & said) >= FACT_MIN_WORDS for w, n in zip(fact_stems, fact_numbers)):
                continue
            answers += 1
            opening = _opening(reply, all_stems)
            straight += opening is None or not moves(opening)
        return cls(answers, straight)

    @property
    def answers_straight(self) -> bool:
        return self.answers >= HABIT_MIN_ANSWERS and self.straight >= HABIT_MIN_SHARE * self.answers


def owner_opening(
    text: str,
    acknowledge: str,
    has_answer: bool,
    examples: Sequence[Example],
    facts: Sequence[str],
    encoder: Encoder,
    habit: OpeningHabit | None = None,
) -> str | None:
    """The acknowledgement in the owner's way: "" to leave it out, a sentence of theirs, or None to
    keep the plan's. examples: the owner's replies to similar messages, any order; habit: how they
    open their fact answers, for when no similar reply decides."""
    if not acknowledge:
        return None
    first, rest = _first_sentence(acknowledge)
    by_habit = rest if habit is not None and habit.answers_straight and has_answer and moves(first) <= {"thanks"} else None
    if not examples:
        return by_habit
    asks = bool(QUESTION_RE.search(text))
    vectors = encoder.encode([text, *(their for their, _ in examples)])
    scored = sorted(((float(vectors[k + 1] @ vectors[0]), examples[k]) for k in range(len(examples))), key=lambda p: -p[0])
    # Only messages of the same sort: a question's reply is not opened like thanks for praise.
    similar = [(score, reply) for score, (their, reply) in scored if score >= EXAMPLE_MIN_COSINE and bool(QUESTION_RE.search(their)) == asks]
    if not similar:
        return by_habit
    fact_stems = stems(facts)
    openings = [_opening(reply, fact_stems) for _, reply in similar]
    wanted = moves(first)
    straight = [o is None or not moves(o) for o in openings]  # "Yes! We deliver ..." opens with the answer too
    if has_answer and wanted <= {"thanks"} and sum(straight) * 2 > len(openings):
        return rest  # the owner answers such messages straight away
    nearest = openings[0]
    if similar[0][0] >= BORROW_MIN_COSINE and nearest and wanted and moves(nearest) == wanted:
        return " ".join(p for p in (nearest, rest) if p)
    return None  # similar replies decided: the owner opens these with a move of their own


def _first_sentence(text: str) -> tuple[str, str]:
    """The acknowledgement's first sentence, and what follows it ("Hi!" and "How can we help you today?")."""
    said = sentences(text)
    return (said[0], " ".join(said[1:])) if said else ("", "")
