"""Post variants: planned from the current facts, held to them, shaped to the brand's rules and ranked."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from core.config import BrandSettings, Fact
from core.text import counted
from brain import grounding
from brain.checks import PRICE_RE, CheckContext, check_draft
from brain.encoder import Encoder
from brain.generator import ChatMessage, GenerationOptions, TextGenerator
from brain.grounding import PostSupport

# Short and cool: SmolLM2-135M at 0.8 wandered off the topic in 15 of 15 variants on the sample
# bakery, at 0.3 with the few-shot prompt it stayed on it in most (measured on the tune topics of bench/replies/posts.jsonl).
POST_OPTIONS = GenerationOptions(max_new_tokens=60, temperature=0.3, top_p=0.9, repetition_penalty=1.1, seed=7)
MAX_DROPPED_NOTES = 3  # more dropped sentences than this are summed up in one note
FAILED_PENALTY = 1.0  # a variant that fails a check ranks below every one that passes

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
# Pictographs, dingbats, flags and the joiners and selectors that glue emoji together.
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]+")


@dataclass(frozen=True)
class PostDraft:
    """A post variant. source: "model" as the model wrote it, "repaired" with its unsupported
    sentences left out, "plan" the plan's own wording. notes: what the owner should know (a fact
    left out because it ended, sentences dropped, a fallback)."""

    text: str
    score: float
    check_failures: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    source: str = "model"


def clip_to(text: str, max_chars: int) -> str:
    """Cut at the last sentence (or word) end that fits, never mid-word."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    sentence_end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if sentence_end >= max_chars // 2:
        return head[: sentence_end + 1]
    return head.rsplit(" ", 1)[0].rstrip(",;:-") if " " in head else head


def shape_post(text: str, platform: str, brand: BrandSettings) -> str:
    """Apply the brand's hashtag and emoji rules, then fit the platform's limit, tags included."""
    text = text.strip().strip('"').strip()
    if not brand.use_emoji:
        text = EMOJI_RE.sub("", text)
    found = HASHTAG_RE.findall(text)
    body = re.sub(r"[ \t]{2,}", " ", HASHTAG_RE.sub("", text)).strip()
    tags: list[str] = []
    if brand.use_hashtags:
        for tag in [*brand.hashtags, *found]:
            if tag.lower() not in {t.lower() for t in tags}:
                tags.append(tag)
        tags = tags[: brand.max_hashtags]
    suffix = (" " + " ".join(tags)) if tags else ""
    limit = brand.length_limit(platform)
    return clip_to(body, max(limit - len(suffix), 1)) + suffix


@dataclass(frozen=True)
class PostPlan:
    """What a post about a topic may say on a day: the current facts about the topic, the owner's
    own words, and the brand's voice. Ended facts about the topic are left out and reported;
    facts about it that start later are stated only with their start date, in the plan's wording.
    A topic about an ended offer (ended_topic) is posted as having ended, with what holds instead."""

    topic: str
    today: date
    facts: tuple[str, ...]
    left_out: tuple[Fact, ...]
    upcoming: tuple[Fact, ...]
    topic_stale: bool  # the topic itself is about a fact that does not hold today
    voice: tuple[str, ...]
    support: PostSupport
    ended_topic: Fact | None = None  # the ended fact the topic names: the post says it has ended

    def owner_notes(self) -> tuple[str, ...]:
        notes = [f"{fact.text!r} ended on {fact.until}: left out" for fact in self.left_out]
        if self.ended_topic is not None:
            instead = "; the post says it has ended" + (" and states what holds now instead" if self.facts else "")
            notes = [note + instead if fact == self.ended_topic else note for fact, note in zip(self.left_out, notes)]
        notes += [f"{fact.text!r} starts on {fact.from_}: stated as coming then" for fact in self.upcoming]
        return tuple(notes)

    def upcoming_sentences(self) -> list[str]:
        """Each fact that starts later, with when it starts (its own words when they name the month)."""
        return [fact.as_coming() for fact in self.upcoming if fact.from_]


