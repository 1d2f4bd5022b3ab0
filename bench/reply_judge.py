"""The benchmark's judge: is a drafted reply or post one the owner would send? Independent of brain/checks.py.

A reply is acceptable when it makes every move its row requires (bench/replies/README.md), states
every answering fact, makes none of the forbidden moves or phrases, invents nothing (no number, day,
date, link, @handle or promise missing from the business's current facts and the follower's own
words), writes the brand's language (a hand-off excepted) and has no off-topic sentence: each
sentence is either a conversational move or is about a current fact or what the follower wrote.

A row that no fact answers and that wants a hand-off must not get a fact that is beside the point
presented as if it answered ("do you cut afro hair?" and the re-cut guarantee): every current fact
the reply states (its numbers or half of its words) must be one the owner's own reply to that row
mentions too (also by its link alone), or one the row lists in `may_mention`.

Its limits: it reads words, not claims. A day or number that appears anywhere in the facts counts as
supported ("we deliver on Saturday" passes for a shop open on Saturdays), so a wrong pairing of true
pieces is not caught; a person reading the benchmark's unacceptable samples still helps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np

from core.config import BrandSettings

# A sentence that is not a conversational move nor in the facts' and the follower's own words may
# still paraphrase them: with at most one word of its own per four (at least one), and at least this close (MiniLM cosine) to
# a current fact or the follower's message. The value is calibrate_min_cosine() on the tune split: 95%
# of the tune questions are at least this close to the fact that answers them (0.249 on the 439 tune
# rows since the held-out batches 1-2 joined them, rounded down; 0.265 on the first 239).
SUPPORT_MIN_COSINE = 0.2

MOVE_PATTERNS: dict[str, re.Pattern[str]] = {
    "thanks": re.compile(r"\b(thank|thanks|thx|cheers|appreciate|you're welcome|my pleasure)", re.I),
    "greeting": re.compile(r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening)|welcome)\b", re.I),
    "apology": re.compile(r"\b(sorry|apologi[sz]e|apologies|we regret)\b", re.I),
    "private": re.compile(r"\b(private message|direct message|privately|dm us|dm me|message us|send us a message|inbox)\b", re.I),
    "handoff": re.compile(
        r"\b(member of (our|the) team|one of us|a colleague|our team|the owner|a person|someone from|the team)\b[^.!?]{0,40}"
        r"\b(get back|follow up|be in touch|reply|contact|answer|look into|help)"
        r"|\bwe('ll| will) (get back|follow up|be in touch)\b",
        re.I,
    ),
    "stop_ack": re.compile(r"\b(won't|will not|no longer) (message|contact|write to|send)|\bunsubscribed\b|\bremoved you\b", re.I),
    # Not when negated: "if you are not happy with your cut, ..." (a fact) cheers no one.
    "cheer": re.compile(
        r"(?<!\bnot )(?<!n't )\b(glad|happy|enjoy\w*|love|loving|lovely|wonderful|awesome|amazing|delighted|fantastic|yay|exciting|great to hear)\b", re.I
    ),
}

# Words a conversational move may use beyond the follower's own words and the facts (thanks,
# apologies, hand-offs, invitations to write privately, greetings, sign-offs, stopping).
MOVE_WORDS = """
thank thanks thx cheers appreciate much lot means mean kind words lovely loveliest love glad happy hear
great wonderful compliment best sorry apologies apologise apologize really very trouble wait waiting
delay mix-up mistake please send private message direct dm details name photo order number member team
get back follow shortly soon right away straight away now pass bakers owner person colleague help helping
see then there welcome hi hello hey good morning evening afternoon how can question asking asked
checking interest suggestion idea feedback letting know telling tell patience understood won't again
messages contact look into sort make put fix check happen happened shouldn't should standard want
shouldn't that's not way arrive asked yes sure course oh no problem here go enjoy ride well running ha
kind word mind note ok okay done noted too also though hope feeling better interesting lovely idea
congratulations gorgeous looks sounds like arrived arrive address find never date amount sharing share call
phone talk through more everyone came come coming while lasts last writing write reaching out contacting here
""".split()

# Words that only count as "a day or date" when said: they must come from the facts or the follower.
DATE_WORDS = re.compile(
    r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july|"
    r"august|september|october|november|december|today|tonight|tomorrow|yesterday|weekend|next week|this week|"
    r"next month|this month|christmas|easter|midnight|noon|morning|evening|afternoon)s?\b",
    re.I,
)
NUMBER_WORDS = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|hundred|thousand|dozen)\b", re.I)
PROMISES = re.compile(
    r"\b(refund\w*|discount\w*|free|guarantee\w*|money back|replace\w*|compensat\w*|vouchers?|coupons?|on the house|"
    r"warranty|(i|we)('ll| will) be there|next week|in person)\b",
    re.I,
)
NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)?")
LINK_RE = re.compile(r"https?://[^\s)\]]+|www\.[^\s)\]]+|\b[\w-]+\.(?:com|net|org|io|ly|example|de)(?:/[^\s)\]]*)?", re.I)
HANDLE_RE = re.compile(r"(?<![\w@])@\w+")
# A sentence that says a fact has ended (or not begun) may name it: "the autumn sale ended with November".
NOT_CURRENT_RE = re.compile(r"\b(ended|over|finished|no longer|has passed|was|were|from|starting|coming|soon|until)\b", re.I)
# "How can we help you today?" is a greeting, not a date.
HELP_PHRASE_RE = re.compile(r"\bhow can (we|i) help( you)?( today)?", re.I)
FACT_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
# A fact counts as stated when a text has at least half of its content words (and at least two).
STATED_MIN_SHARE = 0.5
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\s+[-–]\s+(?=[A-Z])|\n+")
WORD_RE = re.compile(r"[a-zà-ÿ][a-zà-ÿ'-]*", re.I)

STOPWORDS = set(
    """a an the and or but if so to of in on at for from by with about as into is are was were be been being am do does
