"""The brain as the app sees it: it owns its models, loads each on first use, closes them once;
every model call runs on one worker thread."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from types import TracebackType
from typing import TypeVar
from zoneinfo import ZoneInfo

from core.config import Settings
from core.errors import ModelError
from core.times import account_zone
from brain import draft
from brain.checks import links_elsewhere
from brain.encoder import Encoder
from brain.examples import Example, nearest_examples
from brain.voice import OpeningHabit
from brain.generator import (
    ChatMessage,
    FallbackGenerator,
    GenerationOptions,
    LocalGenerator,
    OpenAIGenerator,
    TextGenerator,
)
from brain.heads import Head
from brain.relevance import relevance_of
from brain import owner_chat
from brain.owner_requests import IDEAS, SMALL_TALK, OwnerRequests
from brain.policy import draft_waits
from brain.posts import PostDraft
from brain.risk import Risk, RiskDetector
from brain.slots import PostingHistory, SlotChooser
from brain.timing import EngagementModel
from brain.understand import Understander, Understanding, load_heads

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_encoder(settings: Settings) -> Encoder:
    c = settings.classify
    return Encoder(
        settings.models.encoder, int8=c.int8, runtime=c.runtime, cache_dir=settings.model_cache_dir, threads=settings.models.threads
    )


def local_generator(settings: Settings) -> TextGenerator:
    """The configured local engine; the torch one when llama.cpp can't load."""
    m = settings.models
    if settings.generator.local_engine == "llama_cpp":
        from brain.llama_generator import load_llama_generator  # llama_cpp: only when drafting with it

        try:
            return load_llama_generator(m.generator, m.gguf_file, m.threads, settings.generator.llama_weights, settings.model_cache_dir)
        except ModelError as exc:
            log.warning("llama.cpp cannot run the local model (%s); drafting with the torch engine", exc)
    return LocalGenerator(m.generator, gguf_file=m.gguf_file or None, cache_dir=settings.model_cache_dir, threads=m.threads)


def build_generator(settings: Settings) -> TextGenerator:
    """A new generator as configured; whoever builds it closes it."""
    local = functools.partial(local_generator, settings)

    if settings.generator.backend == "openai":
        o = settings.openai
        endpoint = OpenAIGenerator(o.base_url, o.model, o.api_key_env, o.timeout_s, max_retries=o.max_retries)
        if o.fallback_to_local:
            return FallbackGenerator(endpoint, local, retry_after_s=o.retry_endpoint_after_s)
        return endpoint
    return local()