# Words that name an offer or its season rather than what it is about: an ended "autumn sale on all
# cakes" and a current fact share the subject "cakes", not the words "autumn" or "sale".
OFFER_WORDS = frozenset(
    """
    sale sales offer offers deal deals discount discounts special specials promotion promo price prices cost costs
    instead off end ends ended until till back now new cheap cheaper save saving
    spring summer autumn fall winter season seasonal christmas easter holiday holidays weekend week month
    january february march april may june july august september october november december
    """.split()
)
OFFER_STEMS = frozenset(grounding.stem(w) for w in OFFER_WORDS)


def _dated(fact: Fact) -> bool:
    return fact.from_ is not None or fact.until is not None


def facts_instead_of(ended: Fact, brand: BrandSettings, today: date, encoder: Encoder) -> list[str]:
    """What a post about an ended offer states instead, as an owner would: what is on now (the
    current dated fact closest in meaning to the ended one: the stollen after the autumn sale) and
    the current fact about the same thing (the most words in common with it, season and offer
    words aside: the colour prices after the colour discount). Empty when neither exists."""
    current = [fact for fact in brand.facts if fact.holds_on(today)]
    if not current:
        return []
    vectors = encoder.encode([ended.text, *(fact.text for fact in current)])
    closeness = vectors[1:] @ vectors[0]
    chosen: list[str] = []
    seasonal = [k for k, fact in enumerate(current) if _dated(fact)]
    if seasonal:
        chosen.append(current[max(seasonal, key=lambda k: float(closeness[k]))].text)
    subject = grounding.stems([ended.text]) - OFFER_STEMS
    shared = [len(subject & grounding.stems([fact.text])) for fact in current]
    # An offer on a price is followed by the price: "colour starts at 70 EUR", not the patch test.
    priced = bool(PRICE_RE.search(ended.text))
    others = [k for k in range(len(current)) if shared[k] and current[k].text not in chosen]
    if others:
        same = max(others, key=lambda k: (shared[k], priced and bool(PRICE_RE.search(current[k].text)), float(closeness[k])))
        chosen.append(current[same].text)
    return chosen


def ended_offer_named(topic: str, closest_stale: Fact | None, left_out: Sequence[Fact], current: Sequence[str]) -> Fact | None:
    """The ended fact a topic names: the not-current fact it is closest to, when that one has ended,
    or an ended one whose number the topic names and no current fact has ("the 39 EUR basic service")."""
    if closest_stale is not None and closest_stale in left_out:
        return closest_stale
    only_ended = grounding.numbers([topic]) - grounding.numbers(current)
    return next((fact for fact in left_out if only_ended & grounding.numbers([fact.text])), None)


def ended_sentence(topic: str) -> str:
    """The post's first sentence for a topic about an ended offer, in the owner's words."""
    words = topic.strip().rstrip(".!?")
    named = words.split(" ", 1)[0].lower() in {"our", "the", "this", "that", "my"}
    if not named:
        offer = grounding.stem(words.rsplit(" ", 1)[-1]) in OFFER_STEMS
        words = f"our {words}" if offer else f"our {words} offer"
    return f"{words[0].upper()}{words[1:]} has ended - thank you!"


def make_plan(topic: str, brand: BrandSettings, today: date, encoder: Encoder) -> PostPlan:
    current = brand.current_facts(today)
    stale = grounding.not_current(brand, today)
    vectors = encoder.encode([topic, *current, *(fact.text for fact in stale)])
    topic_vec, current_vecs, stale_vecs = vectors[0], vectors[1 : 1 + len(current)], vectors[1 + len(current) :]
    to_stale = stale_vecs @ topic_vec
    to_current = float((current_vecs @ topic_vec).max()) if current else -1.0
    about = [fact for fact, score in zip(stale, to_stale) if float(score) >= grounding.RELEVANT_COSINE]
    left_out = tuple(fact for fact in about if fact.until is not None and fact.until < today)
    upcoming = tuple(fact for fact in about if fact not in left_out)[: grounding.MAX_PLAN_FACTS]
    topic_stale = bool(len(stale)) and float(to_stale.max()) >= grounding.STALE_COSINE and float(to_stale.max()) > to_current
    ended = ended_offer_named(topic, stale[int(to_stale.argmax())] if topic_stale else None, left_out, current)
    topic_stale = topic_stale or ended is not None
    facts = facts_instead_of(ended, brand, today, encoder) if ended is not None else []
    if not facts:
        facts = grounding.relevant(topic_vec, current, current_vecs)
    if not facts and topic_stale and current:
        # Nothing current is about this topic: the closest current fact keeps the post useful.
        facts = [current[int((current_vecs @ topic_vec).argmax())]]
    support = PostSupport.build(brand, today, [topic], encoder, owner_words_stale=topic_stale)
    voice = tuple(grounding.voice_examples(brand, today))
    return PostPlan(topic, today, tuple(facts), left_out, upcoming, topic_stale, voice, support, ended)


