"""Messages a person must answer: requests the shop handles in person, and languages the brand does not write in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from brain.encoder import Encoder
from brain.nearest import LabelledExamples

# A few ways people ask for each thing only the shop can do. NONE holds everyday questions
# that sound close ("when are you open on friday evening?") so they are not taken for a booking.
NONE = "none"
IN_PERSON_EXAMPLES: dict[str, tuple[str, ...]] = {
    NONE: (
        "what time do you open on saturday",
        "are you open on friday evening",
        "do you deliver",
        "how much is delivery",
        "how do I order",
        "where is my order",
        "do you have gluten free bread",
        "can I order online",
        "will my order arrive tomorrow",
        "what if I'm not happy with it",
        "how do I book",
    ),
    "booking": (
        "can I reserve a table for four tonight",
        "I'd like to book a table for saturday",
        "can I make an appointment for a haircut",
        "book me in for friday at 3",
        "can I bring my bike in for a repair on monday",
        "do you have a free slot tomorrow",
        "can I book a cake tasting",
        "do you have any appointments left this week",
    ),
    # A change to a booking already made: how new ones are booked does not answer it.
    "booking_change": (
        "I need to move my appointment to next week",
        "can I reschedule my booking",
        "something came up, can you move me to another day?",
    ),
    # The follower's own booking or order, which only a person can look up: no fact answers it.
    "status": (
        "I never got a confirmation email, is my booking ok?",
        "is my appointment still on?",
        "any news on my repair?",
        "is my bike ready yet?",
        "can you send me a receipt for my visit?",
        "I lost my ticket, can I still collect it?",
        "did my booking go through?",
        "I think I was charged twice, can someone check?",
        "my bank shows two payments for one visit",
        "I lost my gift card, can you send it again?",
    ),
    "refund": (
        "I want a refund",
        "can I get my money back",
        "please refund my order",
    ),
    "order_change": (
        "can I change my order",
        "please cancel my order",
        "can I change the delivery address of my order",
        "can I add something to my order",
        "can I pick up my order a day later",
        "I put the wrong address on my order, can you correct it?",
    ),
}
IN_PERSON_MIN_COSINE = 0.6
# The follower's own booking or order is named only closer: its short examples ("is my appointment
# still on?") sit 0.6-0.65 from cancelling one ("can I cancel tomorrow without paying?"), a rule's
# question, and 0.7-0.9 from "never got a confirmation email, am I booked?" (the bench's tune rows).
STATUS_MIN_COSINE = 0.7

# Languages the detector tells apart: the brand's own plus the ones followers most often write in.
DETECTED_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "tr")
MIN_WORDS_FOR_LANGUAGE = 4  # "ok", "merci", "hi" say too little to tell a language by
_WORD_RE = re.compile(r"[^\W\d_]+")
# The most frequent function words per language. The detector alone takes short English
# questions with a loanword ("do you have vegan croissants?") for French; a message with the
# brand's own function words in it is the brand's language whatever the detector says.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the you your do does is are can could i my we have has what when where how which will would of to for and it this that with at in on as was no not more so be from all just too very please thanks omg ur u r lol pls plz thx im dont wanna gonna".split()),
    "de": frozenset("der die das und ist ihr habt sie wir ich nicht mit ein eine wann wo wie was kann könnt für auf in im am auch zu von".split()),
    "fr": frozenset("le la les et est vous nous je ne pas un une de des du en pour avec quand où comment que qui êtes avez".split()),
    "es": frozenset("el la los las y es usted ustedes yo no un una para con sin por de en me mi lo cuando dónde cómo qué que tienen están hay".split()),
    "it": frozenset("il lo la gli le e è voi noi io non un una di in per con quando dove come che siete avete".split()),
    "nl": frozenset("de het een en is in jullie wij ik niet met voor wanneer waar hoe wat zijn hebben".split()),
    "pl": frozenset("w z do na nie się jest że czy mnie jak co".split()),
    "pt": frozenset("o os as e é você vocês eu não um uma para com sem por de no me quando onde como que estão têm".split()),
}
# Only Spanish opens a question or an exclamation with these.
SPANISH_MARKS = ("¿", "¡")
# How sure lingua (fast mode) must be of a language to name it without a function word for it. It
# is sure and wrong on a few short texts ("¿tienen pan sin gluten?": Dutch, 0.89), so a function
# word or mark of one language wins over it, and a text with neither and a less sure guess is "".
MIN_CONFIDENCE = 0.9


@dataclass(frozen=True)
class InPerson:
    kind: str  # "booking", "booking_change", "status", "refund", "order_change", or "" when the message asks for none
    similarity: float


class InPersonRequests:
    def __init__(self, encoder: Encoder) -> None:
        self.examples = LabelledExamples(encoder, IN_PERSON_EXAMPLES)

    def match(self, vector: np.ndarray) -> InPerson:
        kind, similarity = self.examples.nearest(vector)
        least = STATUS_MIN_COSINE if kind == "status" else IN_PERSON_MIN_COSINE
        return InPerson(kind if kind != NONE and similarity >= least else "", similarity)


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes if hasattr(IsoCode639_1, code.upper())]
    # Low-accuracy mode reads short texts a little worse and runs many times faster; a wrong
    # guess only sends a message to the owner.
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().with_minimum_relative_distance(0.1).build()


def _best_guess(text: str, also: str) -> tuple[str, float]:
    """The detector's likeliest language for the text and how sure it is (0-1); ("", 0) for none."""
    detector = _detector(tuple(dict.fromkeys((also.lower()[:2], *DETECTED_LANGUAGES))))
    best = max(detector.compute_language_confidence_values(text), key=lambda c: c.value, default=None)
    return (best.language.iso_code_639_1.name.lower(), best.value) if best is not None else ("", 0.0)


