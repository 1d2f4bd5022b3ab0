"""Which of the brand's current facts answer a follower's question, by meaning with the encoder."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from brain.checks import URL_RE
from brain.encoder import Encoder
from brain.grounding import content_words, fact_sentences, stem
from brain.relevance import relevance_of

# A question closer than this to every fact sentence is one the facts do not answer (MiniLM
# cosine; on a dozen bakery questions, answered ones scored 0.48-0.84, unanswered ones 0.10-0.34).
ANSWER_MIN_COSINE = 0.4
# A second fact this close to the best one answers the question as well (say "delivery" and both
# the delivery fact and the free-delivery threshold are about it); further apart, only the best.
SECOND_FACT_MARGIN = 0.05
# Words that carry no claim: a sentence made of them and supported words states nothing new.
STOPWORDS = frozenset(
    "a an the and or but so to of in on at for with from by is are was were be been am it its it's this that these those "
    "we we're we'll our us you you're your yours i i'm me my they their them he she his her there here "
    "do does did can could will would shall should may might must have has had not no yes if as than then "
    "just very so too also all any some more most about up out into over again still yet now soon shortly "
    "please thanks thank hi hello hey dear sorry oh well really lovely great good happy glad nice welcome "
    "what when where which who how why let know get got".split()
)
# A question is closer to another question than to a statement, also when they ask about different
# things ("do you sell helmets?" and "Do you sell bikes?"): an owner's question counts this much less.
OWNER_QUESTION_OFFSET = 0.1
MAX_FACTS = 3  # a reply states at most this many fact sentences
SUB_QUESTION_EXTRA = 0.1  # a further question in the message needs a clearer answer than the first
SUB_QUESTION_MARGIN = 0.05  # ... or an answer this far ahead of the next fact for that question alone
# The message read together with the previous one ("and sundays?") counts this much less than the
# message alone: "cool, how long does a flat take?" after "are you open saturday?" asks about the flat.
FOLLOW_UP_PENALTY = 0.1
FOLLOW_UP_MAX_WORDS = 10  # messages this short are also read together with the previous one
CONTINUATION_MAX_WORDS = 25  # ... and ones this short that start by carrying on ("ok and if ...")
_CONTINUES_RE = re.compile(
    r"^\W*(?:(?:ok|okay|k|cool|nice|great|perfect|thanks|ta|oh|ah|right|brilliant|lovely|sweet|sounds good)\b[\s,.!]*)*"
    r"(?:and|also|plus|what about|how about)\b",
    re.IGNORECASE,
)
# The cross-encoder this sure that the best fact answers overrules the word-by-word coverage check
# (brain/coverage.py): "do you cut kids hair?" and "a children's cut ... 20 EUR" share no word.
# Such an answer waits for the owner unless the words match too (and RELEVANCE_SEND below). Chosen on
# the reply bench's tune split (799 rows) with the model of 2026-12-07 (288 businesses): 0.5, 0.3,
# 0.2, 0.1, 0.05 gave 87.9, 88.6, 89.1, 89.6, 89.0% acceptable, the share of acceptable automatic
# replies the same (98.0%); its P is low for a right answer in other words more often than high
# for a wrong one, and such a reply waits.
RELEVANCE_SURE = 0.1
# A fact answer goes out on its own (the policy permitting) only when the cross-encoder gives the
# fact at least this P of answering.
RELEVANCE_SEND = 0.5
# A further question of the message gets a fact of its own when the cross-encoder, reading that
# question alone, is this sure of it ("what do you charge to fix a flat and do i need to book first?":
# the booking rule at 0.67). On the tune split (2,689 rows) 0.9 -> 0.6 fixed two replies and broke none;
# 0.5 changed nothing more.
SUB_QUESTION_SURE = 0.6
# ... and this sure that it does not: "do you do wedding cakes?" is not about the ended cake sale.
RELEVANCE_NOT = 0.05
# "and can I pay with my phone": a further question often starts with "and" or "also".
QUESTION_RE = re.compile(
    r"\?|^\s*(?:(?:and|or|also|plus|but|so)\s+)?(?:do|does|is|are|r|can|could|what|whats|when|where|how|which|will|would|who|why)\b", re.IGNORECASE
)
# Where a message's sentences end: punctuation, a line break, a comma, an "and"/"or" before a new
# question, or an emoji between words ("it's been 5 weeks 🙈 is that a problem").
_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?])\s+|\n+|,\s+|\s+(?:and|or)\s+(?=(?:do|does|is|are|can|could|what|when|where|how|which|will|would)\b)"
    r"|\s*[\u2600-\u27bf\U0001f300-\U0001faff]+\ufe0f?\s+"
)
_ASIDE_RE = re.compile(r"\s*\([^)]*\)")
_WEEKDAY_RE = re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b", re.IGNORECASE)
_TIME_RE = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b", re.IGNORECASE)
_STREET_RE = re.compile(r"\b(?:street|road|lane|avenue|square|st\.|rd\.)\s*\d|\b\d+\s+\w+\s+(?:street|road|lane|avenue)\b", re.IGNORECASE)
_LIKELY_QUESTIONS: tuple[tuple[tuple[re.Pattern[str], ...], str], ...] = (
    ((_WEEKDAY_RE, _TIME_RE), "What are your opening hours?"),
    ((_STREET_RE,), "Where are you located? What is your address?"),
)
_POINTS_BACK_RE = re.compile(r"\b(?:that|it|this|them|those|these|one)\b", re.IGNORECASE)
_CLAUSE_RE = re.compile(r"[;:]\s+|,\s+(?=[a-z])")
# Words a follower wraps a question in: they carry no meaning the facts could match.
_FILLER_RE = re.compile(
    r"^\s*(?:hi|hey|hello|hiya|yo|good (?:morning|afternoon|evening)|quick question|question|pls|please|sorry)\b[\s,!.:-]*",
    re.IGNORECASE,
)


# A question word with "'s" reads far from the same question spelled out ("where's the shop" and
# "Where are you located?"): it is matched spelled out too.
_CONTRACTION_RE = re.compile(r"\b(where|what|when|how|who|which)['’]s\b", re.IGNORECASE)


@dataclass(frozen=True)
class FactMatch:
    sentences: tuple[str, ...]  # the fact sentences that answer, best first; empty when none does
    score: float  # the best sentence's cosine similarity to the question
    runner_up: float  # the best sentence from another fact (how clear-cut the answer is)
    questions: tuple[str, ...] = ()  # the questions the owner wrote for those sentences' facts
    relevance: float | None = None  # the cross-encoder's P(the first sentence's fact answers); None without one
    sure: str = ""  # the best sentence of a fact the cross-encoder is sure answers (RELEVANCE_SURE)
    sure_relevance: float = 0.0  # ... and its P
    unanswered_parts: int = 0  # questions of a message of several that no stated fact answers (cross-encoder)

    @property
    def about(self) -> tuple[str, ...]:
        """What the chosen facts are about: their sentences and the owner's questions for them."""
        return (*self.sentences, *self.questions)

    def with_sure(self) -> FactMatch:
        """The match with the fact the cross-encoder is sure of first, for a reply to a question
        ("open on christmas eve?" and "On 24 December we close at 13:00" share no word); a
        complaint or a request keeps the facts found by meaning alone."""
        if not self.sure or self.sentences[:1] == (self.sure,):
            return self
        sentences = (self.sure, *(s for s in self.sentences if s != self.sure))[:MAX_FACTS]
        return replace(self, sentences=sentences, relevance=self.sure_relevance)