def post_prompt(plan: PostPlan, platform: str, brand: BrandSettings) -> list[ChatMessage]:
    """Few-shot: each of the brand's voice posts as an earlier answer, then the topic with its facts.
    A small model copies the shape of an example much better than it follows a described one."""
    limit = brand.length_limit(platform)
    tags = f"End with up to {brand.max_hashtags} hashtags." if brand.use_hashtags and brand.max_hashtags else "Use no hashtags."
    emoji = "You may use an emoji or two." if brand.use_emoji else "Use no emoji."
    system = (
        f"You write short social-media posts for {brand.name}. Tone: {brand.tone}. Language: {brand.language}. "
        f"State only the facts given; no other numbers, products or promises. Keep each post under {limit} characters. {tags} {emoji}"
    )
    messages = [ChatMessage("system", system)]
    for post in plan.voice:
        messages += [ChatMessage("user", f"Write a short post about: {_gist(post)}"), ChatMessage("assistant", post)]
    facts = " ".join(plan.facts) or "(none: state no facts)"
    links = ", ".join(brand.allowed_links) or "none"
    subject = brand.name if plan.topic_stale else plan.topic
    messages.append(ChatMessage("user", f"Write a short post about: {subject}\nFacts: {facts}\nLinks: {links}"))
    return messages


def _gist(post: str, words: int = 4) -> str:
    """A voice post's topic for its few-shot turn: its first few content words."""
    return " ".join(grounding.content_words(post)[:words])


def _headline(plan: PostPlan, brand: BrandSettings) -> str:
    if plan.topic_stale or not plan.topic.strip():
        return f"News from {brand.name}!"
    topic = plan.topic.strip()
    topic = topic[0].upper() + topic[1:]
    return topic if topic[-1] in ".!?" else f"{topic}!"


# Other ways to open and close the plan's wording, for variants beyond its first: every word is the
# owner's topic, the brand's name or one a post may use with no fact behind it (grounding.POST_WORDS),
# so they claim nothing. English, so only for a brand that writes in English; another gets the
# orders of its facts and the link or none.
OPENINGS = ("News from {name}: {topic}{end}", "Hello from {name}! {headline}")
OPENING_NO_TOPIC = "Hello from {name}!"  # when the topic is not said (it is about a fact that does not hold)
CLOSINGS_WITH_LINK = ("Find out more: {link}", "Come and see us! {link}", "See you soon!")
CLOSINGS = ("Come and see us!", "See you soon!")


def _english(brand: BrandSettings) -> bool:
    return brand.language.lower().startswith("en")


def _openings(plan: PostPlan, brand: BrandSettings) -> list[str]:
    """The headline first, then the others; "" opens with the facts themselves."""
    if plan.ended_topic is not None:
        return [ended_sentence(plan.topic)]  # a post about an ended offer always says so first
    headline = _headline(plan, brand)
    if plan.topic_stale or not plan.topic.strip():
        return [headline, *([OPENING_NO_TOPIC.format(name=brand.name)] if _english(brand) else [])]
    topic = plan.topic.strip()
    end = topic[-1] if topic[-1] in "!?" else "!"  # the owner's question mark stays
    topic = topic.rstrip(".!?")
    others = [o.format(name=brand.name, topic=topic, headline=headline, end=end) for o in OPENINGS] if _english(brand) else []
    return [headline, *others, *([""] if plan.facts else [])]


def _closings(brand: BrandSettings, linked: bool) -> list[str]:
    """The shop link alone first (nothing when a fact already has a link), then the calls to action."""
    if brand.allowed_links and not linked:
        link = brand.allowed_links[0]
        return [link, *(c.format(link=link) for c in CLOSINGS_WITH_LINK)] if _english(brand) else [link, ""]
    return ["", *(CLOSINGS if _english(brand) else ())]


