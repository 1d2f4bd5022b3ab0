"""`llama_weights = "auto"`: the choice from timings (fake ones here: no timed assertions), kept per CPU, measured once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core import machine
from brain.llama_choice import CHOICE_FILE, CANDIDATES, Choice, Timing, cached_choice, choose, chosen_weights, _store
from brain.model_paths import resolve_model_dir

AMD = "processor : 0\nmodel name : AMD EPYC\nflags : avx2 avx512f avx512_bf16\n"
INTEL = "processor : 0\nmodel name : Intel(R) Xeon(R) Platinum 8481C\nflags : avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def timings(figures: dict[str, tuple[float, float, float]]) -> list[Timing]:
    return [Timing(w, b1, b8, agreement) for w, (b1, b8, agreement) in figures.items()]


def test_the_fastest_for_one_draft_and_a_batch_wins_on_each_cpu() -> None:
    # An AMD run from docs/benchmarks.md: bf16 leads in batches, which weigh most (8 drafts per message).
    amd = choose(timings({"bf16": (89, 208, 1.0), "q8_0": (105, 194, 0.986), "file": (95, 163, 0.982)}))
    assert amd.weights == "bf16"
    # The Intel figures: bf16 is the slowest there, and auto must not pick it.
    intel = choose(timings({"bf16": (36, 72, 1.0), "q8_0": (44, 80, 0.986), "file": (45, 71, 0.982)}))
    assert intel.weights == "q8_0"
    assert "q8_0 44/80" in intel.reason and "bf16 36/72" in intel.reason


def test_a_candidate_below_the_agreement_floor_is_left_out_however_fast() -> None:
    figures = {"bf16": (89, 208, 1.0), "q8_0": (105, 194, 0.986), "q4_0": (130, 265, 0.88)}
    choice = choose(timings(figures))
    assert choice.weights == "bf16"
    assert "q4_0 (agreement 88.0%)" in choice.reason
    # The same figures with q4_0 close enough to the model: it wins.
    figures["q4_0"] = (130, 265, 0.96)
    assert choose(timings(figures)).weights == "q4_0"


def test_nothing_timed_falls_back_to_the_file_as_shipped() -> None:
    assert choose([]).weights == "file"
    assert choose(timings({"q8_0": (0.0, 0.0, 0.0)})).weights == "file"


@pytest.fixture
def source(settings) -> Path:
    return resolve_model_dir(settings.models.generator) / settings.models.gguf_file


def test_a_choice_is_kept_per_cpu_and_read_back_without_measuring(source: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(machine, "_cpuinfo", lambda: AMD)
    stored = Choice("q4_0", "fake timings for this test", tuple(timings({"q4_0": (1, 2, 0.97)})))
    _store(source, cache, stored)
    # Read back as stored: nothing is measured (a measurement would have its own reason and timings).
    with caplog.at_level(logging.INFO, logger="brain.llama_choice"):
        assert chosen_weights(source, cache) == stored
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]  # logged once, when measured, not on every load
    # Another CPU has no choice yet: it would measure again. The first CPU's stays.
    monkeypatch.setattr(machine, "_cpuinfo", lambda: INTEL)
    assert cached_choice(source, cache) is None
    _store(source, cache, Choice("q8_0", "another", ()))
    assert cached_choice(source, cache).weights == "q8_0"  # type: ignore[union-attr]
    monkeypatch.setattr(machine, "_cpuinfo", lambda: AMD)
    assert cached_choice(source, cache) == stored
    entries = json.loads((cache / CHOICE_FILE).read_text())
    assert len(entries) == 2 and all("AMD EPYC" in k or "Intel" in k for k in entries)
    assert [p.name for p in cache.iterdir()] == [CHOICE_FILE]  # no half-written leftovers


def test_a_damaged_choice_file_means_measuring_again(source: Path, tmp_path: Path) -> None:
    cache = tmp_path
    (cache / CHOICE_FILE).write_text("{not json")
    assert cached_choice(source, cache) is None


@pytest.mark.models
def test_auto_times_every_candidate_once_on_this_cpu(source: Path, tmp_path: Path, caplog) -> None:
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="brain.llama_choice"):
        choice = chosen_weights(source, cache, threads=1)
    assert choice.weights in CANDIDATES
    by_weights = {t.weights: t for t in choice.timings}
    # Every candidate, or all but q4_0 where its repacking crashed the child (CPUs that report AMX in
    # a VM that does not grant it): measure() tries once more without it, and says so.
    retried = any("again without q4_0" in r.getMessage() for r in caplog.records)
    assert set(by_weights) == set(CANDIDATES) - ({"q4_0"} if retried else set())
    # Next tokens against fp32's: the shipped file's own values and bf16 stay close, as bench/generate.py finds.
    assert by_weights["bf16"].agreement >= 0.95 and by_weights["file"].agreement >= 0.95
    assert all(t.batch1_tokens_per_s > 0 and t.batch8_tokens_per_s > 0 for t in choice.timings)
    assert by_weights[choice.weights].agreement >= 0.95
    chosen = [r.getMessage() for r in caplog.records if "weights chosen" in r.getMessage()]
    assert len(chosen) == 1 and choice.weights in chosen[0]
    assert chosen_weights(source, cache) == choice  # cached: not measured again