did done have has had having i me my we us our you your he she it its they them their this that these those there here
what which who whom when where why how all any both each few more most other some such no nor not only own same than too
very can will just should would could may might must shall it's i'm you're we're we'll we've i'll you'll they're don't
can't won't isn't aren't hasn't haven't wasn't you'd we'd i'd doesn't didn't let's s t also up out off over again then once get got go going one""".split()
)

# A few function words per language, to tell which language a reply is in.
LANGUAGE_WORDS = {
    "en": "the and you your we our is are to for with thanks thank please this that it of in".split(),
    "de": "und der die das ist ich wir ihr sie nicht mit für danke bitte ein eine zu auf".split(),
    "fr": "le la les et est je nous vous pas avec pour merci une des du sur".split(),
    "es": "el la los las y es yo nosotros usted con para gracias una por del que".split(),
    "it": "il lo la gli è io noi voi non con per grazie una che del".split(),
    "nl": "de het een en is ik wij jij niet met voor bedankt dank jullie".split(),
}


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Business:
    """What a reply may rest on: the facts current on the bench's day, and the brand's own words."""

    name: str
    facts: tuple[str, ...]
    not_current: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    signoff: str = ""
    language: str = "en"

    @classmethod
    def from_brand(cls, brand: BrandSettings, today: date) -> Business:
        return cls(
            name=brand.name,
            facts=tuple(brand.current_facts(today)),
            not_current=tuple(_with_dates(f.text, f.from_, f.until) for f in brand.facts if not f.holds_on(today)),
            links=tuple(brand.allowed_links),
            handles=tuple(brand.allowed_handles),
            signoff=brand.signoff,
            language=brand.language,
        )


def _with_dates(text: str, start: date | None, end: date | None) -> str:
    # "Keratin from 1 January" may be said of a fact that starts then: its dates are part of it.
    dates = [f"{label} {d.day} {d:%B %Y}" for label, d in (("from", start), ("until", end)) if d]
    return f"{text} ({', '.join(dates)})" if dates else text


@dataclass(frozen=True)
class Verdict:
    acceptable: bool
    problems: tuple[str, ...] = ()
    answered: bool = False
    handoff: bool = False
    invented: tuple[str, ...] = field(default_factory=tuple)


def stem(word: str) -> str:
    """Crude but language-free: words sharing their first five letters count as the same word."""
    return word.lower().strip("'-")[:5]


def content_stems(text: str) -> set[str]:
    words = [w.lower() for w in WORD_RE.findall(LINK_RE.sub(" ", text))]
    return {stem(w) for w in words if len(w) > 1 and w not in STOPWORDS}


MOVE_STEMS = {stem(w) for w in MOVE_WORDS}
# A post may open with a short hook ("Party season!", "Working late?"); a reply may not ramble.
POST_HOOK_WORDS = 2


def sentences(text: str) -> list[str]:
    # Links carry dots: take them out before splitting, so "shop.example/x" is not three sentences.
    flat = LINK_RE.sub(" LINK ", text)
    return [s.strip() for s in SENTENCE_RE.split(flat) if s.strip()]