def plan_wordings(plan: PostPlan, platform: str, brand: BrandSettings) -> list[str]:
    """The plan's own wording first (see plan_post), then other wordings of the same plan: another
    opening, the facts in another order, another call to action, each differing from the one before
    in its opening and its closing where it can. All distinct, and each states every fact the first
    states (a longer opening must not push a fact past the platform's limit)."""
    openings = _openings(plan, brand)
    orders = [list(plan.facts), *([list(reversed(plan.facts))] if len(plan.facts) > 1 else [])]
    linked = any(link in part for part in [plan.topic, *plan.upcoming_sentences(), *plan.facts] for link in brand.allowed_links)
    closings = _closings(brand, linked)
    grid = sorted(
        itertools.product(range(len(openings)), range(len(orders)), range(len(closings))),
        key=lambda ofc: ((ofc[2] - ofc[0]) % len(closings), ofc[1], ofc[0]),
    )
    wordings: list[str] = []
    stated: list[str] = []
    for o, f, c in grid:
        parts = [openings[o], *plan.upcoming_sentences(), *orders[f], closings[c]]
        text = shape_post(" ".join(p for p in parts if p), platform, brand)
        if not wordings:
            stated = [fact for fact in [*plan.upcoming_sentences(), *plan.facts] if fact in text]
        if text not in wordings and all(fact in text for fact in stated):
            wordings.append(text)
    return wordings


def plan_post(plan: PostPlan, platform: str, brand: BrandSettings) -> str:
    """The plan's own wording: a headline from the owner's topic, the facts, the shop link, the
    brand's hashtags. Every word is the owner's or a current fact, so it can always be posted."""
    return plan_wordings(plan, platform, brand)[0]


def _mentions(text: str, fact: str, topic: str) -> bool:
    """Whether the text states the fact: all its numbers, and half of the words it adds to the topic."""
    if not grounding.numbers([fact]) <= grounding.numbers([text]):
        return False
    wanted = grounding.stems([fact]) - grounding.stems([topic])
    return len(wanted & grounding.stems([text])) * 2 >= len(wanted)


def hold_to_plan(raw: str, plan: PostPlan, platform: str, brand: BrandSettings, encoder: Encoder) -> PostDraft:
    """The model's text with only what the plan supports; the plan's wording when too little is left."""
    text = raw.strip().strip('"').strip()
    # A hashtag is a claim like any word: the model's own stay only when the plan supports them.
    tags = [tag for tag in HASHTAG_RE.findall(text) if grounding.stem(tag[1:]) in plan.support.words]
    body = re.sub(r"[ \t]{2,}", " ", re.sub(r"#(?!\w)", "", HASHTAG_RE.sub("", text))).strip()
    kept, dropped = plan.support.keep_supported(body, encoder)
    on_plan = grounding.stems([plan.topic if not plan.topic_stale else "", *plan.facts]) & grounding.stems([kept])
    if not on_plan:
        note = f"the model wrote nothing the facts support ({counted(len(dropped), 'sentence')} left out): the plan's wording instead"
        return PostDraft(plan_post(plan, platform, brand), 0.0, notes=(note,), source="plan")
    if len(dropped) > MAX_DROPPED_NOTES:
        notes = [f"left out {len(dropped)} sentences the facts do not support, e.g. {dropped[0][0][:60]!r}: {'; '.join(dropped[0][1])}"]
    else:
        notes = [f"left out {sentence[:60]!r}: {'; '.join(reasons)}" for sentence, reasons in dropped]
    # A post about an ended offer states everything the plan has instead of it; any other, its main fact.
    wanted = plan.facts if plan.ended_topic is not None else plan.facts[:1]
    if plan.facts and (plan.ended_topic is not None or not any(_mentions(kept, fact, plan.topic) for fact in plan.facts)):
        missing = [fact for fact in wanted if not _mentions(kept, fact, plan.topic)]
        if missing:
            kept = kept.rstrip(":;,-– ")
            kept = " ".join([f"{kept}{'' if kept[-1] in '.!?' else '.'}", *missing])
            notes.append("added the fact the post is about" if len(missing) == 1 else f"added {len(missing)} facts the post is about")
    if plan.ended_topic is not None:
        kept = f"{ended_sentence(plan.topic)} {kept}"
    source = "repaired" if notes else "model"
    return PostDraft(shape_post(" ".join([kept, *tags]), platform, brand), 0.0, notes=tuple(notes), source=source)


