"""Which weights llama.cpp runs on this CPU (`llama_weights = "auto"`): each candidate timed once, the choice kept per CPU.

Which weights are fastest depends on the CPU's kernels, not on its flags alone: on one AVX512-BF16
machine bf16 led in batches, on another it was the slowest. So each candidate is timed for about
a second at batch 1 and at batch 8, in a child process (a crash in llama.cpp's repacking must not
take the bot down), and the choice is cached under the CPU's model name, flags and core count:
a new CPU measures again, a known one never does."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core import machine
from core.errors import ModelError
from brain.model_paths import resolve_model_dir

if TYPE_CHECKING:
    from core.config import Settings
    from brain.generator import ChatMessage

log = logging.getLogger(__name__)

# The weights timed, in this order. "q4_0" is the model re-quantised to 4 bits and repacked for the
# CPU's matrix kernels: the fastest in batches where it runs, but it moves the most from the model.
CANDIDATES = ("bf16", "q8_0", "file", "q4_0")
REFERENCE_TOKENS = 48  # tokens of each reference draft whose next tokens the candidates must predict
MIN_AGREEMENT = 0.95  # next-token agreement with fp32 a candidate must keep to be chosen
FALLBACK = "file"  # when nothing could be timed: the model as shipped
BATCH = 8
CHOICE_FILE = "llama_weights.json"
CHOICE_VERSION = 1  # bump when the measurement changes, so old choices are measured again
MEASURE_TIMEOUT_S = 900.0  # about 45 s of CPU time; 97-160 s of wall time measured on a busy 2-core machine

_SYSTEM = "You are the friendly social-media voice of a small bakery. Answer in one or two short sentences."
# The fixed prompt set: the timed drafts, and fp32's drafts whose next tokens every candidate predicts
# (bench/generate.py drafts the same messages).
QUESTIONS = (
    "What time do you open on Saturday?",
    "Do you deliver? How much does it cost?",
    "Your cinnamon rolls are the best in town, thank you!",
    "Is the autumn sale still on? I want two cakes.",
    "hello there",
    "My order arrived late and the box was crushed.",
    "Can I pay by card in the shop?",
    "Where can I order a birthday cake online?",
)


@dataclass(frozen=True)
class Timing:
    """One candidate on this CPU: its speed and how close it stays to fp32."""

    weights: str
    batch1_tokens_per_s: float
    batch8_tokens_per_s: float  # all rows together
    agreement: float  # share of next tokens it picks as fp32 does, over fp32's own drafts of the fixed prompts

    def seconds_per_token(self) -> float:
        """What a message costs per token when it is drafted alone and again as 8 candidates."""
        return 1 / self.batch1_tokens_per_s + BATCH / self.batch8_tokens_per_s


@dataclass(frozen=True)
class Choice:
    weights: str
    reason: str
    timings: tuple[Timing, ...]


def choose(timings: list[Timing], min_agreement: float = MIN_AGREEMENT) -> Choice:
    """The candidate that drafts a message alone and 8 together in the least time, among those
    that keep min_agreement with fp32; the file as shipped if none was timed."""
    kept = [t for t in timings if t.agreement >= min_agreement and t.batch1_tokens_per_s > 0 and t.batch8_tokens_per_s > 0]
    figures = ", ".join(f"{t.weights} {t.batch1_tokens_per_s:.0f}/{t.batch8_tokens_per_s:.0f}" for t in timings)
    left_out = [f"{t.weights} (agreement {t.agreement:.1%})" for t in timings if t.agreement < min_agreement]
    if not kept:
        return Choice(FALLBACK, f"no candidate could be timed or kept ({figures or 'none ran'})", tuple(timings))
    best = min(kept, key=Timing.seconds_per_token)
    reason = f"fastest for one draft plus a batch of {BATCH} (tokens/s at batch 1/{BATCH}: {figures})"
    if left_out:
        reason += f"; left out below {min_agreement:.0%} agreement: {', '.join(left_out)}"
    return Choice(best.weights, reason, tuple(timings))


def cpu_key() -> str:
    """What a choice is valid for: this CPU model with these flags and this many cores."""
    return f"{machine.cpu_model()} | {' '.join(machine.speed_flags())} | {machine.cores()} cores"


def _model_key(source: Path) -> str:
    from brain.llama_generator import CONVERSION_VERSION, _llama_cpp

    stat = source.stat()
    return f"{source.name} {stat.st_size} {stat.st_mtime_ns} | llama.cpp {_llama_cpp().__version__} | v{CHOICE_VERSION}.{CONVERSION_VERSION}"


def _read(cache_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((cache_dir / CHOICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_choice(source: Path, cache_dir: Path) -> Choice | None:
    """The choice measured before on this CPU for this model file, if any."""
    entry = _read(cache_dir).get(f"{cpu_key()} || {_model_key(source)}")
    if not isinstance(entry, dict) or entry.get("weights") not in CANDIDATES:
        return None
    timings = tuple(Timing(**t) for t in entry.get("timings", []))  # type: ignore[arg-type, attr-defined]
    return Choice(str(entry["weights"]), str(entry.get("reason", "")), timings)


def _store(source: Path, cache_dir: Path, choice: Choice) -> None:
    data = _read(cache_dir)
    data[f"{cpu_key()} || {_model_key(source)}"] = {**asdict(choice), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=cache_dir, suffix=".partial", delete=False, encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(f.name, cache_dir / CHOICE_FILE)  # whole or not at all, also with two processes measuring


def chosen_weights(source: Path, cache_dir: Path, threads: int = 0) -> Choice:
    """The weights for "auto": the cached choice for this CPU, else measured now (about 45 s of CPU
    time once per CPU model, conversions included) and cached. Logged once, when measured."""
    cached = cached_choice(source, cache_dir)
    if cached is not None:
        log.debug("llama.cpp weights %s, chosen on this CPU before: %s", cached.weights, cached.reason)
        return cached
    log.info(
        "timing llama.cpp's weights on this CPU (%s), once per CPU model: about 45 s of CPU time, a few minutes "
        "on a busy machine; the choice is kept in %s", machine.cpu_model(), cache_dir / CHOICE_FILE,
    )
    started = time.perf_counter()
    timings = measure(source, cache_dir, threads)
    choice = choose(timings)
    if not timings:  # not kept: the next start measures again
        log.warning("llama.cpp weights: %s, for now: %s", choice.weights, choice.reason)
        return choice
    _store(source, cache_dir, choice)
    log.info("llama.cpp weights chosen: %s, %s; measured in %.0f s", choice.weights, choice.reason, time.perf_counter() - started)
    return choice


def measure(source: Path, cache_dir: Path, threads: int = 0) -> list[Timing]:
    """Every candidate timed in a child process. If the child crashes (llama.cpp's repacking has
    crashed on CPUs that report AMX in a VM that does not grant it), once more without q4_0."""
    timings = _measure_in_child(source, cache_dir, threads, CANDIDATES)
    if timings is None:
        log.warning("timing llama.cpp's weights failed; timing them again without q4_0 (repacked)")
        timings = _measure_in_child(source, cache_dir, threads, tuple(w for w in CANDIDATES if w != "q4_0"))
    return timings or []


def _measure_in_child(source: Path, cache_dir: Path, threads: int, candidates: tuple[str, ...]) -> list[Timing] | None:
    command = [sys.executable, "-m", "brain.llama_choice", str(source), str(cache_dir), str(threads), ",".join(candidates)]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=MEASURE_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        log.warning("timing llama.cpp's weights took over %.0f s: stopped", MEASURE_TIMEOUT_S)
        return []  # not a crash: no second try
    if done.returncode != 0:
        log.warning("timing llama.cpp's weights failed (code %d): %s", done.returncode, done.stderr.strip()[-300:])
        return None
    return [Timing(**json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")]


def _time_candidates(source: Path, cache_dir: Path, threads: int, candidates: tuple[str, ...], rounds: int = 2) -> None:
    """The child process: loads every candidate, times them in turns (load on a shared machine
    changes over time; the best of the rounds counts), compares their next tokens with the
    reference's, and prints one JSON line per candidate."""
    from brain.generator import ChatMessage, GenerationOptions
    from brain.llama_generator import LlamaCppGenerator, converted_gguf

    prompts = [[ChatMessage("system", _SYSTEM), ChatMessage("user", q)] for q in QUESTIONS[:BATCH]]
    texts = _reference_drafts(source, cache_dir, threads, prompts)
    one = GenerationOptions(max_new_tokens=48, min_new_tokens=48, repetition_penalty=1.0)
    rows = GenerationOptions(max_new_tokens=24, min_new_tokens=24, repetition_penalty=1.0)
    engines: dict[str, LlamaCppGenerator] = {}
    for weights in candidates:
        path = converted_gguf(source, weights, cache_dir, threads)  # type: ignore[arg-type]
        if weights != "file" and path == source:
            continue  # could not be converted
        engines[weights] = LlamaCppGenerator(path, threads=threads, repack=weights == "q4_0")
        engines[weights].generate(prompts[0], GenerationOptions(max_new_tokens=2))  # warm-up, caches the prefix
    best1 = dict.fromkeys(engines, 0.0)
    best8 = dict.fromkeys(engines, 0.0)
    for _ in range(rounds):
        for weights, engine in engines.items():
            t0 = time.perf_counter()
            engine.generate(prompts[1], one)
            t1 = time.perf_counter()
            engine.generate_many(prompts, rows)
            t2 = time.perf_counter()
            best1[weights] = max(best1[weights], one.max_new_tokens / (t1 - t0))
            best8[weights] = max(best8[weights], rows.max_new_tokens * len(prompts) / (t2 - t1))
    for weights, engine in engines.items():
        agree = total = 0
        for start, ids, wanted in texts:
            got = engine.greedy_next_tokens(ids)[start - 1 : -1]
            agree += sum(a == b for a, b in zip(got, wanted))
            total += len(wanted)
        timing = Timing(weights, round(best1[weights], 1), round(best8[weights], 1), round(agree / total, 4) if total else 0.0)
        print(json.dumps(asdict(timing)), flush=True)


