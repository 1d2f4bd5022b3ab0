"""Drafting speed of our llama.cpp engine against llama.cpp itself and plain fp32 `model.generate`, in one run.

Run: .venv/bin/python bench/generate.py [--new-tokens 128] [--prompts 8] [--threads 2] [--engines llama_cpp,torch]
                                        [--llama-weights WEIGHTS,...]
The llama.cpp engine runs with config.toml's `llama_weights` ("auto": the weights timed fastest on
this CPU, measured first if this CPU has no choice yet) and, to compare, with the 4-bit GGUF file
as shipped ("file"). Baselines in the same run: plain fp32 `model.generate` (transformers) and
llama-cpp-python's own `Llama` on the same GGUF file (one prompt at a time, no prefix reuse).
`--engines llama_cpp,torch` adds our torch engine (slow: a minute more). The machine may be
shared: compare figures within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import machine  # noqa: E402


# Cold start and memory of the llama.cpp engine, measured in a fresh process of its own.
LLAMA_COLD = """
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from brain.generator import ChatMessage, GenerationOptions
from brain.llama_generator import LlamaCppGenerator
t1 = time.perf_counter()
gen = LlamaCppGenerator(__import__("pathlib").Path({path!r}), threads={threads}, repack={repack})
t2 = time.perf_counter()
gen.generate([ChatMessage("system", {system!r}), ChatMessage("user", "hello there")], GenerationOptions(max_new_tokens=60))
# VmHWM, not ru_maxrss: the latter would carry the forking parent's peak across exec.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"import_s": t1 - t0, "cold_start_s": t2 - t1, "peak_rss_mb": hwm_kb / 1024}}))
"""


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def plain_llama(gguf: Path, encoded: list[list[int]], n_new: int, reply_tokens: int, threads: int) -> dict[str, float]:
    """llama-cpp-python's `Llama` as its README uses it, on the same file and prompt tokens: greedy,
    one prompt at a time, its prefix cache emptied before each (it has no batch of prompts)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)

    def draft(ids: list[int], n: int) -> None:
        llm.reset()  # no reuse of the previous prompt's cells
        for count, _ in enumerate(llm.generate(ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True), start=1):
            if count >= n:
                break

    draft(encoded[0], 4)  # warm-up
    b1 = n_new * len(encoded) / sum(timed(lambda ids=ids: draft(ids, n_new)) for ids in encoded)
    first_ms = statistics.median(timed(lambda ids=ids: draft(ids, 1)) * 1000 for ids in encoded)
    reply_ms = statistics.median(timed(lambda ids=ids: draft(ids, reply_tokens)) * 1000 for ids in encoded)
    llm.close()
    # No batch of prompts in `Llama`: 8 drafts take 8 times one.
    return {"tokens_per_s": b1, "batch8_tokens_per_s": b1, "first_token_ms": first_ms, "first_token_no_reuse_ms": first_ms, "reply_p50_ms": reply_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens per draft for the throughput runs")
    parser.add_argument("--reply-tokens", type=int, default=60, help="tokens per reply for the latency runs")
    parser.add_argument("--prompts", type=int, default=8, help="how many prompts (at most 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch and llama.cpp (0: the cores other work leaves free)")
    parser.add_argument("--engines", default="llama_cpp", help="our engines to measure, comma-separated (llama_cpp, torch)")
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--llama-weights", default="", help="llama.cpp weights to measure besides config.toml's (default: file)")
    args = parser.parse_args()
    engines = args.engines.split(",")

    started = time.perf_counter()
    import torch
    from rich.console import Console
    from rich.table import Table

    from core.config import load_settings
    from brain.draft import reply_system_prompt
    from brain.generator import ChatMessage, GenerationOptions, LocalGenerator
    from brain.llama_choice import QUESTIONS, machine_and_weights
    from brain.llama_generator import LlamaCppGenerator, converted_gguf, resolve_weights
    from brain.model_paths import resolve_model_dir

    import_s = time.perf_counter() - started
    torch.set_num_threads(machine.threads(args.threads))
    settings = load_settings(args.config)
    console = Console(stderr=True)

    started = time.perf_counter()
    gen = LocalGenerator(settings.models.generator, gguf_file=settings.models.gguf_file or None, cache_dir=settings.model_cache_dir, threads=args.threads)
    torch_cold_s = time.perf_counter() - started
    model, tok = gen.model, gen.tokenizer

    system_text = reply_system_prompt(settings.brand)
    system = ChatMessage("system", system_text)
    prompts = [[system, ChatMessage("user", f"Answer briefly.\nFollower's message:\n{q}")] for q in QUESTIONS[: args.prompts]]
    encoded = [gen._encode(p) for p in prompts]
    n_new = args.new_tokens
    forced = {"min_new_tokens": n_new, "max_new_tokens": n_new, "do_sample": False, "temperature": None, "top_p": None, "top_k": None, "repetition_penalty": 1.0, "pad_token_id": tok.pad_token_id}

    @torch.inference_mode()
    def baseline(ids: list[int], **kw: object) -> torch.Tensor:
        t = torch.tensor([ids])
        return model.generate(input_ids=t, attention_mask=torch.ones_like(t), **{**forced, **kw})

    baseline(encoded[0], max_new_tokens=4, min_new_tokens=4)  # warm-up
    console.print("[bold]fp32 model.generate, batch 1[/]")
    t0 = time.perf_counter()
    base_out = [baseline(ids) for ids in encoded]
    base_s = time.perf_counter() - t0
    base_tps = n_new * len(encoded) / base_s
    with torch.inference_mode():
        # What fp32 itself predicts at every position of its own greedy drafts.
        wants = [model(input_ids=out).logits[0, len(ids) - 1 : -1].argmax(-1) for ids, out in zip(encoded, base_out)]
    console.print("[bold]fp32 model.generate, first token only (prefill), to split prefill from decode[/]")
    prefill_s = sum(timed(lambda ids=ids: baseline(ids, max_new_tokens=1, min_new_tokens=1)) for ids in encoded)
    base_decode_tps = (n_new - 1) * len(encoded) / (base_s - prefill_s)

    throughput = GenerationOptions(max_new_tokens=n_new, min_new_tokens=n_new, repetition_penalty=1.0)
    reply = GenerationOptions(max_new_tokens=args.reply_tokens, min_new_tokens=args.reply_tokens, repetition_penalty=1.0)
    first = GenerationOptions(max_new_tokens=1)

    def measure(engine: LocalGenerator | LlamaCppGenerator, agreement: Callable[[], float]) -> dict[str, float]:
        engine.generate(prompts[0], GenerationOptions(max_new_tokens=4))  # warm-up, fills the prefix cache
        b1 = n_new * len(prompts) / sum(timed(lambda p=p: engine.generate(p, throughput)) for p in prompts)
        batch = (prompts * 8)[:8]
        b8 = n_new * len(batch) / timed(lambda: engine.generate_many(batch, throughput))

        def first_token_ms(reuse: bool) -> float:
            engine.reuse_prefix = reuse
            return statistics.median(timed(lambda p=p: engine.generate(p, first)) * 1000 for p in prompts)

        first_plain, first_ms = first_token_ms(False), first_token_ms(True)
        reply_ms = statistics.median(timed(lambda p=p: engine.generate(p, reply)) * 1000 for p in prompts)
        return {"tokens_per_s": b1, "batch8_tokens_per_s": b8, "first_token_ms": first_ms, "first_token_no_reuse_ms": first_plain, "reply_p50_ms": reply_ms, "agreement_with_fp32": agreement()}

    def torch_agreement() -> float:
        agree = total = 0
        with torch.inference_mode():
            for ids, out, want in zip(encoded, base_out, wants):
                cache = gen._prefix(prompts[0], ids)
                n_prefix = cache.get_seq_length() if cache is not None else 0
                got = model(input_ids=out[:, n_prefix:], cache=cache).logits[0, len(ids) - 1 - n_prefix : -1].argmax(-1)
                agree += int((got == want).sum())
                total += len(want)
        return agree / total

    results: dict[str, dict[str, float]] = {}
    source = resolve_model_dir(settings.models.generator) / settings.models.gguf_file
    cache = settings.model_cache_dir
    console.print(f"[bold]llama.cpp weights: {settings.generator.llama_weights}[/] (auto: timed on this CPU once, then cached)")
    configured = resolve_weights(settings.generator.llama_weights, source, cache, args.threads)
    others = [resolve_weights(w, source, cache, args.threads) for w in (args.llama_weights or "file").split(",")]
    for weights in dict.fromkeys([configured, *others]) if "llama_cpp" in engines else []:
        name = "llama_cpp" if weights == configured else f"llama_cpp_{weights}"
        gguf = converted_gguf(source, weights, cache)  # converted before timing
        console.print(f"[bold]llama.cpp engine, {weights} weights: cold start and memory in a fresh process[/]")
        code = LLAMA_COLD.format(root=str(ROOT), path=str(gguf), threads=args.threads, system=system_text, repack=weights == "q4_0")
        cold = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        llama = LlamaCppGenerator(gguf, threads=args.threads, repack=weights == "q4_0")
        same_prompt = all(llama.encode(p) == ids for p, ids in zip(prompts, encoded))

        def llama_agreement(llama: LlamaCppGenerator = llama) -> float:
            agree = total = 0
            for ids, out, want in zip(encoded, base_out, wants):
                got = torch.tensor(llama.greedy_next_tokens(out[0].tolist()))[len(ids) - 1 : -1]
                agree += int((got == want).sum())
                total += len(want)
            return agree / total

        console.print(f"[bold]llama.cpp engine, {weights} weights: batch 1, batch 8, first token, replies[/]")
        results[name] = {**measure(llama, llama_agreement), **cold, "same_prompt_tokens": float(same_prompt)}
        llama.close()
        if weights == configured:
            console.print(f"[bold]llama-cpp-python's own Llama on the same file ({gguf.name}): batch 1, first token, replies[/]")
            results["plain_llama_cpp"] = plain_llama(gguf, encoded, n_new, args.reply_tokens, machine.threads(args.threads))
    if "torch" in engines:
        console.print("[bold]torch engine: batch 1, batch 8, first token, replies[/]")
        results["torch"] = {**measure(gen, torch_agreement), "cold_start_s": torch_cold_s, "import_s": import_s}
    process_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    chosen = results.get(settings.generator.local_engine) or next(iter(results.values()))
    chosen_name = settings.generator.local_engine if settings.generator.local_engine in results else next(iter(results))
    result: dict[str, object] = {
        "engine": chosen_name,
        **{k: round(v, 4 if k == "agreement_with_fp32" else 2) for k, v in chosen.items()},
        "baseline_fp32_tokens_per_s": round(base_tps, 1),
        "baseline_fp32_decode_tokens_per_s": round(base_decode_tps, 1),
        "baseline_fp32_prefill_ms": round(prefill_s / len(encoded) * 1000, 1),
        "prompt_tokens": round(statistics.mean(len(ids) for ids in encoded)),
        "reply_tokens": args.reply_tokens,
        "new_tokens": n_new,
        "prompts": len(prompts),
        "threads": args.threads,
        "bench_process_peak_rss_mb": round(process_peak_mb, 1),
        **machine_and_weights(settings),
        "llama_weights_ran": configured,
    }
    for name, figures in results.items():
        if name != chosen_name:
            result.update({f"{name}_{k}": round(v, 4 if k == "agreement_with_fp32" else 2) for k, v in figures.items()})

    table = Table(title=f"SmolLM2-135M drafting, {n_new} new tokens, {args.threads} threads, prompts of ~{result['prompt_tokens']} tokens")
    table.add_column("figure")
    table.add_column("fp32 model.generate", justify="right")
    for name in results:
        table.add_column(f"{name}{' (default)' if name == chosen_name else ''}", justify="right")
    rows = [
        ("batch 1 tokens/s", f"{base_tps:.1f} ({base_decode_tps:.1f} decode only)", "tokens_per_s", "{:.1f}"),
        ("batch 8 tokens/s (total)", f"{base_tps:.1f} (one by one)", "batch8_tokens_per_s", "{:.1f}"),
        ("next-token agreement with fp32", "100%", "agreement_with_fp32", "{:.1%}"),
        ("first token ms (p50, prefix reused)", f"{prefill_s / len(encoded) * 1000:.0f}", "first_token_ms", "{:.0f}"),
        ("first token ms (p50, no reuse)", "", "first_token_no_reuse_ms", "{:.0f}"),
        (f"reply of {args.reply_tokens} tokens ms (p50)", "", "reply_p50_ms", "{:.0f}"),
        ("cold start s (after imports)", "", "cold_start_s", "{:.2f}"),
        ("peak RSS MB (own process)", "", "peak_rss_mb", "{:.0f}"),
    ]
    for label, base, key, fmt in rows:
        table.add_row(label, base, *(fmt.format(r[key]) if key in r else "" for r in results.values()))
    console.print(table)
    # The targets, against the baselines of this run.
    targets = {
        "batch1_vs_fp32_x": (float(chosen["tokens_per_s"]) / base_tps, 2.5),
        "batch8_vs_fp32_batch1_x": (float(chosen["batch8_tokens_per_s"]) / base_tps, 6.0),
        "batch8_vs_batch1_x": (float(chosen["batch8_tokens_per_s"]) / float(chosen["tokens_per_s"]), 0.0),
    }
    if "plain_llama_cpp" in results:
        targets["batch1_vs_plain_llama_cpp_x"] = (float(chosen["tokens_per_s"]) / results["plain_llama_cpp"]["tokens_per_s"], 0.0)
        targets["batch8_vs_plain_llama_cpp_x"] = (float(chosen["batch8_tokens_per_s"]) / results["plain_llama_cpp"]["tokens_per_s"], 0.0)
    for key, (value, goal) in targets.items():
        result[key] = round(value, 2)
        if goal:
            console.print(f"{key}: {value:.2f} (target {goal}) {'[green]met[/]' if value >= goal else '[red]missed[/]'}")
    if float(chosen["agreement_with_fp32"]) < 0.95:
        console.print("[red]quality guard failed: agreement with fp32 below 95%[/]")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
