"""Builds train.csv and heldout.csv of the follower-message intent set from source/*.txt.

Run `.venv/bin/python brain/datasets/followers/build.py` from the repo root. The split is fixed:
every message of the businesses in HELDOUT goes to heldout.csv, the rest to train.csv, so no
held-out message is a reworded copy of a training one about the same shop. Exact duplicates
(case, spacing and punctuation aside) are kept once, and a held-out message that repeats a
training message (here or in brain/datasets/intent/train.csv, which the shipped head also reads)
or shares most of its words with one is dropped from heldout.csv.
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import astuple, dataclass, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
OLD_TRAIN = HERE.parent / "intent" / "train.csv"
HELDOUT = ("hairsalon", "florist", "phonerepair")
INTENTS = (
    "complaint", "feedback", "greeting", "other", "praise",
    "purchase_intent", "question", "spam", "support_request", "unsubscribe",
)  # fmt: skip
CHANNELS = {"d": "dm", "c": "comment"}
LANGUAGE_RE = re.compile(r"@[a-z]{2}")
NEAR_DUPLICATE_JACCARD = 0.7  # word overlap above which two messages of 4+ words count as one


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    business: str
    channel: str  # dm or comment
    sarcastic: int  # 1: says the opposite of what it means (its real sentiment is negative)
    language: str  # ISO 639-1 of the text as written


def parse(path: Path) -> list[Row]:
    """Lines `## intent` start a section; `d|c [~] [@xx] text` is one message (see source/bakery.txt)."""
    rows, label = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("# "):
            continue
        if line.startswith("## "):
            label = line[3:].strip()
            if label not in INTENTS:
                sys.exit(f"{path.name}:{number}: unknown intent {label!r}")
            continue
        channel, _, rest = line.partition(" ")
        if channel not in CHANNELS or not label:
            sys.exit(f"{path.name}:{number}: expected 'd' or 'c' and a message under an intent heading")
        sarcastic = rest.startswith("~ ")
        rest = rest[2:] if sarcastic else rest
        language = "en"
        if LANGUAGE_RE.fullmatch(rest[:3]) and rest[3:4] == " ":
            language, rest = rest[1:3], rest[4:]
        rows.append(Row(rest.strip(), label, path.stem, CHANNELS[channel], int(sarcastic), language))
    return rows


def key(text: str) -> str:
    """What two copies of a message share: lower case, no punctuation or extra spaces (emoji kept)."""
    return " ".join(re.sub(r"[^\w\s\U0001F000-\U0001FFFF\u2600-\u27BF]", " ", text.lower()).split())


def words(text: str) -> set[str]:
    return set(key(text).split())


def near_duplicate(text: str, seen: list[set[str]]) -> bool:
    mine = words(text)
    if len(mine) < 4:
        return False
    return any(len(mine & other) / len(mine | other) >= NEAR_DUPLICATE_JACCARD for other in seen if len(other) >= 4)


def build() -> tuple[list[Row], list[Row], int]:
    train: list[Row] = []
    heldout: list[Row] = []
    seen: set[str] = set()
    for path in sorted((HERE / "source").glob("*.txt")):
        for row in parse(path):
            if key(row.text) in seen:
                continue
            seen.add(key(row.text))
            (heldout if row.business in HELDOUT else train).append(row)
    with OLD_TRAIN.open(encoding="utf-8") as fh:
        train_keys = {key(r["text"]) for r in csv.DictReader(fh)} | {key(r.text) for r in train}
    train_words = [words(r.text) for r in train]
    kept = [r for r in heldout if key(r.text) not in train_keys and not near_duplicate(r.text, train_words)]
    return train, kept, len(heldout) - len(kept)


def write(rows: list[Row], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([f.name for f in fields(Row)])
        out.writerows(astuple(r) for r in rows)


def main() -> None:
    train, heldout, dropped = build()
    write(train, HERE / "train.csv")
    write(heldout, HERE / "heldout.csv")
    print(f"train.csv {len(train)} rows, heldout.csv {len(heldout)} rows ({dropped} held-out rows dropped as copies of training ones)")


if __name__ == "__main__":
    main()