def _reference_drafts(source: Path, cache_dir: Path, threads: int, prompts: list[list[ChatMessage]]) -> list[tuple[int, list[int], list[int]]]:
    """The model's own greedy drafts for the fixed prompts, computed in fp32 (the GGUF file's
    values exactly, as transformers runs them): (prompt length, prompt and draft, the next token
    fp32 picks at each draft position). A temporary fp32 copy, deleted after."""
    import ctypes

    from brain.generator import GenerationOptions
    from brain.llama_generator import LlamaCppGenerator, _llama_cpp

    lc = _llama_cpp()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        fp32 = Path(tmp) / "reference.f32.gguf"
        params = lc.llama_model_quantize_default_params()
        params.ftype = lc.LLAMA_FTYPE_ALL_F32
        params.allow_requantize = True
        params.nthread = machine.threads(threads)
        if lc.llama_model_quantize(str(source).encode(), str(fp32).encode(), ctypes.byref(params)) != 0:
            raise ModelError(f"llama.cpp could not expand {source.name} to fp32 for the reference")
        reference = LlamaCppGenerator(fp32, threads=threads)
        try:
            drafts = reference.generate_many(prompts, GenerationOptions(max_new_tokens=REFERENCE_TOKENS, repetition_penalty=1.0))
            texts = []
            for messages, draft in zip(prompts, drafts):
                prompt = reference.encode(messages)
                ids = prompt + reference.tokenize(draft)
                texts.append((len(prompt), ids, reference.greedy_next_tokens(ids)[len(prompt) - 1 : -1]))
        finally:
            reference.close()
    return texts


def machine_and_weights(settings: Settings) -> dict[str, object]:
    """The machine and the llama.cpp weights this configuration drafts with, for every benchmark's
    JSON line: figures from different CPUs or weights must not be compared blind. Never measures."""
    configured = settings.generator.llama_weights
    chosen: str = configured
    if configured == "auto":
        try:
            source = resolve_model_dir(settings.models.generator) / settings.models.gguf_file
            from brain.llama_generator import AUTO_CONVERT_MAX_BYTES, resolve_weights

            if not source.is_file() or source.stat().st_size > AUTO_CONVERT_MAX_BYTES:
                chosen = resolve_weights("auto", source, settings.model_cache_dir)  # the file: nothing measured
            else:
                cached = cached_choice(source, settings.model_cache_dir)
                chosen = cached.weights if cached is not None else "not measured yet on this CPU"
        except ModelError as exc:
            chosen = f"unknown ({exc})"
    return {**machine.describe(), "llama_weights": configured, "llama_weights_chosen": chosen}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _time_candidates(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), tuple(sys.argv[4].split(",")))
