"""Whether the facts a reply states cover what the follower asked about, word by word.

The encoder finds the nearest fact for any question, also for one the facts say nothing about:
"do you repair carbon frames?" lands on the e-bike fact, "do you sell helmets?" on the city bikes.
What gives it away is the thing asked about: a word of the question that names something (not how
one asks: "how much", "open", "today") and that no word of the chosen facts matches. A reply whose
question names nothing the facts match, or a thing itself they do not match ("afro" in "do you cut
afro hair?"), hands off; one whose question's circumstances only are not matched ("delivery to the
north side") states the facts it has and says a person will follow up; neither goes out on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from brain.encoder import Encoder
from brain.fact_search import QUESTION_RE
from brain.grounding import STOP_WORDS, content_words, stem

# A question's word and a fact's word at least this close (MiniLM cosine between the single words)
# name the same thing: "ebikes" and "e-bikes" 0.77, "kids" and "children" 0.88, "fix" and "repair"
# 0.625; not so a kind of the thing or a neighbour: "eyebrow" and "hair" 0.60, "afro" and "hair"
# 0.56, "beans" and "bread" 0.55, "helmets" and "bikes" 0.32. (Leave-one-business-out on the bench's
# tune split preferred 0.65 to 0.55; between them only the pairs above decide. A synonym below it
# is for the owner's questions to a fact to name.)
WORD_MIN_COSINE = 0.62
# How people ask, in general English, whatever the shop: times, prices, wanting, ordering, where,
# greetings and filler. These words never name the thing asked about, so they need no fact's word.
FRAME_WORDS = frozenset(
    """
    time times hour hours open opening opened close closing closed late early long much many often
    price prices pricing priced cost costs costing charge charges fee fees pay paying payment paid cheap expensive
    euro euros eur dollar dollars pound pounds buck bucks money cash card cards
    want wanted wanting need needed needs like love loved wanna gonna gotta looking look try trying
    get getting got make making take taking come coming go going drop dropping pop stop visit bring sell sells
    selling sold have has having carry offer offering provide available availability possible able allowed
    work works working deal handle handling just also even minute minutes people person persons
    cover covers covered include includes included including
    today tonight tomorrow yesterday week weeks weekend weekends month months year years morning mornings evening
    evenings afternoon night day days daily now soon still anymore already ago next last first usually normally
    where located location address find place near nearby around area way directions
    order orders ordering ordered online shop store buy buying purchase link website site page
    book booking booked reserve reservation slot appointment appointments
    exactly roughly approximately really actually quick quickly fast asap sure maybe anything something thing
    things stuff kind sort type bit lot lots little
    hi hey hello hiya yo pls please plz thanks thank thx ty cool ok okay great nice good lol haha tho btw omg
    guys folks wondering wonder question quick curious ask asking know tell info information details
    whats hows wheres whens does doing did do done can could would will
    """.split()
)
_WEEKDAY_OR_MONTH_RE = re.compile(
    r"^(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?s?$|^(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)$",
    re.IGNORECASE,
)
_PART_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_POSSESSIVE_RE = re.compile(r"[a-z]+(?:'s|s')?")  # a word, or a possessive: no other apostrophe
# Where the circumstances of what a question asks about begin.
_ADJUNCT_RE = re.compile(
    r",|(?<=\w)\s+(?:to|for|on|in|at|from|with|near|by|after|before|during|if|because|since|while|but|when)\s+", re.IGNORECASE
)
_COMPOUND_RE = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")


def _words(text: str, compounds: bool = False) -> list[str]:
    """A text's content words, a possessive without its ending ("men's" is "men"; "it's" and "can't"
    are no content words); with compounds, its hyphenated words also written as one word ("blow-dry"
    is "blow", "dry" and "blowdry", which a follower may write)."""
    words = [w.split("'")[0] for w in content_words(text) if _POSSESSIVE_RE.fullmatch(w) and w.split("'")[0] not in STOP_WORDS]
    joined = [c.replace("-", "") for c in _COMPOUND_RE.findall(text.lower())] if compounds else []
    return list(dict.fromkeys(w for w in [*words, *joined] if w.isalpha()))


@dataclass(frozen=True)
class Coverage:
    named: tuple[str, ...]  # the words that name what the message asks about
    uncovered: tuple[str, ...]  # those no word of the chosen facts matches
    thing: tuple[str, ...] = ()  # the named words of the thing itself, before any "to ...", "for ...", "on ..."

    @property
    def none_covered(self) -> bool:
        return bool(self.named) and len(self.uncovered) == len(self.named)

    @property
    def thing_uncovered(self) -> bool:
        """The thing asked about is not what the facts are about ("do you cut afro hair?" and the
        prices of cuts); only its circumstances are ("delivery to the north side")."""
        return any(w in self.uncovered for w in self.thing)


def _asking_parts(text: str) -> list[str]:
    parts = [p for p in _PART_RE.split(text.strip()) if p.strip()]
    return [p for p in parts if QUESTION_RE.search(p)] or parts


def _named(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(w for w in words if len(w) > 2 and w not in FRAME_WORDS and not _WEEKDAY_OR_MONTH_RE.match(w)))


def asked_words(text: str) -> list[str]:
    """The words that name what a message asks about: from its questions ("is there a lift? I have
    a pram" asks about the lift), without how it asks, days and months, numbers."""
    return _named([w for part in _asking_parts(text) for w in _words(part)])


def asked_thing(text: str) -> list[str]:
    """The words that name the thing a message asks about, without its circumstances: what comes
    before a comma, a preposition or an "if" ("can you fit a child seat | on my bike?", "how much
    is delivery | to the north side"); all of asked_words when that part names nothing ("what's in
    | the gift box?")."""
    heads = [_ADJUNCT_RE.split(part, maxsplit=1)[0] for part in _asking_parts(text)]
    return _named([w for head in heads for w in _words(head)]) or asked_words(text)


def coverage(text: str, facts: Sequence[str], encoder: Encoder) -> Coverage:
    """Which words the message asks about the facts match (the same stem, or close in meaning)."""
    named = asked_words(text)
    thing = tuple(asked_thing(text))
    fact_words = _words(" ".join(facts), compounds=True)
    if not named or not fact_words:
        return Coverage(tuple(named), tuple(named) if not fact_words else (), thing)
    fact_stems = {stem(w) for w in fact_words}
    todo = [w for w in named if stem(w) not in fact_stems]
    uncovered: list[str] = []
    if todo:
        vectors = encoder.encode([*todo, *fact_words])
        similarity = vectors[: len(todo)] @ vectors[len(todo) :].T
        uncovered = [w for w, row in zip(todo, similarity) if float(row.max()) < WORD_MIN_COSINE]
    return Coverage(tuple(named), tuple(uncovered), thing)
