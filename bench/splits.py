"""Splits the shared data lacks: a Banking77 validation split, and a TweetEval sentiment subset.

Run `.venv/bin/python bench/splits.py [--sentiment-rows N]`; writes to data/splits/:
- banking77_{train,val}.csv: Banking77 ships only train.csv; every 10th row of each intent,
  in file order, goes to val.
- tweeteval_sentiment_train_N.csv (with --sentiment-rows N): N rows of the sentiment training
  split, shuffled with random.Random(0), labels as names: a quicker subset to experiment on.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "data" / "splits"


def _write(name: str, rows: list[dict[str, str]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / name).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def sentiment_subset(n: int) -> None:
    folder = SHARED / "tweeteval_sentiment"
    names = dict(line.split("\t") for line in (folder / "mapping.txt").read_text(encoding="utf-8").splitlines() if "\t" in line)
    with (folder / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    random.Random(0).shuffle(rows)
    _write(f"tweeteval_sentiment_train_{n}.csv", [{"text": r["text"], "label": names[r["label"]]} for r in rows[:n]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentiment-rows", type=int, default=0, help="also write the sentiment subset of this size")
    args = parser.parse_args()
    if args.sentiment_rows:
        sentiment_subset(args.sentiment_rows)
    with (SHARED / "banking77" / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[str, int] = defaultdict(int)
    parts: dict[str, list[dict[str, str]]] = {"train": [], "val": []}
    for row in rows:
        seen[row["label"]] += 1
        parts["val" if seen[row["label"]] % 10 == 0 else "train"].append(row)
    for name, part in parts.items():
        _write(f"banking77_{name}.csv", part)


if __name__ == "__main__":
    main()