class Brain:
    """Owns the models for its lifetime, the one way every command and `bot run` reach them:
    `with Brain(settings) as brain:` (or `async with`). Each model loads when first used, so a
    command loads only what it needs; `load()` loads them all up front (the running bot, so the
    first follower does not wait); `close()` frees them.

    Two torch workloads at once on a small CPU slow each other badly, so all model work of the
    async calls goes through a single worker thread, in order."""

    def __init__(self, settings: Settings, generator: TextGenerator | None = None) -> None:
        """generator: use this one instead of the configured one (a stand-in in benchmarks and
        tests); it stays its owner's to close."""
        self.settings = settings
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brain")
        self._lock = threading.RLock()  # a model is loaded once even if two threads ask at once
        self._encoder: Encoder | None = None
        self._understander: Understander | None = None
        self._heads: dict[str, Head] | None = None
        self._risk: RiskDetector | None = None
        self._owner_requests: OwnerRequests | None = None
        self._generator: TextGenerator | None = generator
        self._owns_generator = generator is None
        g = settings.generator
        self.options = GenerationOptions(
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            repetition_penalty=g.repetition_penalty,
        )

    # -- the models, each loaded on first use ---------------------------------------------------

    def _loaded(self, attr: str, load: Callable[[], T]) -> T:
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, load())
            return getattr(self, attr)  # type: ignore[no-any-return]

    @property
    def encoder(self) -> Encoder:
        return self._loaded("_encoder", lambda: load_encoder(self.settings))

    @property
    def heads(self) -> dict[str, Head]:
        """The classifier heads alone (small files): what labels exist needs no encoder."""
        return self._loaded("_heads", lambda: load_heads(self.settings.classify.heads_dir))

    @property
    def understander(self) -> Understander:
        return self._loaded("_understander", lambda: Understander(self.encoder, self.heads, brand_language=self.settings.brand.language))

    @property
    def risk(self) -> RiskDetector:
        policy = self.settings.policy
        return self._loaded("_risk", lambda: RiskDetector(self.encoder, policy.risk_similarity, policy.risk_keywords))

    @property
    def owner_requests(self) -> OwnerRequests:
        return self._loaded("_owner_requests", lambda: OwnerRequests(self.encoder))

    @property
    def generator(self) -> TextGenerator:
        return self._loaded("_generator", lambda: build_generator(self.settings))

    def _load(self) -> None:
        from brain.handoff import detected_language

        for model in (self.understander, self.risk, self.owner_requests, self.generator):
            assert model is not None
        relevance_of(self.encoder)  # fact search's cross-encoder: a second graph, loaded now too
        detected_language("warm up the language detector", self.settings.brand.language)  # loads its models now, not on a follower's message

    async def load(self) -> None:
        """Every model now, rather than on first use."""
        await self._run(self._load)

    def close(self) -> None:
        """Wait for the model call in progress (none is started after this), then free the models."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            if self._generator is not None and self._owns_generator:
                self._generator.close()
            if self._encoder is not None:
                self._encoder.close()
            self._generator = self._encoder = None
            self._understander = self._risk = self._owner_requests = None

    def __enter__(self) -> Brain:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> Brain:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    async def understand(self, text: str) -> Understanding:
        return await self._run(lambda: self.understander.understand(text))

    async def assess_risk(self, text: str) -> Risk:
        # Right after understand() the embedding is cached: one encoder pass serves both.
        return await self._run(lambda: self.risk.assess(self.understander.embedding(text), text))

    def today(self) -> date:
        """The day in the account's time zone: which dated facts hold."""
        return datetime.now(ZoneInfo(self.settings.bot.timezone)).date()

    async def draft_reply(
        self,
        text: str,
        understanding: Understanding,
        history: Sequence[tuple[str, str]] = (),
        platform: str = "",
        examples: Sequence[Example] = (),
        today: date | None = None,
        *,
        mode: draft.ReplyMode | None = None,
        habit: OpeningHabit | None = None,
    ) -> draft.Draft:
        """platform: whose length limit applies ("" for the brand's default limit); examples: the
        owner's replies to similar messages (pick_examples); mode: the configured one unless given;
        habit: how the owner opens their answers (opening_habit).
        The generator loads only if the draft asks it for words (planned replies often need none)."""
        g, policy = self.settings.generator, self.settings.policy
        unsure_spam = understanding.intent in policy.ignore_intents and understanding.intent_confidence < policy.ignore_min_confidence
        if unsure_spam and not links_elsewhere(text, self.settings.brand):
            # Too unsure to ignore ("perfect, can I just do that on your website then?" read as spam at
            # 0.36), and no link elsewhere: the policy leaves it to the owner, who gets a draft for a
            # message of no clear kind, never thanked for kind words (a spammer's flattery reads as
            # positive). A link to another site keeps it spam ("claim your reward: bit.ly/...").
            sentiment = "neutral" if understanding.sentiment == "positive" else understanding.sentiment
            understanding = dataclasses.replace(understanding, intent="other", sentiment=sentiment)
        drafted = await self._run(
            lambda: draft.draft_reply(
                _OnFirstUse(self),
                text,
                understanding,
                self.settings.brand,
                self.options,
                history,
                encoder=self.encoder,
                platform=platform,
                mode=mode or g.reply_mode,
                examples=examples,
                today=today or self.today(),
                candidates=g.reply_candidates,
                habit=habit,
            )
        )
        # The policy sends on its own only the kinds of reply it is sure of; the rest wait.
        if not drafted.needs_review and (waits := draft_waits(drafted.kind, drafted.margin, self.settings.policy)):
            drafted = dataclasses.replace(drafted, needs_review=True, check_failures=(*drafted.check_failures, f"waits: {waits}"))
        return drafted

    async def pick_examples(self, text: str, owner_replies: Sequence[Example]) -> list[Example]:
        """The owner's replies (approved or edited) to the messages most like this one."""
        return await self._run(lambda: nearest_examples(text, owner_replies, self.encoder))

    def opening_habit(self, owner_replies: Sequence[Example], today: date | None = None) -> OpeningHabit:
        """How the owner opens their answers that state one of today's facts, over all their replies."""
        return OpeningHabit.learn(owner_replies, self.settings.brand.current_facts(today or self.today()))

    async def draft_post(self, topic: str, platform: str, n: int = 3) -> list[PostDraft]:
        """Up to n variants, best first, each with its score, check failures and notes; the facts
        that hold are those of today in the account's time zone."""
        return await self._run(
            lambda: draft.draft_post(
                _OnFirstUse(self), topic, platform, self.settings.brand, n, encoder=self.encoder, today=self.today()
            )
        )

    async def match_owner_request(self, text: str, allowed: Sequence[str]) -> tuple[str, float] | None:
        """Which of the allowed commands the owner's words ask for, if any (see brain/owner_requests.py)."""
        return await self._run(lambda: self.owner_requests.match(text, allowed))

    async def answer_owner(self, text: str, commands: str = "") -> str:
        """The assistant's answer to the owner's words that ask for no command, never the model's
        free text (see brain/owner_chat.py); commands: the list of commands, for words that ask
        for nothing the bot does."""
        kind = await self._run(lambda: self.owner_requests.chat_kind(text))
        brand = self.settings.brand
        if kind == SMALL_TALK:
            return owner_chat.small_talk_reply(brand)
        if kind == IDEAS:
            return owner_chat.post_ideas(brand, self.today())
        return owner_chat.cannot_answer(brand, commands)

    def known_labels(self, task: str) -> list[str]:
        """The labels the head of a task ("intent", "sentiment", "offensive") can give."""
        head = self.heads[task]
        return [*head.labels, *([head.other_label] if head.other_label and head.other_label not in head.labels else [])]

    # -- when to post: a small numpy model, milliseconds, so it runs in the caller and not behind a draft

    @functools.cached_property
    def slots(self) -> SlotChooser:
        return SlotChooser(self.settings.schedule, account_zone(self.settings.bot.timezone))

    def timing_model(self, history: PostingHistory) -> EngagementModel:
        """The best-time model fitted on a platform's history (brain/timing.py)."""
        return self.slots.timing_model(history)

    def best_slot(
        self, history: PostingHistory, start: datetime, end: datetime, content_type: str = ""
    ) -> tuple[datetime, str]:
        """The best free hour in [start, end) for a post, and one line on why (brain/slots.py)."""
        return self.slots.best_slot(history, start, end, content_type)

    def next_free_slot(
        self, platform: str, history: PostingHistory, now: datetime, content_type: str = ""
    ) -> tuple[datetime, str]:
        """The next free [schedule.slots] time on the platform after `now`, and why."""
        return self.slots.next_free_slot(platform, history, now, content_type)


class _OnFirstUse:
    """The brain's generator, loaded when a draft first asks it for words."""

    def __init__(self, brain: Brain) -> None:
        self._brain = brain
        self.name = "brain's generator"

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return self._brain.generator.generate(messages, options)

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        return self._brain.generator.generate_many(prompts, options)

    def close(self) -> None:
        """The brain closes its generator."""