def question_parts(text: str) -> list[str]:
    """The whole message, and each of its sentences without greeting filler: "Hi! Quick question,
    when do you open?" is matched on "when do you open?" too; "do I have to book or can I just come
    by?" also as its two questions, and "where's the shop" also as "where is the shop"."""
    parts = [text.strip()]
    expanded = _CONTRACTION_RE.sub(lambda m: f"{m.group(1)} is", text.strip())
    if expanded != parts[0]:
        parts.append(expanded)
    for sentence in _SENTENCE_END_RE.split(text):
        core = _FILLER_RE.sub("", sentence).strip()
        if len(core.split()) >= 2 and core not in parts:
            parts.append(core)
    return parts


def _units(sentence: str) -> list[str]:
    """A sentence and its clauses: "Colour starts at 70 EUR; balayage at 140 EUR." is also matched
    as its two halves, short paraphrases closer to a short question than the whole sentence."""
    clauses = [c.strip(" .;,") for c in _CLAUSE_RE.split(sentence)]
    units = [sentence, *(c for c in clauses if len(c.split()) >= 3 and c != sentence)]
    # A link says nothing the encoder can read, and an aside in brackets pulls the sentence's meaning
    # away from its point ("The gift box (six pastries and ...) costs 24 EUR").
    bare = [" ".join(_ASIDE_RE.sub("", URL_RE.sub(" ", u)).split()) for u in units]
    # The question a fact answers, where its kind says it plainly: a week's times are the opening
    # hours ("?? hours" is nowhere near "We are open Monday to Saturday, 8:00 to 18:00").
    likely = [question for pattern, question in _LIKELY_QUESTIONS if all(p.search(sentence) for p in pattern)]
    return list(dict.fromkeys([*units, *(b for b in bare if len(b.split()) >= 3), *likely]))


