"""Post variants: shaped to the brand's hashtag and emoji rules and the platform's limit, then ranked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import BrandSettings
from brain.checks import CheckContext, check_draft
from brain.encoder import Encoder
from brain.generator import ChatMessage, GenerationOptions, TextGenerator

POST_OPTIONS = GenerationOptions(max_new_tokens=90, temperature=0.8, top_p=0.95, repetition_penalty=1.1, seed=7)
FAILED_PENALTY = 1.0  # a variant that fails a check ranks below every one that passes

HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
# Pictographs, dingbats, flags and the joiners and selectors that glue emoji together.
EMOJI_RE = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]+")


@dataclass(frozen=True)
class PostDraft:
    text: str
    score: float
    check_failures: tuple[str, ...] = field(default_factory=tuple)


def clip_to(text: str, max_chars: int) -> str:
    """Cut at the last sentence (or word) end that fits, never mid-word."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    sentence_end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if sentence_end >= max_chars // 2:
        return head[: sentence_end + 1]
    return head.rsplit(" ", 1)[0].rstrip(",;:-") if " " in head else head


def post_prompt(topic: str, platform: str, brand: BrandSettings) -> list[ChatMessage]:
    limit = brand.length_limit(platform)
    tags = f"End with up to {brand.max_hashtags} hashtags." if brand.use_hashtags and brand.max_hashtags else "Use no hashtags."
    emoji = "You may use an emoji or two." if brand.use_emoji else "Use no emoji."
    system = (
        f"You write social-media posts for {brand.name}. Tone: {brand.tone}. Language: {brand.language}.\n"
        "Facts you may state (state nothing else as fact):\n"
        + ("\n".join(f"- {fact}" for fact in brand.current_facts()) or "- (no facts configured)")
        + f"\nLinks you may share: {', '.join(brand.allowed_links) or 'none'}."
    )
    user = f"Write one {platform} post about: {topic}\nKeep it under {limit} characters. {tags} {emoji}"
    return [ChatMessage("system", system), ChatMessage("user", user)]


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


def score_posts(texts: Sequence[str], topic: str, brand: BrandSettings, encoder: Encoder) -> list[float]:
    """Closeness to the brand's best past posts (its voice) and to the topic, by the encoder."""
    if not texts:
        return []
    vectors = encoder.encode([*texts, topic, *brand.best_posts])
    drafts, topic_vec, best = vectors[: len(texts)], vectors[len(texts)], vectors[len(texts) + 1 :]
    on_topic = drafts @ topic_vec
    if len(best) == 0:
        return [float(s) for s in on_topic]
    voice = (drafts @ best.T).max(axis=1)
    return [float(s) for s in 0.5 * voice + 0.5 * on_topic]


def rank_posts(
    texts: Sequence[str], topic: str, platform: str, brand: BrandSettings, encoder: Encoder
) -> list[PostDraft]:
    """Check and score each text, best first; variants failing a check go last."""
    ctx = CheckContext(brand=brand, max_chars=brand.length_limit(platform), grounding=[topic, *brand.best_posts])
    drafts = []
    for text, score in zip(texts, score_posts(texts, topic, brand, encoder)):
        failures = tuple(check_draft(text, ctx))
        drafts.append(PostDraft(text, round(score - (FAILED_PENALTY if failures else 0.0), 4), failures))
    return sorted(drafts, key=lambda d: d.score, reverse=True)


def draft_posts(
    generator: TextGenerator,
    topic: str,
    platform: str,
    brand: BrandSettings,
    n: int,
    *,
    encoder: Encoder,
    options: GenerationOptions | None = None,
) -> list[PostDraft]:
    if n < 1:
        raise ValueError("n must be at least 1")
    prompt = post_prompt(topic, platform, brand)
    raw = generator.generate_many([prompt] * n, options or POST_OPTIONS)
    texts = [shape_post(text, platform, brand) for text in raw]
    return rank_posts(texts, topic, platform, brand, encoder)