def language_of(text: str) -> str:
    words = [w.lower() for w in WORD_RE.findall(text)]
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in LANGUAGE_WORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > scores["en"] else "en"


def has_move(move: str, text: str) -> bool:
    return bool(MOVE_PATTERNS[move].search(text))


def _numbers(text: str) -> set[str]:
    found = set()
    for n in NUMBER_RE.findall(text):
        n = n.replace(",", ".")
        found.add(n)
        found.add(re.split(r"[.:]", n)[0])  # "8:00" supports "8", "3.50" supports "3"
    return found


def _words(pattern: re.Pattern[str], text: str) -> set[str]:
    return {m.group(0).lower().rstrip("s") for m in pattern.finditer(text)}


def states_fact(text: str, fact: str, asked: str = "", by_link: bool = False) -> bool:
    """Whether a text states a fact: its numbers, or half of its content words (at least two) beyond
    those the follower's message already has; with by_link, also the fact's link alone (a link in a
    reply is the `link` move, not a claim: it only shows that the owner has the fact in mind)."""
    links = [link.rstrip(".,!?;:") for link in LINK_RE.findall(fact)]
    if by_link and any(link in text for link in links):
        return True
    fact_numbers = _numbers(fact) - _numbers(asked)
    if fact_numbers and fact_numbers <= _numbers(text):
        return True
    words = content_stems(fact) - content_stems(asked) - MOVE_STEMS
    return len(words) >= 2 and len(words & content_stems(text)) >= max(2, STATED_MIN_SHARE * len(words))


def beside_the_point(text: str, row: Mapping[str, Any], business: Business) -> list[str]:
    """The current facts a reply states to a row that no fact answers and that wants a hand-off,
    when the owner's reply does not mention them and the row does not list them in may_mention."""
    if row.get("answer") or "handoff" not in row.get("must", ()):
        return []
    fine = [row.get("owner_reply", ""), *row.get("may_mention", ())]
    facts = [s.strip() for fact in business.facts for s in FACT_SENTENCE_RE.split(fact) if s.strip()]
    return [
        fact for fact in facts
        if states_fact(text, fact, row["text"]) and not any(states_fact(f, fact, row["text"], by_link=True) for f in fine if f)
    ]  # fmt: skip


