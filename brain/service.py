"""The brain as the app sees it: models loaded once, every model call run on one worker thread."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from bot.config import Settings
from brain import draft
from brain.encoder import get_encoder
from brain.generator import (
    GenerationOptions,
    OpenAIGenerator,
    TextGenerator,
    get_local_generator,
)
from brain.understand import Understander, Understanding, load_heads

log = logging.getLogger(__name__)
T = TypeVar("T")


def build_generator(settings: Settings) -> TextGenerator:
    if settings.generator.backend == "openai":
        o = settings.openai
        return OpenAIGenerator(o.base_url, o.model, o.api_key_env, o.timeout_s)
    return get_local_generator(
        settings.models.generator, settings.models.gguf_file or None, settings.model_cache_dir
    )


class Brain:
    """Owns the models. Two torch workloads at once on a small CPU slow each other badly,
    so all model work goes through a single worker thread, in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brain")
        self.understander: Understander | None = None
        self.generator: TextGenerator | None = None
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
        self.understander = Understander(get_encoder(self.settings.models.encoder, c.int8), load_heads(c.heads_dir))
        self.generator = build_generator(self.settings)

    async def load(self) -> None:
        await self._run(self._load)

    async def understand(self, text: str) -> Understanding:
        assert self.understander is not None, "Brain.load() first"
        return await self._run(self.understander.understand, text)

    async def draft_reply(
        self, text: str, understanding: Understanding, history: Sequence[tuple[str, str]] = ()
    ) -> draft.Draft:
        assert self.generator is not None, "Brain.load() first"
        return await self._run(
            draft.draft_reply, self.generator, text, understanding, self.settings.brand, self.options, history
        )

    async def answer_owner(self, text: str) -> str:
        assert self.generator is not None, "Brain.load() first"
        return await self._run(
            draft.answer_owner, self.generator, text, self.settings.brand, self.options
        )

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