def score_posts(
    texts: Sequence[str], topic: str, brand: BrandSettings, encoder: Encoder, *, today: date | None = None
) -> list[float]:
    """Closeness to the brand's best past posts that still hold today (its voice) and to the topic."""
    if not texts:
        return []
    voice_posts = grounding.voice_examples(brand, today or date.today())
    vectors = encoder.encode([*texts, topic, *voice_posts])
    drafts, topic_vec, best = vectors[: len(texts)], vectors[len(texts)], vectors[len(texts) + 1 :]
    on_topic = drafts @ topic_vec
    if len(best) == 0:
        return [float(s) for s in on_topic]
    voice = (drafts @ best.T).max(axis=1)
    return [float(s) for s in 0.5 * voice + 0.5 * on_topic]


def _check_context(topic: str, platform: str, brand: BrandSettings, today: date, upcoming: Sequence[str]) -> CheckContext:
    """upcoming: the plan's sentences about facts that start later, whose numbers a post may state."""
    return CheckContext(brand=brand, max_chars=brand.length_limit(platform), grounding=[topic, *upcoming], today=today)


def _rank(
    variants: Sequence[PostDraft],
    topic: str,
    platform: str,
    brand: BrandSettings,
    encoder: Encoder,
    today: date,
    upcoming: Sequence[str] = (),
) -> list[PostDraft]:
    ctx = _check_context(topic, platform, brand, today, upcoming)
    scores = score_posts([v.text for v in variants], topic, brand, encoder, today=today)
    ranked = []
    for variant, score in zip(variants, scores):
        failures = tuple(check_draft(variant.text, ctx))
        ranked.append(replace(variant, score=round(score - (FAILED_PENALTY if failures else 0.0), 4), check_failures=failures))
    return sorted(ranked, key=lambda d: d.score, reverse=True)


def rank_posts(
    texts: Sequence[str],
    topic: str,
    platform: str,
    brand: BrandSettings,
    encoder: Encoder,
    *,
    today: date | None = None,
) -> list[PostDraft]:
    """Check and score each text as of today, best first; variants failing a check go last."""
    return _rank([PostDraft(text, 0.0) for text in texts], topic, platform, brand, encoder, today or date.today())


def draft_posts(
    generator: TextGenerator,
    topic: str,
    platform: str,
    brand: BrandSettings,
    n: int,
    *,
    encoder: Encoder,
    options: GenerationOptions | None = None,
    today: date | None = None,
) -> list[PostDraft]:
    """Up to n distinct variants, best first: the model's n candidates held to the plan, and when
    fewer than n of them differ (a small model's candidates often all fall back to the plan's
    wording), other wordings of the plan that pass every check. Fewer than n only when the plan
    has no more distinct wordings (a brand that does not write in English, a platform's limit)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    plan = make_plan(topic, brand, today or date.today(), encoder)
    raw = generator.generate_many([post_prompt(plan, platform, brand)] * n, options or POST_OPTIONS)
    variants: dict[str, PostDraft] = {}
    for text in raw:
        variant = hold_to_plan(text, plan, platform, brand, encoder)
        variants.setdefault(variant.text, replace(variant, notes=plan.owner_notes() + variant.notes))
    upcoming = plan.upcoming_sentences()
    if len(variants) < n:
        ctx = _check_context(topic, platform, brand, plan.today, upcoming)
        wordings = plan_wordings(plan, platform, brand)
        # A check the plan's own wording fails is the facts' doing ("damaged" reads as negative):
        # another wording may fail that one too, and no other.
        theirs = set(check_draft(wordings[0], ctx))
        for text in wordings:
            if len(variants) >= n:
                break
            if text not in variants and set(check_draft(text, ctx)) <= theirs:
                variants[text] = PostDraft(text, 0.0, notes=plan.owner_notes(), source="plan")
    return _rank(list(variants.values()), topic, platform, brand, encoder, plan.today, upcoming)
