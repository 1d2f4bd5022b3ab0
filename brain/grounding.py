"""Sentence support, for replies and posts alike: which sentences of a draft the brand's current
facts, the follower's or owner's words, the reply's plan or the brand's voice support, and which
present a fact that does not hold today as current.

Both share one notion of a sentence, of a content word (stemmed), of a number as a fact states it
(with its qualifier and unit: "free above 30" is not "free below 30") and of a stale sentence (closer
to an ended fact than to any current one). A post must have every content word supported; a reply,
whose plan sentences always pass, needs most of its words supported or a sentence close in meaning."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from core.config import BrandSettings, Fact
from brain.checks import HANDLE_RE, NUMBER_RE, URL_RE, _link_allowed
from brain.encoder import Encoder

# A reply sentence with at least this share of its content words in the facts, the message, the plan
# or the owner's replies is supported; short of it, it must be this close in meaning to a fact or a
# plan sentence. Closer than ENDED_MIN_COSINE to an ended fact, and closer to it than to any current
# one, it restates the ended fact (a reply is held to a stricter closeness than a post's STALE_COSINE
# because a reply's fixed sentences, "we're sorry ...", sit near every fact).
SUPPORT_MIN_OVERLAP = 0.7
SUPPORT_MIN_COSINE = 0.8
ENDED_MIN_COSINE = 0.7
# A sentence or topic this close (MiniLM cosine) to a fact that ended, and closer to it than to any
# current fact, presents the ended fact as current. Against the sample bakery's autumn sale, "our
# autumn sale" scored 0.62, "20% off all cakes" 0.72, "Fresh cakes every morning." 0.39, "cakes"
# 0.42 (the words check catches the rest: "cheaper this month" 0.43 has no fact behind it).
STALE_COSINE = 0.5
# A topic this close to a fact is about it: the fact goes in the post's plan (or, when the fact
# has ended, the owner is told it was left out). "home delivery" scored 0.37 against the delivery
# fact, "opening hours" 0.68 against the hours; "christmas cookies" at most 0.26 against any.
RELEVANT_COSINE = 0.3
MAX_PLAN_FACTS = 2
# A second fact goes in the plan only this close to the best one: "our opening hours" scored 0.69
# against the hours and 0.39 against "a booked service is ready within 2 days" (padding), "book
# your service online" 0.46 and 0.39 against the two booking facts (both about it).
SECOND_FACT_MARGIN = 0.15

# A word right before a number that changes what the number says ("free above 30" is not "free
# below 30"): it must be the word the fact has there.
QUALIFIERS = frozenset(
    "above below over under from to until till within after before up less more than only just min max "
    "minimum maximum at least most by per each".split()
)
# In a reply, a range word before a number ("from 8:00", "until 18:00") restates a fact's times in
# other words; only words that compare ("above 30", "within 10 km") must be the fact's own.
COMPARING_QUALIFIERS = QUALIFIERS - frozenset("from to until till at by per each just only".split())
_PREV_WORD_RE = re.compile(r"([a-z]+)\W{0,2}$")
_NEXT_WORD_RE = re.compile(r"^\s?(%|[a-z]+)")


def _english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop words, read from the one module of it that holds them: importing
    sklearn itself (and scipy with it) would cost every command about three seconds."""
    found = importlib.util.find_spec("sklearn")
    file = Path(list(found.submodule_search_locations or [])[0]) / "feature_extraction" / "_stop_words.py" if found else None
    spec = importlib.util.spec_from_file_location("_sklearn_stop_words", file) if file and file.is_file() else None
    if spec is None or spec.loader is None:  # another layout: the plain import
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return ENGLISH_STOP_WORDS
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.ENGLISH_STOP_WORDS)


