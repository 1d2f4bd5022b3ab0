"""The real models, loaded once per test process and shared by the test modules that read them.

The app never shares models this way: each Brain owns its models and closes them. Tests only
read these, and loading each once keeps the slow suite from loading the same model many times."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from brain.encoder import Encoder
from brain.generator import LocalGenerator
from brain.llama_generator import LlamaCppGenerator, Weights, load_llama_generator


@lru_cache(maxsize=4)
def get_encoder(
    spec: str, int8: bool = False, runtime: Literal["torch", "onnx"] = "torch", cache_dir: Path | None = None, threads: int = 0
) -> Encoder:
    return Encoder(spec, int8=int8, runtime=runtime, cache_dir=cache_dir, threads=threads)


@lru_cache(maxsize=2)
def get_local_generator(spec: str, gguf_file: str | None, cache_dir: Path) -> LocalGenerator:
    return LocalGenerator(spec, gguf_file=gguf_file, cache_dir=cache_dir)


@lru_cache(maxsize=2)
def get_llama_generator(spec: str, gguf_file: str, threads: int, weights: Weights, cache_dir: Path) -> LlamaCppGenerator:
    return load_llama_generator(spec, gguf_file, threads, weights, cache_dir)
