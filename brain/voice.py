"""The owner's way of opening a reply, learnt from their own replies to similar messages.

The plan opens every reply with a fixed acknowledgement ("Thanks for asking!"). Owners differ:
many answer a question straight away ("Yes! We deliver within 10 km ..."), or thank in their own
words ("Aw, thank you!"). From the owner's replies to the messages most like this one, the plan
takes how they open: nothing, when most of them go straight to the point, or the nearest one's
opening sentence, when it makes the same move as the plan's (thanks for thanks, an apology for an
apology, a hello for a hello) and states nothing (no number, day, link, name or fact word).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from brain.encoder import Encoder
from brain.examples import EXAMPLE_MIN_COSINE, Example
from brain.fact_search import QUESTION_RE
from brain.grounding import sentences, stems

OPENING_MAX_WORDS = 8
# Borrowing the owner's own opening sentence needs a message much closer than leaving the opening
# out: "best cinnamon rolls in town" (thanked) sits 0.5-0.6 from "how much is a cinnamon roll".
BORROW_MIN_COSINE = 0.75

_MOVES = {
    "thanks": re.compile(r"\b(thank|thanks|thx|appreciate)", re.IGNORECASE),
    "apology": re.compile(r"\b(sorry|apologi[sz]e|apologies)\b", re.IGNORECASE),
    "hello": re.compile(r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening))\b", re.IGNORECASE),
}
_CLAIM_RE = re.compile(
    r"\d|https?://|www\.|@\w|\b(today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
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


def owner_opening(
    text: str, acknowledge: str, has_answer: bool, examples: Sequence[Example], facts: Sequence[str], encoder: Encoder
) -> str | None:
    """The acknowledgement in the owner's way: "" to leave it out, a sentence of theirs, or None to
    keep the plan's. examples: the owner's replies to similar messages, any order."""
    if not examples or not acknowledge:
        return None
    asks = bool(QUESTION_RE.search(text))
    vectors = encoder.encode([text, *(their for their, _ in examples)])
    scored = sorted(((float(vectors[k + 1] @ vectors[0]), examples[k]) for k in range(len(examples))), key=lambda p: -p[0])
    # Only messages of the same sort: a question's reply is not opened like thanks for praise.
    similar = [(score, reply) for score, (their, reply) in scored if score >= EXAMPLE_MIN_COSINE and bool(QUESTION_RE.search(their)) == asks]
    if not similar:
        return None
    fact_stems = stems(facts)
    openings = [_opening(reply, fact_stems) for _, reply in similar]
    first, rest = _first_sentence(acknowledge)
    wanted = moves(first)
    straight = [o is None or not moves(o) for o in openings]  # "Yes! We deliver ..." opens with the answer too
    if has_answer and wanted <= {"thanks"} and sum(straight) * 2 > len(openings):
        return rest  # the owner answers such messages straight away
    nearest = openings[0]
    if similar[0][0] >= BORROW_MIN_COSINE and nearest and wanted and moves(nearest) == wanted:
        return " ".join(p for p in (nearest, rest) if p)
    return None


def _first_sentence(text: str) -> tuple[str, str]:
    """The acknowledgement's first sentence, and what follows it ("Hi!" and "How can we help you today?")."""
    said = sentences(text)
    return (said[0], " ".join(said[1:])) if said else ("", "")
