"""Intents on realistic follower messages: a head against a baseline head on the held-out part of
brain/datasets/followers (never trained or tuned on), what the policy then does, sentiment on
the sarcastic rows, and the detected language against the written one.

Run `.venv/bin/python bench/intents.py [--model DIR] [--baseline DIR] [--data CSV]` from the repo
root. --model defaults to the shipped intent head, --baseline to none. A message "should be
answered" unless its label is one the policy ignores or stops on (spam, unsubscribe); it is
"missed" when the policy then ignores it as spam or opts the contact out (`_labels_only`: as
the policy did before it read the message's language). Last line: one JSON
object with the same figures (`baseline_*` for the baseline head).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from brain.encoder import Encoder  # noqa: E402
from brain.heads import HEADS_DIR, Head  # noqa: E402
from brain.labelled import evaluate  # noqa: E402
from brain.policy import Action, Situation, decide  # noqa: E402
from brain.risk import Risk  # noqa: E402
from brain.understand import Understander, load_heads  # noqa: E402
from core.config import load_settings  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402

HELDOUT = ROOT / "brain" / "datasets" / "followers" / "heldout.csv"
NO_RISK = Risk("", 0.0)


def measure(understander: Understander, rows: list[dict[str, str]], settings) -> dict[str, object]:  # type: ignore[no-untyped-def]
    texts = [r["text"] for r in rows]
    results = understander.understand_many(texts)
    head = understander.heads["intent"]
    scores = evaluate([r["label"] for r in rows], [u.intent for u in results], head.labels, head.other_label)
    policy = settings.policy
    silenced = set(policy.ignore_intents) | set(policy.opt_out_intents)
    situation = Situation("console", brand_language=settings.brand.language)
    actions = [decide(u, NO_RISK, policy, situation).action for u in results]
    answerable = [(r, a) for r, a in zip(rows, actions) if r["label"] not in silenced]
    missed = [r["text"] for r, a in answerable if a in (Action.ignore_spam, Action.opt_out)]
    # As the policy did before it read the language: every message judged by its labels.
    unread = [decide(replace(u, language=""), NO_RISK, policy, situation).action for u in results]
    missed_unread = [r for r, a in zip(rows, unread) if r["label"] not in silenced and a in (Action.ignore_spam, Action.opt_out)]
    spam = [a for r, a in zip(rows, actions) if r["label"] in policy.ignore_intents]
    sarcastic = [u.sentiment for r, u in zip(rows, results) if r.get("sarcastic") == "1"]
    written = [(r.get("language", ""), u.language) for r, u in zip(rows, results) if r.get("language")]
    foreign = [(w, d) for w, d in written if w != settings.brand.language]
    own = [(w, d) for w, d in written if w == settings.brand.language]
    return scores | {
        "n_should_be_answered": len(answerable),
        "missed_customers": len(missed),
        "missed_customer_rate": round(len(missed) / len(answerable), 4) if answerable else None,
        "missed_examples": missed[:10],
        "missed_customer_rate_labels_only": round(len(missed_unread) / len(answerable), 4) if answerable else None,
        "spam_ignored_rate": round(sum(a is Action.ignore_spam for a in spam) / len(spam), 4) if spam else None,
        "sarcastic_n": len(sarcastic),
        "sarcastic_sentiment": dict(Counter(sarcastic)),
        "sarcastic_negative_rate": round(sarcastic.count("negative") / len(sarcastic), 4) if sarcastic else None,
        "foreign_n": len(foreign),
        "foreign_detected_rate": round(sum(w == d for w, d in foreign) / len(foreign), 4) if foreign else None,
        "foreign_to_owner_rate": round(sum(bool(d) and d != settings.brand.language for _, d in foreign) / len(foreign), 4)
        if foreign
        else None,
        "own_language_n": len(own),
        "own_taken_for_foreign_rate": round(sum(bool(d) and d != w for w, d in own) / len(own), 4) if own else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(HEADS_DIR / "intent"), help="intent head folder (default: the shipped one)")
    parser.add_argument("--baseline", help="another intent head folder, scored on the same rows")
    parser.add_argument("--data", default=str(HELDOUT), help="CSV with text,label (and sarcastic, language) columns")
    args = parser.parse_args()
    settings = load_settings(ROOT / "config.toml")
    with open(args.data, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["text"].strip() and r["label"].strip()]
    c = settings.classify
    encoder = Encoder(settings.models.encoder, runtime=c.runtime, int8=c.int8, cache_dir=settings.model_cache_dir)
    heads = load_heads()
    runs = {}
    for name, folder in (("baseline", args.baseline), ("model", args.model)):
        if folder:
            understander = Understander(encoder, heads | {"intent": Head.load(Path(folder))}, 0, settings.brand.language)
            runs[name] = measure(understander, rows, settings)

    console = Console()
    new = runs["model"]
    table = Table(title=f"Intent recall per label, {new['n']} held-out follower messages ({Path(args.data).name})")
    table.add_column("intent")
    table.add_column("support", justify="right")
    for name in runs:
        table.add_column(f"{name} recall", justify="right")
    for label, stats in new["per_class"].items():  # type: ignore[union-attr]
        cells = [f"{r['per_class'].get(label, {}).get('recall', 0):.2f}" for r in runs.values()]  # type: ignore[union-attr]
        table.add_row(label, str(stats["support"]), *cells)
    for key in (
        "accuracy", "macro_recall", "macro_f1", "missed_customer_rate", "missed_customer_rate_labels_only",
        "spam_ignored_rate", "sarcastic_negative_rate",
    ):  # fmt: skip
        table.add_row(key, "", *[str(r[key]) for r in runs.values()])
    console.print(table)
    matrix = Table(title="Confusion matrix of --model (rows: true label, columns: predicted)")
    labels = new["confusion"]["labels"]  # type: ignore[index]
    matrix.add_column("true \\ predicted")
    for lab in labels:
        matrix.add_column(lab[:8], justify="right")
    for lab, line in zip(labels, new["confusion"]["matrix"]):  # type: ignore[index]
        matrix.add_row(lab, *[str(v) for v in line])
    console.print(matrix)
    console.print(f"missed customers (--model): {new['missed_examples']}")
    console.print(f"sarcastic rows' sentiment: {new['sarcastic_sentiment']}; languages: {new['foreign_n']} foreign rows, "
                  f"{new['foreign_detected_rate']} detected exactly, {new['foreign_to_owner_rate']} sent to the owner; "
                  f"{new['own_taken_for_foreign_rate']} of {new['own_language_n']} own-language rows taken for foreign")
    keys = (
        "n", "accuracy", "macro_recall", "macro_f1", "n_should_be_answered", "missed_customers", "missed_customer_rate",
        "missed_customer_rate_labels_only",
        "spam_ignored_rate", "sarcastic_n", "sarcastic_negative_rate", "foreign_n", "foreign_detected_rate",
        "foreign_to_owner_rate", "own_language_n", "own_taken_for_foreign_rate",
    )  # fmt: skip
    summary = {k: new[k] for k in keys} | {
        "recall_per_intent": {k: v["recall"] for k, v in new["per_class"].items()}  # type: ignore[union-attr]
    }
    if "baseline" in runs:
        summary |= {f"baseline_{k}": runs["baseline"][k] for k in keys[1:]}
        summary |= {"baseline_recall_per_intent": {k: v["recall"] for k, v in runs["baseline"]["per_class"].items()}}  # type: ignore[union-attr]
    summary |= machine_and_weights(settings)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
