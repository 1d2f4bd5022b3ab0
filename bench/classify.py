"""Classifier speed and sentiment quality: the configured runtime against torch fp32 and VADER, same run.

Run `.venv/bin/python bench/classify.py [--runtimes torch onnx-int8 ...] [--threads N] [--latency-n N]`
from the repo root. Each runtime runs in its own process (so its peak memory is its own): throughput
and macro recall from one pass over the TweetEval sentiment validation split, all heads on; latency
from classifying messages one at a time. The first run of an ONNX runtime exports it into the model
cache (not timed). `--before CHECKOUT` runs another checkout's configured runtime (its own code,
heads and model cache) as one more row, `before`. Last line: one JSON object, the configured runtime's figures plus `baseline_*`
(torch fp32) and `<runtime>_*` for every other runtime measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sklearn.metrics import recall_score  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from core.config import load_settings  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402
from brain.labelled import read_labelled  # noqa: E402

VAL = ROOT.parent / "shared" / "data" / "tweeteval_sentiment" / "val.csv"
BASELINE = "torch"
# The accuracy guard of issue #3: a speed-up may cost at most half a point of macro recall.
MAX_RECALL_DROP = 0.005


def runtime_name(runtime: str, int8: bool) -> str:
    return f"{runtime}-int8" if int8 else runtime


def vader(texts: list[str]) -> tuple[list[str], float]:
    analyzer = SentimentIntensityAnalyzer()
    start = time.perf_counter()
    scores = [analyzer.polarity_scores(t)["compound"] for t in texts]
    elapsed = time.perf_counter() - start
    # The thresholds VADER's authors recommend.
    labels = ["positive" if s >= 0.05 else "negative" if s <= -0.05 else "neutral" for s in scores]
    return labels, len(texts) / elapsed


def measure_one(name: str, threads: int, latency_n: int) -> dict[str, object]:
    """One runtime, in this process: load (exporting if needed), throughput, latency, labels."""
    import torch

    from brain.encoder import Encoder
    from brain.understand import Understander

    torch.set_num_threads(threads)
    settings = load_settings(ROOT / "config.toml")
    texts = [t for t, _ in read_labelled(VAL)]
    runtime, _, q = name.partition("-")
    t0 = time.perf_counter()
    encoder = Encoder(
        settings.models.encoder, runtime=runtime, int8=q == "int8", cache_dir=settings.model_cache_dir, threads=threads
    )
    understander = Understander(encoder, cache_size=0)  # no cache: every text costs
    load_s = time.perf_counter() - t0
    understander.understand_many(texts[:64])  # warm-up
    start = time.perf_counter()
    results = understander.understand_many(texts)
    throughput = len(texts) / (time.perf_counter() - start)
    latencies = []
    for text in texts[:latency_n]:
        t0 = time.perf_counter()
        understander.understand(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "ran_as": runtime_name(encoder.runtime, encoder.int8),  # differs from name after a fallback
        "labels": [r.sentiment for r in results],
        "messages_per_s": throughput,
        "p50_ms": statistics.median(latencies),
        "p95_ms": statistics.quantiles(latencies, n=20)[18],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_s": load_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    settings = load_settings(ROOT / "config.toml")
    configured = runtime_name(settings.classify.runtime, settings.classify.int8)
    choices = ["torch", "torch-int8", "onnx", "onnx-int8"]
    parser.add_argument("--runtimes", nargs="+", choices=choices, default=[configured], help="runtimes besides torch fp32 (default: config.toml's, %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch and ONNX Runtime (default %(default)s)")
    parser.add_argument("--latency-n", type=int, default=200, help="messages timed one at a time")
    parser.add_argument("--before", type=Path, help="a checkout of the code before a change (its own heads and model cache): its configured runtime runs as one more row, `before`")
    parser.add_argument("--one", choices=choices, help=argparse.SUPPRESS)  # the child process's job
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.threads, args.latency_n)))
        return

    rows = read_labelled(VAL)
    texts, truth = [t for t, _ in rows], [lab for _, lab in rows]

    def recall(labels: list[str]) -> float:
        return float(recall_score(truth, labels, average="macro"))

    v_labels, v_speed = vader(texts)
    runs: dict[str, dict[str, float | str]] = {}
    names = list(dict.fromkeys([BASELINE, *args.runtimes])) + (["before"] if args.before else [])
    for name in names:
        script = args.before / "bench" / "classify.py" if name == "before" else Path(__file__)
        one = configured if name == "before" else name
        cmd = [sys.executable, str(script), "--one", one, "--threads", str(args.threads), "--latency-n", str(args.latency_n)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        labels = r.pop("labels")
        runs[name] = r | {"val_macro_recall": recall(labels)}

    base = runs[BASELINE]
    table = Table(title=f"Classification, {len(texts)} TweetEval sentiment val messages, all heads, {args.threads} threads")
    for col in ("runtime", "messages/s", "p50 ms", "p95 ms", "peak RSS MB", "val macro recall", "guard"):
        table.add_column(col, justify="left" if col == "runtime" else "right")
    for name, r in runs.items():
        ok = base["val_macro_recall"] - r["val_macro_recall"] <= MAX_RECALL_DROP  # type: ignore[operator]
        label = name if r["ran_as"] == name else f"{name} (ran as {r['ran_as']})"
        table.add_row(label, f"{r['messages_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['peak_rss_mb']:.0f}", f"{r['val_macro_recall']:.4f}", "ok" if ok else "FAILS")
    table.add_row("vader (sentiment only)", f"{v_speed:.0f}", f"{1000 / v_speed:.2f}", "", "", f"{recall(v_labels):.4f}", "")
    Console().print(table)
    Console().print(f"guard: at most {MAX_RECALL_DROP * 100:.1f} points of macro recall below torch fp32; configured runtime: {configured}")

    def figures(r: dict[str, float | str], prefix: str = "") -> dict[str, float | str]:
        keys = ("messages_per_s", "p50_ms", "p95_ms", "peak_rss_mb", "load_s")
        out: dict[str, float | str] = {f"{prefix}{k}": round(float(r[k]), 2) for k in keys}
        return out | {f"{prefix}val_macro_recall": round(float(r["val_macro_recall"]), 4)}

    main_run = runs.get(configured, base)
    summary = {"runtime": configured, "ran_as": main_run["ran_as"]} | figures(main_run)
    summary |= {"recall_drop_points": round((float(base["val_macro_recall"]) - float(main_run["val_macro_recall"])) * 100, 2)}
    summary |= {"speedup_x": round(float(main_run["messages_per_s"]) / float(base["messages_per_s"]), 2)}
    summary |= figures(base, "baseline_")
    for name, r in runs.items():
        if name not in (configured, BASELINE):
            summary |= figures(r, name.replace("-", "_") + "_")
    summary |= {
        "vader_messages_per_s": round(v_speed, 1),
        "vader_val_macro_recall": round(recall(v_labels), 4),
        "n_val": len(texts),
        "threads": args.threads,
        **machine_and_weights(load_settings(ROOT / "config.toml")),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
