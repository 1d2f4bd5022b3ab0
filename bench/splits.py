"""Validation splits the shared data lacks: Banking77 ships only train.csv, so hold out 10% of it.

Run `.venv/bin/python bench/splits.py`; writes data/splits/banking77_{train,val}.csv
(stratified: every 10th row of each intent, in file order, goes to val).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "data" / "splits"


def main() -> None:
    with (SHARED / "banking77" / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[str, int] = defaultdict(int)
    parts: dict[str, list[dict[str, str]]] = {"train": [], "val": []}
    for row in rows:
        seen[row["label"]] += 1
        parts["val" if seen[row["label"]] % 10 == 0 else "train"].append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        with (OUT / f"banking77_{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(part)
        print(f"banking77_{name}.csv: {len(part)} rows")


if __name__ == "__main__":
    main()