class Judge:
    """Scores replies and posts for one run; the encoder is only a tool for the topic rule."""

    def __init__(self, encoder: SentenceEncoder, min_cosine: float = SUPPORT_MIN_COSINE) -> None:
        self.encoder = encoder
        self.min_cosine = min_cosine
        self._vectors: dict[str, np.ndarray] = {}

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            for text, vec in zip(todo, self.encoder.encode(todo)):
                self._vectors[text] = vec
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 1))

    def support_score(self, sentence: str, support: Sequence[str]) -> float:
        """Closeness of a sentence to the closest text it may rest on."""
        if not support:
            return 0.0
        vectors = self._encode([sentence, *support])
        return float((vectors[1:] @ vectors[0]).max())

    def off_topic(self, text: str, business: Business, said: Sequence[str], hook_words: int = 0) -> list[str]:
        """Sentences that are neither a conversational move nor about a fact or the follower's words.

        hook_words: a sentence with at most this many content words passes as it is ("Party
        season!" in a post); what it claims is still held to invented()."""
        bad = []
        for sentence in sentences(text.replace(business.signoff, " ") if business.signoff else text):
            sentence = HELP_PHRASE_RE.sub(" ", sentence)
            # A sentence that says a fact has ended, or is still to come, may rest on that fact.
            facts = [*business.facts, *business.not_current] if NOT_CURRENT_RE.search(sentence) else list(business.facts)
            support = [*facts, *said]
            allowed = set().union(*(content_stems(t) for t in support)) | content_stems(business.name) | MOVE_STEMS
            allowed.add(stem("link"))
            words = content_stems(sentence)
            unexplained = words - allowed
            if not unexplained or len(words) <= hook_words:
                continue  # a move, or a restatement in the facts' and the follower's own words
            # A paraphrase may bring a word of its own per four (at least one), and must be close in meaning.
            if (
                len(unexplained) <= max(1, len(words) // 4)
                and len(words) >= 3
                and words & (allowed - MOVE_STEMS)
                and self.support_score(sentence, support) >= self.min_cosine
            ):
                continue
            bad.append(sentence)
        return bad

    def invented(self, text: str, business: Business, said: Sequence[str]) -> list[str]:
        """Numbers, days, dates, links, @handles and promises nobody gave us."""
        support = " ".join([*business.facts, *said, business.name, business.signoff])
        found: list[str] = []
        for link in LINK_RE.findall(text):
            link = link.rstrip(".,!?;:")
            if link not in business.links and link not in support:
                found.append(f"link {link}")
        for sentence in sentences(text):
            sentence = HELP_PHRASE_RE.sub(" ", sentence)
            local = support
            if NOT_CURRENT_RE.search(sentence):
                local = " ".join([support, *business.not_current])
            for n in _numbers(sentence) - _numbers(local):
                found.append(f"number {n}")
            for pattern, kind in ((DATE_WORDS, "date"), (NUMBER_WORDS, "number"), (PROMISES, "promise")):
                for word in _words(pattern, sentence) - _words(pattern, local):
                    found.append(f"{kind} {word}")
            for handle in HANDLE_RE.findall(sentence):
                if handle.lower() not in {h.lower() for h in business.handles} and handle.lower() not in local.lower():
                    found.append(f"handle {handle}")
        return sorted(set(found))

    def reply(self, text: str, row: Mapping[str, Any], business: Business, said_before: Sequence[str] = ()) -> Verdict:
        """row: a messages.jsonl row; said_before: the contact's earlier messages."""
        text = text.strip()
        must, problems = list(row.get("must", [])), []
        said = [row["text"], *said_before]
        handoff = bool(text) and has_move("handoff", text)
        if "no_reply" in must:
            return Verdict(not text, () if not text else ("spam got a reply",), handoff=handoff)
        if not text:
            ok = "stop_ack" in must
            return Verdict(ok, () if ok else ("no reply",))
        for move in must:
            if move == "link":
                if not any(link in text for link in business.links):
                    problems.append("no shop link")
            elif not has_move(move, text):
                problems.append(f"no {move}")
        for move in row.get("must_not", []):
            if has_move(move, text):
                problems.append(f"{move} where it does not belong")
        for phrase in row.get("forbid", []):
            if phrase.lower() in text.lower():
                problems.append(f"says {phrase!r}")
        answered = all(
            all(any(alt.lower() in text.lower() for alt in token) for token in answer["tokens"])
            for answer in row.get("answer", [])
        )
        if not answered:
            problems.append("does not state the answering fact")
        problems += [f"states a fact beside the point: {fact[:60]!r}" for fact in beside_the_point(text, row, business)]
        invented = self.invented(text, business, said)
        problems += [f"invented {item}" for item in invented]
        problems += [f"off-topic: {s!r}" for s in self.off_topic(text, business, said)]
        if language_of(text) != business.language and not handoff:
            problems.append(f"written in {language_of(text)}")
        return Verdict(not problems, tuple(problems), answered=bool(row.get("answer")) and answered, handoff=handoff, invented=tuple(invented))

    def post(self, text: str, row: Mapping[str, Any], business: Business) -> Verdict:
        """row: a posts.jsonl row. Hashtags are the brand's own business and not judged."""
        body = re.sub(r"(?<![\w#])#\w+", " ", text).strip()
        if not body:
            return Verdict(False, ("empty post",))
        problems = []
        for phrase in row.get("forbid", []):
            if phrase.lower() in body.lower():
                problems.append(f"says {phrase!r}")
        answered = all(
            all(any(alt.lower() in body.lower() for alt in token) for token in answer["tokens"])
            for answer in row.get("answer", [])
        )
        if not answered:
            problems.append("does not state the topic's facts")
        said = [row["topic"]]
        invented = self.invented(body, business, said)
        problems += [f"invented {item}" for item in invented]
        problems += [f"off-topic: {s!r}" for s in self.off_topic(body, business, said, hook_words=POST_HOOK_WORDS)]
        if language_of(body) != business.language:
            problems.append(f"written in {language_of(body)}")
        return Verdict(not problems, tuple(problems), answered=answered, invented=tuple(invented))


def calibrate_min_cosine(rows: Sequence[Mapping[str, Any]], judge: Judge, percentile: float = 5.0) -> float:
    """How close an on-topic sentence is to the message: the given percentile of the cosine between
    each question and the fact that answers it, rounded down to 0.05. Pass tune rows only."""
    scores = [
        judge.support_score(row["text"], [answer["fact"]])
        for row in rows
        if row["intent"] == "question"
        for answer in row.get("answer", [])
    ]
    if not scores:
        raise ValueError("no answered questions to calibrate on")
    return float(np.floor(np.percentile(scores, percentile) * 20) / 20)