# scikit-learn's stop words include a few that make a claim in a post ("our new system", "a fire",
# "full price"): those must be supported like any other word.
STOP_WORDS = _english_stop_words() - frozenset(
    "bill fire computer system interest detail cry thick thin amount call describe front full found side top bottom "
    "mill con de co inc ltd eg ie un".split()
)
PLACEHOLDER_RE = re.compile(r"\[[^\]]*\]?|\{[^}]*\}?|<[^>]*>?")
_SENTENCE_RE = re.compile(r"(?<=[.!?:;])\s+|\n+")
_FACT_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_WORD_RE = re.compile(r"[a-z][a-z']*")
# Words a post may use with no fact behind them: greetings, invitations and praise that state
# nothing a follower could hold the shop to. Not words that say when ("today", "this weekend",
# "every morning"): those are claims a fact must make ("Enjoying your bike today." was posted for an
# offer that had ended).
POST_WORDS = frozenset(
    """
    hello hi hey welcome thanks thank love lovely enjoy happy great good best wonderful delicious tasty
    yummy treat treats fresh warm come visit stop drop pop swing join see check find look grab order
    shop now soon news update know let tell share favourite favorite friends
    everyone folks customers neighbours neighbors community team day days miss don't can't won't let's
    we're you're it's that's there's here's we'll you'll oh wow yay little bit
    """.split()
)


def stem(word: str) -> str:
    """A crude stem, enough to match 'cakes' with 'cake' and 'delivered' with 'deliver'."""
    word = word.lower().strip("'")
    for suffix in ("ies", "ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word[-1] in "ey" else word


def content_words(text: str) -> list[str]:
    """The words of a text that say something: no stop words, no links, no hashtags' '#'."""
    text = URL_RE.sub(" ", text.lower())
    return [w for w in _WORD_RE.findall(text) if w.strip("'") not in STOP_WORDS and len(w) > 1]


def stems(texts: Iterable[str]) -> set[str]:
    return {stem(w) for text in texts for w in content_words(text)}


def numbers(texts: Iterable[str]) -> set[str]:
    return {n for text in texts for n in NUMBER_RE.findall(text)}


NumberUse = tuple[str, str | None, str | None]  # the number, the word before it, the word (or %) after it


def number_uses(texts: Iterable[str]) -> set[NumberUse]:
    uses: set[NumberUse] = set()
    for text in texts:
        lowered = URL_RE.sub(" ", text.lower())
        for match in NUMBER_RE.finditer(lowered):
            before = _PREV_WORD_RE.search(lowered[: match.start()])
            after = _NEXT_WORD_RE.search(lowered[match.end() :])
            uses.add((match.group(0), before.group(1) if before else None, after.group(1) if after else None))
    return uses


def number_supported(
    use: NumberUse, known: set[NumberUse] | frozenset[NumberUse], qualifiers: frozenset[str] = QUALIFIERS
) -> bool:
    """The number as a fact states it: the same qualifier before it, the same unit after it."""
    number, before, after = use
    return any(
        k_number == number
        and (before not in qualifiers or before == k_before)
        and (after is None or k_after is None or after == k_after)
        for k_number, k_before, k_after in known
    )


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text.strip()) if s.strip()]


def fact_sentences(facts: Sequence[str]) -> list[tuple[int, str]]:
    """Each fact split into its sentences, with the index of the fact it came from: a long fact
    that mixes topics (hours, then parking) is matched sentence by sentence."""
    return [(k, s.strip()) for k, fact in enumerate(facts) for s in _FACT_SENTENCE_RE.split(fact) if s.strip()]


def ended(brand: BrandSettings, today: date) -> list[Fact]:
    """The brand's dated facts whose last day has passed."""
    return [fact for fact in brand.facts if fact.until is not None and fact.until < today]


def not_current(brand: BrandSettings, today: date) -> list[Fact]:
    """The dated facts that do not hold today: ended, or not begun yet."""
    return [fact for fact in brand.facts if not fact.holds_on(today)]


