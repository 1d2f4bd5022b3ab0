"""Safety checks every draft passes before it can be sent; each failure is one short reason."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from core.config import BrandSettings
from brain.encoder import Encoder

URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|co|shop|store|app|ly|me|info|biz)(?:/[^\s<>()\"']*)?", re.IGNORECASE)
HANDLE_RE = re.compile(r"(?<![\w@.])@\w{2,}")
NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")
# A price or a share: "24 EUR", "€5", "20%".
PRICE_RE = re.compile(r"\d\s?(%|eur\b|euros?\b|usd\b|gbp\b|chf\b|[€$£])|[€$£]\s?\d", re.IGNORECASE)
LIST_MARKER_RE = re.compile(r"^\s*\d+[.)]\s", re.MULTILINE)  # "1. " numbers a list; it states nothing
WORD_RE = re.compile(r"[a-z0-9']+")
INJECTION_RE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|guidelines|above|previous)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions?\b|\bpretend (?:to be|you)\b|\bact as\b"
    r"|\b(?:say|write|reply|respond|repeat|post)\b(?: exactly| only| with| this| after me)*\s*[:\"']",
    re.IGNORECASE,
)
# An apology or an acknowledgement of the follower's problem is not a negative reply.
_ACKNOWLEDGEMENT_WORDS = ("sorry", "unfortunately", "inconvenience", "trouble", "problem", "broken", "delay", "delayed", "issue")
# What a reply to a complaint must not offer: the owner decides on those, not the model.
PROMISE_RE = re.compile(r"\b(?:refund\w*|compensat\w*|guarantee\w*|promise\w*|free of charge|replace\w*|money back|voucher\w*)\b", re.IGNORECASE)

# A reply speaks to the follower; small models often narrate about them instead ("The customer
# wants to know ...", "The following information was provided by a follower ...").
NARRATION_RE = re.compile(
    r"\b(?:the|a|this|our) (?:customer|follower|user|client|person who)s?\b(?! service)"
    r"|\bthe following (?:information|message|text|question)\b",
    re.IGNORECASE,
)

NEGATIVE_COMPOUND = -0.5  # VADER compound score at or below which a reply reads as hostile
NEAR_COPY_RATIO = 0.85  # character-level similarity to a recent reply that counts as a copy
NEAR_COPY_COSINE = 0.95  # the same, by meaning, with the encoder
ECHO_NGRAM = 6  # this many consecutive words shared with the prompt's instructions is an echo
INJECTED_NGRAM = 4  # shorter for the follower's own instructions: a few obeyed words are enough


@dataclass(frozen=True)
class CheckContext:
    """What a draft is checked against."""

    brand: BrandSettings
    max_chars: int
    system_prompt: str = ""
    follower_text: str = ""
    intent: str = ""
    history: Sequence[tuple[str, str]] = ()
    encoder: Encoder | None = None
    grounding: Sequence[str] = field(default_factory=tuple)  # texts whose numbers a draft may repeat
    today: date | None = None  # the day whose current facts a draft may state (None: this machine's today)


@lru_cache(maxsize=1)
def _sentiment() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    for word in _ACKNOWLEDGEMENT_WORDS:
        analyzer.lexicon.pop(word, None)
    return analyzer


def words(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def has_injection(text: str) -> bool:
    """Whether a follower's text tries to give the bot instructions."""
    return bool(INJECTION_RE.search(text))


def _link_allowed(link: str, allowed: Sequence[str]) -> bool:
    bare = re.sub(r"^(?:https?://)?(?:www\.)?", "", link.lower()).rstrip("/.,;:!?")
    for ok in allowed:
        ok_bare = re.sub(r"^(?:https?://)?(?:www\.)?", "", ok.lower()).rstrip("/")
        if bare == ok_bare or bare.startswith(ok_bare + "/") or bare.startswith(ok_bare + "?"):
            return True
    return False


def links_elsewhere(text: str, brand: BrandSettings) -> list[str]:
    """The links and @handles in a text that are not the brand's own."""
    handles = {h.lower() for h in brand.allowed_handles}
    return [link for link in URL_RE.findall(text) if not _link_allowed(link, brand.allowed_links)] + [
        handle for handle in HANDLE_RE.findall(text) if handle.lower() not in handles
    ]


