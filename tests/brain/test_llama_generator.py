"""The llama.cpp engine: same model as the torch engine, repeatable drafts, prefix reuse, config choice, fall-back."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import RepetitionPenaltyLogitsProcessor

from core.config import load_settings
from brain.draft import reply_system_prompt
from brain.generator import PREFIX_CACHE_SIZE, ChatMessage, GenerationOptions, LocalGenerator
from brain.llama_generator import (
    LlamaCppGenerator,
    AUTO_CONVERT_MAX_BYTES,
    converted_gguf,
    pick_token,
    resolve_weights,
)
from brain.model_paths import resolve_model_dir
from brain.service import build_generator
from fakes.models import get_llama_generator, get_local_generator


def llama(settings) -> LlamaCppGenerator:
    m = settings.models
    return get_llama_generator(m.generator, m.gguf_file, 0, settings.generator.llama_weights, settings.model_cache_dir)


def torch_engine(settings) -> LocalGenerator:
    return get_local_generator(settings.models.generator, settings.models.gguf_file, settings.model_cache_dir)


def prompt(settings, text: str = "When do you open on Saturday?") -> list[ChatMessage]:
    return [ChatMessage("system", reply_system_prompt(settings.brand)), ChatMessage("user", text)]


def test_pick_token_follows_transformers() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=50).astype(np.float32)
    history = [3, 7, 7, 11, int(logits.argmax())]
    options = GenerationOptions(repetition_penalty=1.3)
    expected = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([history]), torch.tensor(logits[None]))[0]
    assert pick_token(logits, history, 0, options, rng, eos=0) == int(expected.argmax())
    # No end of text before min_new_tokens, even when it is the most likely token.
    eos = int(logits.argmax())
    assert pick_token(logits, [], 0, GenerationOptions(repetition_penalty=1.0, min_new_tokens=2), rng, eos) != eos
    assert pick_token(logits, [], 2, GenerationOptions(repetition_penalty=1.0, min_new_tokens=2), rng, eos) == eos
    # A tiny nucleus leaves only the most likely token to sample from.
    tight = GenerationOptions(temperature=1.0, top_p=1e-6, repetition_penalty=1.0)
    assert {pick_token(logits, [], 0, tight, rng, 0) for _ in range(20)} == {eos}


@pytest.mark.parametrize("spread", [0.5, 3.0, 12.0])  # flat to peaked: from the whole vocabulary to a few tokens
def test_top_p_sampling_keeps_the_same_nucleus_as_a_full_sort(spread: float) -> None:
    logits = np.random.default_rng(1).normal(size=49152).astype(np.float32) * spread
    options = GenerationOptions(temperature=0.8, top_p=0.9, repetition_penalty=1.0)

    def full_sort(rng: np.random.Generator) -> int:
        probs = np.exp(logits / 0.8 - (logits / 0.8).max())
        probs /= probs.sum()
        order = np.argsort(-probs)
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), 0.9)) + 1]
        return int(rng.choice(keep, p=probs[keep] / probs[keep].sum()))

    for seed in range(20):
        got = pick_token(logits, [], 0, options, np.random.default_rng(seed), eos=0)
        assert got == full_sort(np.random.default_rng(seed))


@pytest.mark.models
def test_same_prompt_and_same_next_tokens_as_the_torch_engine(settings) -> None:
    fast, reference = llama(settings), torch_engine(settings)
    messages = prompt(settings)
    ids = reference._encode(messages)
    assert fast.encode(messages) == ids  # the GGUF's chat template and vocabulary give the same prompt
    with torch.inference_mode():
        drafted = reference.model.generate(
            input_ids=torch.tensor([ids]), max_new_tokens=24, do_sample=False, temperature=None, top_p=None, top_k=None
        )[0].tolist()
    wanted = drafted[len(ids) :]
    got = fast.greedy_next_tokens(drafted)[len(ids) - 1 : -1]
    # Same weights, llama.cpp's arithmetic (configured weights) instead of fp32: nearly every greedy pick agrees.
    assert sum(a == b for a, b in zip(got, wanted)) / len(wanted) >= 0.9


@pytest.mark.models
def test_greedy_drafts_are_repeatable_and_clean(settings) -> None:
    generator = llama(settings)
    options = GenerationOptions(max_new_tokens=24)
    first = generator.generate(prompt(settings), options)
    assert first and first == generator.generate(prompt(settings), options)
    assert "<|im_end|>" not in first and "<|im_start|>" not in first
    sampled = GenerationOptions(max_new_tokens=16, temperature=0.9, seed=7)
    assert generator.generate(prompt(settings), sampled) == generator.generate(prompt(settings), sampled)


@pytest.mark.models
def test_prefix_reuse_and_batching_give_the_same_greedy_text(settings) -> None:
    generator = llama(settings)
    options = GenerationOptions(max_new_tokens=12)
    other = prompt(settings, "hi")
    generator.reuse_prefix = False
    try:
        plain = generator.generate(prompt(settings), options)
        generator.reuse_prefix = True
        assert generator.generate(prompt(settings), options) == plain
        assert reply_system_prompt(settings.brand) in generator._prefixes  # computed once, kept for the next reply
        # Rows of a batch are computed as they would be alone. (Reused or not, a near tie between
        # two tokens may break either way: llama.cpp's arithmetic differs by shape. Not so for this prompt.)
        singles = [generator.generate(prompt(settings), options), generator.generate(other, options)]
        assert generator.generate_many([prompt(settings), other], options) == singles
        # More system prompts than the cache holds: the oldest is dropped and its cells freed.
        for n in range(PREFIX_CACHE_SIZE + 1):
            generator.generate([ChatMessage("system", f"You write for shop number {n}."), other[1]], options)
        assert len(generator._prefixes) == PREFIX_CACHE_SIZE
        assert generator.generate(prompt(settings), options) == plain
    finally:
        generator.reuse_prefix = True


@pytest.mark.models
def test_config_chooses_the_engine(config_file: Path) -> None:
    assert isinstance(build_generator(load_settings(config_file)), LlamaCppGenerator)  # the default
    config_file.write_text(config_file.read_text() + '\n[generator]\nlocal_engine = "torch"\n')
    assert isinstance(build_generator(load_settings(config_file)), LocalGenerator)


@pytest.mark.models
def test_a_gguf_llama_cpp_cannot_load_falls_back_to_torch(settings, tmp_path: Path, caplog) -> None:
    torch_engine(settings)  # makes sure the converted cache exists
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "broken.gguf").write_bytes(b"not a gguf file at all")
    cache = tmp_path / "cache"
    cache.mkdir()
    # The torch engine finds its converted copy of "broken.gguf" already cached.
    (cache / "broken").symlink_to(settings.model_cache_dir / Path(settings.models.gguf_file).stem)
    settings.models.generator, settings.models.gguf_file, settings.models.cache_dir = str(folder), "broken.gguf", cache
    with caplog.at_level(logging.WARNING, logger="brain.service"):
        generator = build_generator(settings)
    assert isinstance(generator, LocalGenerator)
    assert any("llama.cpp cannot run the local model" in r.getMessage() and "torch" in r.getMessage() for r in caplog.records)


def test_explicit_weights_win_and_a_big_model_runs_as_it_is(tmp_path: Path) -> None:
    big = tmp_path / "big.gguf"
    with big.open("wb") as f:  # sparse: takes no disk
        f.truncate(AUTO_CONVERT_MAX_BYTES + 1)
    cache = tmp_path / "cache"
    assert resolve_weights("q8_0", big, cache) == "q8_0" and resolve_weights("file", big, cache) == "file"
    assert resolve_weights("auto", big, cache) == "file"  # a big model's 4-bit file is faster as it is
    assert not cache.exists()  # nothing measured, nothing converted


@pytest.mark.models
def test_weights_are_converted_once_into_the_cache(settings, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = resolve_model_dir(settings.models.generator) / settings.models.gguf_file
    assert converted_gguf(source, "file", cache) == source
    converted = converted_gguf(source, "q8_0", cache)
    assert converted.parent == cache and converted != source and converted.stat().st_size > source.stat().st_size
    stamp = converted.stat().st_mtime_ns
    assert converted_gguf(source, "q8_0", cache) == converted and converted.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [converted.name]  # no half-written leftovers
    # The converted file is a model llama.cpp loads and drafts with.
    options = GenerationOptions(max_new_tokens=8)
    assert LlamaCppGenerator(converted, threads=0).generate(prompt(settings), options)


def test_a_file_llama_cpp_cannot_convert_is_used_as_it_is(tmp_path: Path, caplog) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    with caplog.at_level(logging.WARNING, logger="brain.llama_generator"):
        assert converted_gguf(broken, "bf16", tmp_path / "cache") == broken
    assert any("could not convert broken.gguf" in r.getMessage() for r in caplog.records)
    assert not list((tmp_path / "cache").iterdir())