@dataclass(frozen=True)
class PostSupport:
    """What a post may say on one day: the vocabulary and numbers the facts, the owner's words and
    the brand's voice supply, and the ended facts no sentence may present as current."""

    words: frozenset[str]
    numbers: frozenset[NumberUse]
    links: tuple[str, ...]
    handles: frozenset[str]
    current: tuple[str, ...]
    stale: tuple[str, ...]
    current_vectors: np.ndarray
    stale_vectors: np.ndarray

    @classmethod
    def build(
        cls,
        brand: BrandSettings,
        today: date,
        owner_words: Sequence[str],
        encoder: Encoder,
        *,
        owner_words_stale: bool = False,
    ) -> PostSupport:
        """owner_words_stale: the owner's words are about a fact that does not hold today, so the
        words they share with it support nothing (the topic "our autumn sale" does not make the
        ended sale current, nor "spring deals" next spring's)."""
        current = brand.current_facts(today)
        stale = [fact.text for fact in not_current(brand, today)]
        # Words only a fact that does not hold has are not the brand's voice, even in a best post.
        stale_only = stems(stale) - stems(current)
        owner = stems(owner_words) - (stale_only if owner_words_stale else set())
        allowed = owner | stems([*current, brand.name, *brand.hashtags, *brand.allowed_links])
        allowed |= stems(voice_examples(brand, today)) - stale_only
        allowed |= {stem(w) for w in (*POST_WORDS, *STOP_WORDS)}
        grounded = number_uses([*current, *owner_words])
        dim = encoder.encode(["."]).shape[1]
        return cls(
            words=frozenset(allowed),
            numbers=frozenset(grounded),
            links=tuple(brand.allowed_links),
            handles=frozenset(h.lower() for h in brand.allowed_handles),
            current=tuple(current),
            stale=tuple(stale),
            current_vectors=encoder.encode(current) if current else np.zeros((0, dim), dtype=np.float32),
            stale_vectors=encoder.encode(stale) if stale else np.zeros((0, dim), dtype=np.float32),
        )

    def unsupported(self, sentence: str, vector: np.ndarray) -> list[str]:
        """Why this sentence may not be posted today; empty when every part of it is supported."""
        reasons: list[str] = []
        if PLACEHOLDER_RE.search(sentence):
            reasons.append("a placeholder the model left")
        reasons += [f"link not allowed: {link}" for link in URL_RE.findall(sentence) if not _link_allowed(link, self.links)]
        reasons += [f"handle not allowed: {h}" for h in HANDLE_RE.findall(sentence) if h.lower() not in self.handles]
        missing_numbers = [use for use in sorted(number_uses([sentence]), key=str) if not number_supported(use, self.numbers)]
        if missing_numbers:
            shown = ", ".join(" ".join(w for w in (before if before in QUALIFIERS else None, number, after) if w) for number, before, after in missing_numbers)
            reasons.append(f"numbers not in the facts: {shown}")
        missing_words = sorted({w for w in content_words(sentence) if stem(w) not in self.words})
        if missing_words:
            reasons.append(f"not in the facts: {', '.join(missing_words)}")
        best = stale_match(vector, self.current_vectors, self.stale_vectors, STALE_COSINE)
        if best is not None:
            reasons.append(f"about a fact that does not hold today: {self.stale[best]!r}")
        return reasons

    def keep_supported(self, text: str, encoder: Encoder) -> tuple[str, list[tuple[str, list[str]]]]:
        """The text with only its supported sentences, and each dropped sentence with its reasons."""
        parts = sentences(text)
        tail = parts[-1] if parts else ""
        if len(parts) > 1 and not re.search(r"[.!?)\"'…]\W*$", tail) and not re.search(rf"(?:{URL_RE.pattern})$", tail, re.IGNORECASE):
            parts = parts[:-1]  # cut off at max_new_tokens: half a sentence reads worse than none
        if not parts:
            return "", []
        vectors = encoder.encode(parts)
        kept: list[str] = []
        dropped: list[tuple[str, list[str]]] = []
        seen: set[tuple[str, ...]] = set()
        for part, vector in zip(parts, vectors):
            said = tuple(stem(w) for w in _WORD_RE.findall(part.lower()))
            # A small model repeats itself ("Free Delivery: Free Delivery:") and leaves list debris ("1.").
            if len(said) < 2:
                reasons = ["not a sentence"]
            elif said in seen:
                reasons = ["repeats an earlier sentence"]
            else:
                reasons = self.unsupported(part, vector)
            seen.add(said)
            if reasons:
                dropped.append((part, reasons))
            else:
                kept.append(part)
        return " ".join(kept), dropped


