"""The brain as the app sees it: models loaded once, every model call run on one worker thread."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import torch

from core.config import Settings
from core.errors import ModelError
from brain import draft
from brain.encoder import get_encoder
from brain.examples import Example, nearest_examples
from brain.handoff import detected_language
from brain.generator import (
    FallbackGenerator,
    GenerationOptions,
    OpenAIGenerator,
    TextGenerator,
    get_local_generator,
)
from brain.llama_generator import get_llama_generator
from brain.owner_requests import OwnerRequests
from brain.policy import draft_waits
from brain.posts import PostDraft
from brain.risk import Risk, RiskDetector
from brain.understand import Understander, Understanding, load_heads

log = logging.getLogger(__name__)
T = TypeVar("T")


def local_generator(settings: Settings) -> TextGenerator:
    """The configured local engine; the torch one when llama.cpp can't load."""
    m = settings.models
    if settings.generator.local_engine == "llama_cpp":
        try:
            threads = m.threads or os.cpu_count() or 1
            return get_llama_generator(
                m.generator, m.gguf_file, threads, settings.generator.llama_weights, settings.model_cache_dir
            )
        except ModelError as exc:
            log.warning("llama.cpp cannot run the local model (%s); drafting with the torch engine", exc)
    return get_local_generator(m.generator, m.gguf_file or None, settings.model_cache_dir)


def build_generator(settings: Settings) -> TextGenerator:
    local = functools.partial(local_generator, settings)

    if settings.generator.backend == "openai":
        o = settings.openai
        endpoint = OpenAIGenerator(o.base_url, o.model, o.api_key_env, o.timeout_s, max_retries=o.max_retries)
        if o.fallback_to_local:
            return FallbackGenerator(endpoint, local, retry_after_s=o.retry_endpoint_after_s)
        return endpoint
    return local()


class Brain:
    """Owns the models. Two torch workloads at once on a small CPU slow each other badly,
    so all model work goes through a single worker thread, in order."""

    def __init__(self, settings: Settings, generator: TextGenerator | None = None) -> None:
        """generator: use this one instead of the configured one (a stand-in in benchmarks)."""
        self.settings = settings
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brain")
        self.understander: Understander | None = None
        self.risk: RiskDetector | None = None
        self.owner_requests: OwnerRequests | None = None
        self.generator: TextGenerator | None = generator
        g = settings.generator
        self.options = GenerationOptions(
            max_new_tokens=g.max_new_tokens,
            temperature=g.temperature,
            top_p=g.top_p,
            repetition_penalty=g.repetition_penalty,
        )

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def _load(self) -> None:
        threads = self.settings.models.threads or os.cpu_count() or 1
        torch.set_num_threads(threads)
        c = self.settings.classify
        encoder = get_encoder(self.settings.models.encoder, c.int8, c.runtime, self.settings.model_cache_dir, threads)
        self.understander = Understander(encoder, load_heads(c.heads_dir))
        policy = self.settings.policy
        self.risk = RiskDetector(encoder, policy.risk_similarity, policy.risk_keywords)
        self.owner_requests = OwnerRequests(encoder)
        detected_language("warm up the language detector", self.settings.brand.language)  # loads its models now, not on a follower's message
        if self.generator is None:
            self.generator = build_generator(self.settings)

    async def load(self) -> None:
        await self._run(self._load)

    async def understand(self, text: str) -> Understanding:
        assert self.understander is not None, "Brain.load() first"
        return await self._run(self.understander.understand, text)

    async def assess_risk(self, text: str) -> Risk:
        assert self.risk is not None, "Brain.load() first"
        risk, understander = self.risk, self.understander
        assert understander is not None
        # Right after understand() the embedding is cached: one encoder pass serves both.
        return await self._run(lambda: risk.assess(understander.embedding(text), text))

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
    ) -> draft.Draft:
        """platform: whose length limit applies ("" for the brand's default limit); examples: the
        owner's replies to similar messages (pick_examples); mode: the configured one unless given."""
        assert self.generator is not None and self.understander is not None, "Brain.load() first"
        g = self.settings.generator
        drafted = await self._run(
            functools.partial(
                draft.draft_reply,
                self.generator,
                text,
                understanding,
                self.settings.brand,
                self.options,
                history,
                encoder=self.understander.encoder,
                platform=platform,
                mode=mode or g.reply_mode,
                examples=examples,
                today=today or self.today(),
                candidates=g.reply_candidates,
            )
        )
        # The policy sends on its own only the kinds of reply it is sure of; the rest wait.
        if not drafted.needs_review and (waits := draft_waits(drafted.kind, drafted.margin, self.settings.policy)):
            drafted = dataclasses.replace(drafted, needs_review=True, check_failures=(*drafted.check_failures, f"waits: {waits}"))
        return drafted

    async def pick_examples(self, text: str, owner_replies: Sequence[Example]) -> list[Example]:
        """The owner's replies (approved or edited) to the messages most like this one."""
        assert self.understander is not None, "Brain.load() first"
        return await self._run(nearest_examples, text, owner_replies, self.understander.encoder)

    async def draft_post(self, topic: str, platform: str, n: int = 3) -> list[PostDraft]:
        """Up to n variants, best first, each with its score, check failures and notes; the facts
        that hold are those of today in the account's time zone."""
        assert self.generator is not None and self.understander is not None, "Brain.load() first"
        return await self._run(
            functools.partial(
                draft.draft_post,
                self.generator,
                topic,
                platform,
                self.settings.brand,
                n,
                encoder=self.understander.encoder,
                today=self.today(),
            )
        )

    async def match_owner_request(self, text: str, allowed: Sequence[str]) -> tuple[str, float] | None:
        """Which of the allowed commands the owner's words ask for, if any (see brain/owner_requests.py)."""
        assert self.owner_requests is not None, "Brain.load() first"
        return await self._run(self.owner_requests.match, text, allowed)

    async def answer_owner(self, text: str) -> str:
        assert self.generator is not None, "Brain.load() first"
        return await self._run(
            draft.answer_owner, self.generator, text, self.settings.brand, self.options
        )

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