def detected_language(text: str, also: str = "en") -> str:
    """The message's ISO 639-1 code, or "" when it is too short or the detector is not sure
    (MIN_CONFIDENCE). also: a language the detector must know besides DETECTED_LANGUAGES (the brand's own)."""
    if len([w for w in _WORD_RE.findall(text) if len(w) > 1]) < MIN_WORDS_FOR_LANGUAGE:
        return ""
    language, confidence = _best_guess(text, also)
    return language if confidence >= MIN_CONFIDENCE else ""


@lru_cache(maxsize=8)
def _only_words_of(language: str) -> frozenset[str]:
    """Function words of this language that no other listed language has."""
    others = set().union(*(words for code, words in FUNCTION_WORDS.items() if code != language))
    return FUNCTION_WORDS.get(language, frozenset()) - others


def _marked_languages(text: str, tokens: set[str]) -> set[str]:
    """Languages that have a function word (one no other listed language has) or a mark in the text."""
    marked = {code for code in FUNCTION_WORDS if tokens & _only_words_of(code)}
    return marked | ({"es"} if any(mark in text for mark in SPANISH_MARKS) else set())


def message_language(text: str, brand_language: str) -> str:
    """The message's ISO 639-1 code: the brand's own when it uses the brand's function words
    (whatever the detector says); another when its own function words or marks say so, or else
    when the detector is sure (MIN_CONFIDENCE). A guess the detector is not sure of is marked
    with "?" ("nl?"): the message is probably not in the brand's language, but which one is
    unclear. "" when it is too short to tell, or more likely the brand's own.

    What the owner gets: a message in another language, or probably in one ("nl?"), waits for them
    (brain/policy.py), with the language or the guess shown as such, never a guess passed off as
    known; an answer in the brand's language to someone who cannot read it is worse than a wait.
    A text too short to tell ("merci", "ok thanks") goes through the brand's usual rules."""
    own = brand_language.lower()[:2]
    if own != "es" and any(mark in text for mark in SPANISH_MARKS):
        return "es"  # unmistakable, however short ("¿hacen envíos?")
    if len([w for w in _WORD_RE.findall(text) if len(w) > 1]) < MIN_WORDS_FOR_LANGUAGE:
        return ""
    tokens = {w.lower() for w in _WORD_RE.findall(text)}
    # Each language with a function word of its own (or a mark) in the text; one alone decides,
    # at no cost (most messages). Mixed ("de koffie was koud"): the detector picks among them.
    candidates = _marked_languages(text, tokens) | ({own} if tokens & _only_words_of(own) else set())
    if len(candidates) == 1:
        return candidates.pop()
    guess, confidence = _best_guess(text, own)
    sure = confidence >= MIN_CONFIDENCE
    if candidates:  # the words name several languages
        if guess in candidates and (sure or own not in candidates):
            return guess if sure else f"{guess}?"
        return "" if own in candidates else f"{sorted(candidates)[0]}?"
    if not guess or guess == own:
        return guess if sure else ""
    if (tokens & FUNCTION_WORDS.get(own, frozenset())) - FUNCTION_WORDS.get(guess, frozenset()):
        return own  # the brand's function words, shared with other languages but not the detected one
    return guess if sure else f"{guess}?"


def foreign_language(text: str, brand_language: str) -> str:
    """The language of a message the brand does not write in, or "" (the brand's own, or unclear)."""
    language = message_language(text, brand_language)
    return "" if language == brand_language.lower()[:2] else language