def stale_match(vector: np.ndarray, current_vectors: np.ndarray, stale_vectors: np.ndarray, min_cosine: float) -> int | None:
    """The index of the non-current fact a sentence restates (at least min_cosine close to it and
    closer than to any current fact); None when it restates none."""
    if not len(stale_vectors):
        return None
    to_stale = stale_vectors @ vector
    to_current = float((current_vectors @ vector).max()) if len(current_vectors) else -1.0
    best = int(to_stale.argmax())
    return best if float(to_stale[best]) >= min_cosine and float(to_stale[best]) > to_current else None


@dataclass(frozen=True)
class ReplySupport:
    """What one reply may rest on: today's facts, the follower's message and the plan's sentences
    (which always pass); owner_words: replies the owner wrote or approved, their words, not their numbers."""

    current_facts: Sequence[str]
    ended_facts: Sequence[str]
    follower_text: str
    plan_sentences: Sequence[str]
    owner_words: Sequence[str] = ()


def _norm(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.lower()))


def unsupported(draft: str, support: ReplySupport, encoder: Encoder | None = None) -> list[str]:
    """One reason per sentence of a reply that nothing supports; empty when the reply is faithful."""
    plan = {_norm(s) for s in support.plan_sentences}
    current = [s for _, s in fact_sentences(support.current_facts)]
    ended = [s for _, s in fact_sentences(support.ended_facts)]
    grounded = (*current, support.follower_text, *support.plan_sentences)
    known_numbers = number_uses(grounded)
    known_words = stems((*grounded, *support.owner_words))
    ended_numbers = numbers(ended) - numbers(current)
    reasons: list[str] = []
    todo: list[str] = []
    for sentence in sentences(draft):
        if _norm(sentence) in plan:
            continue
        uses = sorted(number_uses([sentence]), key=str)
        if stale := [number for number, _, _ in uses if number in ended_numbers]:
            reasons.append(f"states an ended fact ({stale[0]}): {sentence!r}")
            continue
        if unknown := [number for number, before, after in uses if not number_supported((number, before, after), known_numbers, COMPARING_QUALIFIERS)]:
            reasons.append(f"states a number nothing supports ({unknown[0]}): {sentence!r}")
            continue
        content = [stem(w) for w in content_words(sentence)]
        if content and sum(w in known_words for w in content) / len(content) < SUPPORT_MIN_OVERLAP:
            todo.append(sentence)
    if not todo:
        return reasons
    if encoder is None:
        return reasons + [f"nothing supports it: {s!r}" for s in todo]
    references = [*current, *support.plan_sentences, *(s for reply in support.owner_words for s in sentences(reply))]
    vectors = encoder.encode([*todo, *references, *ended])
    asked, ref, old = vectors[: len(todo)], vectors[len(todo) : len(todo) + len(references)], vectors[len(todo) + len(references) :]
    for k, sentence in enumerate(todo):
        if stale_match(asked[k], ref, old, ENDED_MIN_COSINE) is not None:
            reasons.append(f"restates an ended fact: {sentence!r}")
        elif not len(references) or float((ref @ asked[k]).max()) < SUPPORT_MIN_COSINE:
            reasons.append(f"nothing supports it: {sentence!r}")
    return reasons


def voice_examples(brand: BrandSettings, today: date) -> list[str]:
    """The brand's best posts that may stand as its voice today: those stating no number the
    current facts lack and no two words only a fact that does not hold has (last month's sale
    post is out)."""
    current = brand.current_facts(today)
    known = numbers(current)
    stale_only = stems(fact.text for fact in not_current(brand, today)) - stems(current)
    return [
        post
        for post in brand.best_posts
        if numbers([post]) <= known and len(stems([post]) & stale_only) < 2
    ]


def relevant(topic_vector: np.ndarray, texts: Sequence[str], vectors: np.ndarray, limit: int = MAX_PLAN_FACTS) -> list[str]:
    """The texts at least RELEVANT_COSINE close to the topic and within SECOND_FACT_MARGIN of the
    closest, closest first, at most limit."""
    if not texts:
        return []
    scores = vectors @ topic_vector
    best = float(scores.max())
    order = [int(i) for i in np.argsort(-scores) if float(scores[i]) >= max(RELEVANT_COSINE, best - SECOND_FACT_MARGIN)]
    return [texts[i] for i in order[:limit]]
