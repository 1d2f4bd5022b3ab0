"""Text generators behind one interface: a local transformers model or an OpenAI-compatible server."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import httpx
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.errors import ModelError
from brain.model_paths import offline, resolve_model_dir

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]


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


class TextGenerator(Protocol):
    """Prompt messages in, text out."""

    name: str

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str: ...


class LocalGenerator:
    """A causal language model run in this process by transformers.

    A GGUF file is dequantised on first load (slow, ~20 s) and saved as safetensors under the
    cache folder, so every later start loads in about two seconds.
    """

    def __init__(self, spec: str, *, gguf_file: str | None, cache_dir: Path) -> None:
        offline()
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
        log.info("generator loaded from %s in %.1fs", folder, time.perf_counter() - started)

    @staticmethod
    def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
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

    @torch.inference_mode()
    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        inputs = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        sampling = options.temperature > 0
        kwargs: dict[str, object] = {
            "max_new_tokens": options.max_new_tokens,
            "do_sample": sampling,
            "repetition_penalty": options.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sampling:
            kwargs.update(temperature=options.temperature, top_p=options.top_p)
        else:
            # The model's generation_config carries sampling defaults that greedy decoding ignores.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with self._lock:
            output = self.model.generate(**inputs, **kwargs)
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        return self.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


class OpenAIGenerator:
    """Any server that speaks OpenAI's /v1/chat/completions (vLLM, llama.cpp server, Ollama, TGI)."""

    def __init__(self, base_url: str, model: str, api_key_env: str, timeout_s: float) -> None:
        self.name = f"openai:{model}"
        self.model = model
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": options.max_new_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"]).strip()
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise ModelError(f"text generation endpoint failed: {exc}") from exc


@lru_cache(maxsize=2)
def get_local_generator(spec: str, gguf_file: str | None, cache_dir: Path) -> LocalGenerator:
    """One local model per process: it is the largest thing we hold in memory."""
    return LocalGenerator(spec, gguf_file=gguf_file, cache_dir=cache_dir)