def _instruction_text(system_prompt: str, brand: BrandSettings, today: date | None = None) -> str:
    # The facts and the brand's name are in the prompt precisely so that replies repeat them.
    for allowed in (*brand.current_facts(today), brand.name, brand.signoff):
        if allowed:
            system_prompt = system_prompt.replace(allowed, " | ")
    return system_prompt


def check_draft(text: str, ctx: CheckContext) -> list[str]:
    """All the reasons this draft must not be sent; empty when it may be."""
    failures: list[str] = []
    if not text.strip():
        return ["empty draft"]
    if len(text) > ctx.max_chars:
        failures.append(f"too long: {len(text)} > {ctx.max_chars} chars")
    failures += [f"{'handle' if other.startswith('@') else 'link'} not allowed: {other}" for other in links_elsewhere(text, ctx.brand)]
    lowered = text.lower()
    for banned in ctx.brand.banned_words:
        if re.search(rf"(?<!\w){re.escape(banned.lower())}(?!\w)", lowered):
            failures.append(f"banned word: {banned}")
    tokens = words(text)
    if ctx.system_prompt and _ngrams(tokens, ECHO_NGRAM) & _ngrams(words(_instruction_text(ctx.system_prompt, ctx.brand, ctx.today)), ECHO_NGRAM):
        failures.append("echoes the system prompt")
    if ctx.follower_text and has_injection(ctx.follower_text):
        if _ngrams(tokens, INJECTED_NGRAM) & _ngrams(words(ctx.follower_text), INJECTED_NGRAM) or has_injection(text):
            failures.append("echoes instructions from the follower's message")
    # An offer that starts later may be stated with its start ("From 1 January 2027: ...").
    grounded = " ".join((*ctx.brand.current_facts(ctx.today), *ctx.brand.coming_facts(ctx.today), *ctx.grounding, ctx.follower_text, *ctx.brand.allowed_links))
    known_numbers = set(NUMBER_RE.findall(grounded))
    unsupported = [n for n in NUMBER_RE.findall(LIST_MARKER_RE.sub(" ", text)) if n not in known_numbers and not _in_allowed_link(n, text, ctx)]
    if unsupported:
        failures.append(f"states a number not in the facts: {unsupported[0]}")
    if ctx.intent == "complaint" and (match := PROMISE_RE.search(text)):
        failures.append(f"promises something in a complaint reply: {match.group(0)}")
    if _sentiment().polarity_scores(text)["compound"] <= NEGATIVE_COMPOUND:
        failures.append("negative sentiment")
    if copied := near_copy(text, [reply for _, reply in ctx.history], ctx.encoder):
        failures.append(f"near-copy of a recent reply ({copied})")
    if ctx.follower_text and (echoed := near_copy(text, [ctx.follower_text], ctx.encoder)):
        failures.append(f"repeats the follower's message ({echoed})")
    if match := NARRATION_RE.search(text):
        failures.append(f"talks about the follower instead of to them: {match.group(0)!r}")
    return failures


def _in_allowed_link(number: str, text: str, ctx: CheckContext) -> bool:
    return any(number in link for link in URL_RE.findall(text) if _link_allowed(link, ctx.brand.allowed_links))


def near_copy(text: str, previous: Sequence[str], encoder: Encoder | None) -> str:
    """A description of the closest recent reply this one copies, or "" when it is new enough."""
    previous = [p for p in previous if p.strip()]
    if not previous:
        return ""
    ratio = max(difflib.SequenceMatcher(None, text.lower(), p.lower()).ratio() for p in previous)
    if ratio >= NEAR_COPY_RATIO:
        return f"text similarity {ratio:.2f}"
    if encoder is not None:
        vectors = encoder.encode([text, *previous])
        cosine = float((vectors[1:] @ vectors[0]).max())
        if cosine >= NEAR_COPY_COSINE:
            return f"meaning similarity {cosine:.2f}"
    return ""