Asked = tuple[tuple[str, ...], ...]  # per fact sentence, the owner's questions it answers


def _unit_vectors(encoder: Encoder, sentences: tuple[str, ...], asked: Asked) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # The facts change only with the config: encode them once (kept with the encoder), not for every question.
    return encoder.memo(("fact_search.units", sentences, asked), lambda: _encode_units(encoder, sentences, asked))


def _encode_units(encoder: Encoder, sentences: tuple[str, ...], asked: Asked) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit's vector, the sentence it belongs to, and what its cosine counts less (an owner's question)."""
    owner, texts, less = [], [], []
    for k, sentence in enumerate(sentences):
        for unit in _units(sentence):
            owner.append(k)
            texts.append(unit)
            less.append(0.0)
        for question in asked[k]:
            owner.append(k)
            texts.append(question)
            less.append(OWNER_QUESTION_OFFSET)
    return encoder.encode(texts), np.array(owner), np.array(less)


def _asked_per_sentence(
    split: list[tuple[int, str]], facts: Sequence[str], questions: Mapping[str, Sequence[str]], encoder: Encoder
) -> Asked:
    """The owner's questions of each fact, given to the fact's sentence closest to each question
    (a fact of one sentence, the usual case, gets them all)."""
    asked: list[list[str]] = [[] for _ in split]
    for k, fact in enumerate(facts):
        mine = [j for j, (owner, _) in enumerate(split) if owner == k]
        its = [q for q in questions.get(fact, ()) if q.strip()]
        if not mine or not its:
            continue
        if len(mine) == 1:
            asked[mine[0]].extend(its)
            continue
        vectors = encoder.encode([*its, *(split[j][1] for j in mine)])
        closest = (vectors[: len(its)] @ vectors[len(its) :].T).argmax(axis=1)
        for question, j in zip(its, closest):
            asked[mine[int(j)]].append(question)
    return tuple(tuple(a) for a in asked)


def answering_facts(
    text: str, facts: Sequence[str], encoder: Encoder, context: str = "", questions: Mapping[str, Sequence[str]] | None = None
) -> FactMatch:
    """The fact sentences that answer the message: the best one above ANSWER_MIN_COSINE, the best
    of each further question in it ("what are your hours and do you deliver?"), and one more from
    another fact within SECOND_FACT_MARGIN of the best. context: the follower's previous message,
    for follow-ups such as "and how much are they?". questions: per fact text, the questions the
    owner wrote that it answers; a fact is matched against them as well as against its wording."""
    split = fact_sentences(facts)
    if not split or not text.strip():
        return FactMatch((), 0.0, 0.0)
    sentences = tuple(s for _, s in split)
    given = questions or {}
    key = ("fact_search.asked", tuple(facts), tuple(sorted((fact, tuple(asks)) for fact, asks in given.items())))
    per_sentence_questions = encoder.memo(key, lambda: _asked_per_sentence(split, facts, given, encoder))
    vectors, owner, less = _unit_vectors(encoder, sentences, per_sentence_questions)
    parts = question_parts(text)
    # A message that asks something is matched on its questions: "love your bread!" in "love your
    # bread! what are your hours?" is not what it asks about.
    asked = [k for k in range(1, len(parts)) if QUESTION_RE.search(parts[k])]
    skip = [k for k in range(1, len(parts)) if asked and k not in asked]
    own = len(parts)
    continues = bool(context.strip()) and continues_previous(text)
    if context.strip() and (len(text.split()) <= FOLLOW_UP_MAX_WORDS or continues):
        parts.append(f"{context.strip()} {text.strip()}")
    unit_scores = vectors @ encoder.encode(parts).T - less[:, None]  # (units, parts)
    scores = np.full((len(split), len(parts)), -1.0)
    np.maximum.at(scores, owner, unit_scores)
    scores[:, skip] = -1.0
    scores[:, own:] -= FOLLOW_UP_PENALTY
    per_sentence = scores.max(axis=1)
    order = np.argsort(-per_sentence)
    best = int(order[0])
    others = [int(k) for k in order[1:] if split[int(k)][0] != split[best][0]]
    runner_up = float(per_sentence[others[0]]) if others else 0.0
    verdict = _verdict(text, parts[own:], facts, encoder, continues)
    sure, sure_p = "", float(verdict.max(initial=0.0)) if verdict is not None else 0.0
    if verdict is not None and sure_p >= RELEVANCE_SURE:
        fact = int(verdict.argmax())
        sure = split[_closest_sentence(fact, split, per_sentence)][1]
    found = {"sure": sure, "sure_relevance": sure_p if sure else 0.0}
    if float(per_sentence[best]) < ANSWER_MIN_COSINE:
        relevance = float(verdict[split[best][0]]) if verdict is not None else None
        return FactMatch((), float(per_sentence[best]), runner_up, relevance=relevance, **found)
    chosen = [best]
    for part in range(1, len(parts)):  # each further question gets its own best answer
        if not QUESTION_RE.search(parts[part]):
            continue
        k = int(scores[:, part].argmax())
        rivals = [float(scores[j, part]) for j in range(len(split)) if split[j][0] != split[k][0]]
        clear = float(scores[k, part]) - max(rivals, default=0.0) >= SUB_QUESTION_MARGIN
        if k not in chosen and (
            float(scores[k, part]) >= ANSWER_MIN_COSINE + SUB_QUESTION_EXTRA or (clear and float(scores[k, part]) >= ANSWER_MIN_COSINE)
        ):
            chosen.append(k)
    if others and runner_up >= ANSWER_MIN_COSINE and float(per_sentence[best]) - runner_up <= SECOND_FACT_MARGIN and others[0] not in chosen:
        chosen.append(others[0])
    # "do you take apple pay? and is there parking": each question the cross-encoder, reading it
    # alone, is sure a fact answers gets that fact, also in words the cosine does not match.
    per_part: list[np.ndarray] = []
    for part in asked if len(asked) >= 2 else ():
        # "how much is that": read with the sentence before it, which says what "that" is.
        question = f"{parts[part - 1]} {parts[part]}" if _POINTS_BACK_RE.search(parts[part]) and part - 1 > 0 else parts[part]
        k, part_verdict = _sure_sentence(question, facts, split, scores[:, part], encoder)
        if part_verdict is not None:
            per_part.append(part_verdict)
        if k is not None and k not in chosen and all(split[j][0] != split[k][0] for j in chosen):
            chosen.append(k)
    chosen = sorted(chosen[:MAX_FACTS], key=lambda k: -float(per_sentence[k]))
    stated = {split[k][0] for k in chosen}
    # A question of the message that none of the stated facts answers, as the cross-encoder reads it alone.
    unanswered = sum(max((float(v[f]) for f in stated), default=0.0) < RELEVANCE_SEND for v in per_part)
    return FactMatch(
        tuple(split[k][1] for k in chosen), float(per_sentence[best]), runner_up, tuple(q for k in chosen for q in per_sentence_questions[k]),
        float(verdict[split[chosen[0]][0]]) if verdict is not None else None, **found, unanswered_parts=unanswered,
    )


def _sure_sentence(
    question: str, facts: Sequence[str], split: list[tuple[int, str]], cosines: np.ndarray, encoder: Encoder
) -> tuple[int | None, np.ndarray | None]:
    """The sentence (closest by meaning) of the fact the cross-encoder is sure answers this one
    question of the message, None when it is sure of none; and its P per fact (None without a cross-encoder)."""
    model = relevance_of(encoder)
    if model is None:
        return None, None
    verdict = model.scores(question, facts)
    if float(verdict.max(initial=0.0)) < SUB_QUESTION_SURE:
        return None, verdict
    return _closest_sentence(int(verdict.argmax()), split, cosines), verdict


def _closest_sentence(fact: int, split: list[tuple[int, str]], cosines: np.ndarray) -> int:
    """Of the fact's sentences, the one closest to the message by meaning."""
    return max((j for j in range(len(split)) if split[j][0] == fact), key=lambda j: float(cosines[j]))


def _verdict(text: str, joined: list[str], facts: Sequence[str], encoder: Encoder, continues: bool = False) -> np.ndarray | None:
    """Per fact, the cross-encoder's P(it answers the message), or of the message read with the
    previous one when it is a short follow-up, whichever is higher; only the latter when the message
    carries on from the previous one ("and if it breaks after a month, am I covered?" after asking
    for a second-hand bike is about its warranty, not the storage fee for a repair). None without a
    cross-encoder."""
    model = relevance_of(encoder)
    if model is None:
        return None
    if continues and joined:
        return model.scores(joined[-1], facts)
    return np.max(np.stack([model.scores(t, facts) for t in (text, *joined)]), axis=0)


def continues_previous(text: str) -> bool:
    """Whether the message carries on from the follower's previous one: "and ...", "ok and ...",
    "nice, and what about ...", "also ..."."""
    return len(text.split()) <= CONTINUATION_MAX_WORDS and bool(_CONTINUES_RE.match(text))
