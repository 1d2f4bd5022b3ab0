"""Text generators behind one interface: a local transformers model or an OpenAI-compatible server."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from core import machine
from core.errors import ModelError
from brain.model_paths import offline, resolve_model_dir

if TYPE_CHECKING:
    import httpx
    from transformers import DynamicCache

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]
PREFIX_CACHE_SIZE = 4  # system prompts whose computed prefix is kept (one per brand and task)


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 80
    temperature: float = 0.0  # 0 means greedy: the same prompt gives the same draft
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    seed: int | None = None  # with temperature > 0: the same seed gives the same sample
    min_new_tokens: int = 0  # benchmarks force a fixed length; drafts stop at the end of the text


class TextGenerator(Protocol):
    """Prompt messages in, text out."""

    name: str

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str: ...

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]: ...

    def close(self) -> None:
        """Free the model or the connection; the generator is not used after this."""
        ...


class LocalGenerator:
    """A causal language model run in this process by transformers.

    A GGUF file is dequantised on first load (slow, ~20 s) and saved as safetensors under the
    cache folder, so every later start loads in about two seconds. torch and transformers are
    imported here, not with the module: only this engine needs them.
    """

    def __init__(
        self, spec: str, *, gguf_file: str | None, cache_dir: Path, reuse_prefix: bool = True, threads: int = 0
    ) -> None:
        offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(machine.threads(threads))
        folder = resolve_model_dir(spec)
        self.name = f"local:{folder.name}"
        started = time.perf_counter()
        if gguf_file and (folder / gguf_file).is_file():
            cached = cache_dir / Path(gguf_file).stem
            if not (cached / "config.json").is_file():
                self._convert_gguf(folder, gguf_file, cached)
            folder = cached
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the text generator from {folder}: {exc}") from exc
        self._lock = threading.Lock()
        self.reuse_prefix = reuse_prefix
        self._prefixes: OrderedDict[str, tuple[list[int], DynamicCache]] = OrderedDict()
        log.info("generator loaded from %s in %.1fs", folder, time.perf_counter() - started)

    @staticmethod
    def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("first start: converting %s to a safetensors cache in %s", gguf_file, target)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf_file, dtype=torch.float32
        )
        # save_pretrained refuses a model still marked as GGUF-quantised; its weights are plain
        # fp32 tensors by now, so dropping the marks saves exactly what we loaded.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        # Rename last, so an interrupted conversion is never mistaken for a finished cache.
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)

    def _encode(self, messages: list[ChatMessage]) -> list[int]:
        return list(
            self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
            )["input_ids"]
        )

    def _generate_kwargs(self, options: GenerationOptions) -> dict[str, object]:
        import torch

        sampling = options.temperature > 0
        kwargs: dict[str, object] = {
            "max_new_tokens": options.max_new_tokens,
            "min_new_tokens": options.min_new_tokens or None,
            "do_sample": sampling,
            "repetition_penalty": options.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sampling:
            kwargs.update(temperature=options.temperature, top_p=options.top_p, top_k=None)
            if options.seed is not None:
                torch.manual_seed(options.seed)
        else:
            # The model's generation_config carries sampling defaults that greedy decoding ignores.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs

    def _prefix(self, messages: list[ChatMessage], ids: list[int]) -> DynamicCache | None:
        """A copy of the computed keys and values of the system message, when the prompt starts with it.

        Every reply of a brand starts with the same system prompt; computing it once saves most
        of the time to the first token."""
        if not self.reuse_prefix or not messages or messages[0].role != "system":
            return None
        key = messages[0].content
        entry = self._prefixes.get(key)
        if entry is None:
            import torch
            from transformers import DynamicCache

            prefix_ids = list(
                self.tokenizer.apply_chat_template(
                    [{"role": "system", "content": key}], tokenize=True, return_dict=True
                )["input_ids"]
            )
            cache = DynamicCache(config=self.model.config)
            self.model(input_ids=torch.tensor([prefix_ids]), cache=cache, use_cache=True)
            entry = (prefix_ids, cache)
            self._prefixes[key] = entry
            if len(self._prefixes) > PREFIX_CACHE_SIZE:
                self._prefixes.popitem(last=False)
        self._prefixes.move_to_end(key)
        prefix_ids, cache = entry
        if len(ids) <= len(prefix_ids) or ids[: len(prefix_ids)] != prefix_ids:
            return None
        return copy.deepcopy(cache)

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        import torch

        ids = self._encode(messages)
        with self._lock, torch.inference_mode():
            kwargs = self._generate_kwargs(options)
            cache = self._prefix(messages, ids)
            if cache is not None:
                kwargs["cache"] = cache
            input_ids = torch.tensor([ids])
            output = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs
            )
        return self.tokenizer.decode(output[0][len(ids) :], skip_special_tokens=True).strip()

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        """Several prompts in one batch: on a CPU, one pass over the weights serves them all."""
        import torch

        if not prompts:
            return []
        encoded = [self._encode(messages) for messages in prompts]
        width = max(len(ids) for ids in encoded)
        pad = int(self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        # Left padding, so every row's next token comes right after its own prompt.
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
        with self._lock, torch.inference_mode():
            output = self.model.generate(input_ids=input_ids, attention_mask=mask, **self._generate_kwargs(options))
        return [self.tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in output]

    def close(self) -> None:
        with self._lock:
            self._prefixes.clear()
            del self.model


class OpenAIGenerator:
    """Any server that speaks OpenAI's /v1/chat/completions (vLLM, llama.cpp server, Ollama, TGI).

    Timeouts, connection errors, 429 and 5xx are retried a bounded number of times with backoff;
    any other answer, or running out of retries, raises ModelError."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str,
        timeout_s: float,
        *,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        import httpx  # only with an endpoint configured: it adds a quarter second to every command's start

        self._client = client or httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )

    def _post(self, body: dict[str, object]) -> httpx.Response:
        import httpx

        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = self._client.post("/chat/completions", json=body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if last:
                    raise ModelError(f"text generation endpoint unreachable: {exc!r}") from exc
                log.debug("endpoint attempt %d failed: %r", attempt + 1, exc)
            else:
                retryable = response.status_code == 429 or response.status_code >= 500
                if not retryable or last:
                    return response
                log.debug("endpoint attempt %d answered %d", attempt + 1, response.status_code)
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        body: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": options.max_new_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        response = self._post(body)
        if response.status_code != 200:
            raise ModelError(f"text generation endpoint answered {response.status_code}: {response.text[:200]}")
        try:
            return str(response.json()["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(f"text generation endpoint sent an unexpected answer: {exc!r}") from exc

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        return [self.generate(messages, options) for messages in prompts]

    def close(self) -> None:
        self._client.close()


class FallbackGenerator:
    """The endpoint first; while it is down, the local model, logged once per outage.

    After a failure the endpoint is left alone for `retry_after_s`, so a dead server does not
    cost every draft its timeouts and retries."""

    def __init__(
        self, primary: TextGenerator, fallback: Callable[[], TextGenerator], retry_after_s: float = 60.0
    ) -> None:
        self.primary = primary
        self._fallback_factory = fallback
        self._fallback: TextGenerator | None = None
        self.retry_after_s = retry_after_s
        self._down_since: float | None = None
        self.name = primary.name

    @property
    def fallback(self) -> TextGenerator:
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return self._fallback

    def _call(self, method: str, *args: object) -> Any:
        now = time.monotonic()
        if self._down_since is None or now - self._down_since >= self.retry_after_s:
            try:
                result = getattr(self.primary, method)(*args)
            except ModelError as exc:
                if self._down_since is None:
                    log.warning("%s is down (%s); drafting with the local model", self.primary.name, exc)
                self._down_since = now
            else:
                if self._down_since is not None:
                    log.info("%s is back; drafting with it again", self.primary.name)
                    self._down_since = None
                return result
        return getattr(self.fallback, method)(*args)

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return str(self._call("generate", messages, options))

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        return list(self._call("generate_many", prompts, options))

    def close(self) -> None:
        self.primary.close()
        if self._fallback is not None:
            self._fallback.close()
