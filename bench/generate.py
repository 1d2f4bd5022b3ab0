"""Drafting speed of the local generator against plain fp32 `model.generate`, measured in one run.

Run: .venv/bin/python bench/generate.py [--new-tokens 128] [--prompts 8] [--threads 2]
The machine may be shared: compare figures within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "What time do you open on Saturday?",
    "Do you deliver? How much does it cost?",
    "Your cinnamon rolls are the best in town, thank you!",
    "Is the autumn sale still on? I want two cakes.",
    "hello there",
    "My order arrived late and the box was crushed.",
    "Can I pay by card in the shop?",
    "Where can I order a birthday cake online?",
]
# What llama.cpp (llama-cpp-python, same Q4_1 GGUF, 2 threads) did on this kind of machine, from the issue.
LLAMA_CPP_REFERENCE = {"tokens_per_s": 144.0, "end_to_end_tokens_per_s": 116.0, "peak_rss_mb": 220.0, "cold_start_s": 0.14}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens per draft for the throughput runs")
    parser.add_argument("--reply-tokens", type=int, default=60, help="tokens per reply for the latency runs")
    parser.add_argument("--prompts", type=int, default=8, help="how many prompts (at most 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    args = parser.parse_args()

    started = time.perf_counter()
    import torch
    from rich.console import Console
    from rich.table import Table

    from bot.config import load_settings
    from brain.draft import reply_system_prompt
    from brain.generator import ChatMessage, GenerationOptions, LocalGenerator

    import_s = time.perf_counter() - started
    torch.set_num_threads(args.threads)
    settings = load_settings(args.config)
    console = Console(stderr=True)

    started = time.perf_counter()
    gen = LocalGenerator(settings.models.generator, gguf_file=settings.models.gguf_file or None, cache_dir=settings.model_cache_dir)
    cold_start_s = time.perf_counter() - started
    model, tok = gen.model, gen.tokenizer

    system = ChatMessage("system", reply_system_prompt(settings.brand))
    prompts = [[system, ChatMessage("user", f"Answer briefly.\nFollower's message:\n{q}")] for q in QUESTIONS[: args.prompts]]
    encoded = [gen._encode(p) for p in prompts]
    forced = {"min_new_tokens": args.new_tokens, "max_new_tokens": args.new_tokens, "do_sample": False, "temperature": None, "top_p": None, "top_k": None, "repetition_penalty": 1.0, "pad_token_id": tok.pad_token_id}

    @torch.inference_mode()
    def baseline(ids: list[int], **kw: object) -> torch.Tensor:
        t = torch.tensor([ids])
        return model.generate(input_ids=t, attention_mask=torch.ones_like(t), **{**forced, **kw})

    baseline(encoded[0], max_new_tokens=4, min_new_tokens=4)  # warm-up
    console.print("[bold]fp32 model.generate, batch 1[/]")
    t0 = time.perf_counter()
    base_out = [baseline(ids) for ids in encoded]
    base_tps = args.new_tokens * len(encoded) / (time.perf_counter() - t0)

    opts = GenerationOptions(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, repetition_penalty=1.0)
    gen.generate(prompts[0], GenerationOptions(max_new_tokens=4))  # warm-up, fills the prefix cache
    console.print("[bold]ours, batch 1 (prefix reuse)[/]")
    t0 = time.perf_counter()
    for p in prompts:
        gen.generate(p, opts)
    ours_tps = args.new_tokens * len(prompts) / (time.perf_counter() - t0)

    console.print("[bold]ours, batch 8[/]")
    batch = (prompts * 8)[:8]
    t0 = time.perf_counter()
    gen.generate_many(batch, opts)
    batch8_tps = args.new_tokens * len(batch) / (time.perf_counter() - t0)

    console.print("[bold]agreement with fp32 (teacher-forced next token)[/]")
    agree = total = 0
    with torch.inference_mode():
        for ids, out in zip(encoded, base_out):
            want = model(input_ids=out).logits[0, len(ids) - 1 : -1].argmax(-1)
            cache = gen._prefix(prompts[0], ids)
            n_prefix = cache.get_seq_length() if cache is not None else 0
            got = model(input_ids=out[:, n_prefix:], cache=cache).logits[0, len(ids) - 1 - n_prefix : -1].argmax(-1)
            agree += int((got == want).sum())
            total += len(want)
    agreement = agree / total

    console.print("[bold]first token and whole replies[/]")
    first = GenerationOptions(max_new_tokens=1)
    def first_token_ms(reuse: bool) -> float:
        gen.reuse_prefix = reuse
        times = []
        for p in prompts:
            t0 = time.perf_counter()
            gen.generate(p, first)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)
    first_base_ms, first_ms = first_token_ms(False), first_token_ms(True)
    reply_opts = GenerationOptions(max_new_tokens=args.reply_tokens, min_new_tokens=args.reply_tokens, repetition_penalty=1.0)
    reply_ms = []
    for p in prompts:
        t0 = time.perf_counter()
        gen.generate(p, reply_opts)
        reply_ms.append((time.perf_counter() - t0) * 1000)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    result = {
        "tokens_per_s": round(ours_tps, 1),
        "baseline_fp32_tokens_per_s": round(base_tps, 1),
        "batch8_tokens_per_s": round(batch8_tps, 1),
        "agreement_with_fp32": round(agreement, 4),
        "first_token_ms": round(first_ms, 1),
        "baseline_first_token_ms": round(first_base_ms, 1),
        "reply_p50_ms": round(statistics.median(reply_ms), 1),
        "reply_tokens": args.reply_tokens,
        "cold_start_s": round(cold_start_s, 2),
        "import_s": round(import_s, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "new_tokens": args.new_tokens,
        "prompts": len(prompts),
        "threads": args.threads,
        "llama_cpp_reference_tokens_per_s": LLAMA_CPP_REFERENCE["tokens_per_s"],
    }
    table = Table(title=f"SmolLM2-135M drafting, {args.new_tokens} new tokens, {args.threads} threads")
    table.add_column("figure")
    table.add_column("fp32 model.generate", justify="right")
    table.add_column("ours", justify="right")
    table.add_column("llama.cpp (reference, not run)", justify="right")
    table.add_row("batch 1 tokens/s", f"{base_tps:.1f}", f"{ours_tps:.1f}", "144 (116 end to end)")
    table.add_row("batch 8 tokens/s (total)", f"{base_tps:.1f} (one by one)", f"{batch8_tps:.1f}", "116 (one by one)")
    table.add_row("next-token agreement with fp32", "100%", f"{agreement:.1%}", "")
    table.add_row("first token ms (p50)", f"{first_base_ms:.0f}", f"{first_ms:.0f}", "")
    table.add_row(f"reply of {args.reply_tokens} tokens ms (p50)", "", f"{statistics.median(reply_ms):.0f}", "")
    table.add_row("cold start s (from cache, after imports)", "", f"{cold_start_s:.2f} (+{import_s:.1f} imports)", "0.14")
    table.add_row("peak RSS MB", "", f"{peak_rss_mb:.0f}", "220")
    console.print(table)
    if agreement < 0.95:
        console.print("[red]quality guard failed: agreement with fp32 below 95%[/]")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
