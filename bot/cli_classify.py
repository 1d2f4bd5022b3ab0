"""`bot classify`, `bot train` and `bot eval`: the classifier heads from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from brain.heads import TASKS, Head, head_dir
from brain.labelled import DataError, merge_corrections, read_labelled
from brain.training import TrainOptions, fit, score

if TYPE_CHECKING:
    from brain.service import Brain
    from core.config import Settings

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("classify", help="print intent, sentiment and offensiveness of each message, one JSON line each")
    p.add_argument("text", nargs="+", help="one or more messages (quote each); '-' reads one message per line from stdin")
    config_option(p)
    p.set_defaults(handler=classify)

    p = sub.add_parser("train", help="train a classifier head on a labelled CSV")
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--data", required=True, nargs="+", help="CSV files with a text and a label column (any label set), read as one")
    _columns(p)
    p.add_argument("--out", help="folder for the head (default: TASK/ in [classify] heads_dir, data/heads unless set)")
    p.add_argument("--force", action="store_true", help="save an intent head even if it lacks labels that [policy] uses")
    p.add_argument("--with-corrections", action="store_true", help="add the owner's label corrections from the database")
    p.add_argument("--c", type=float, default=TrainOptions.c, help="inverse regularisation strength (default %(default)s)")
    p.add_argument("--layers", default=",".join(map(str, TrainOptions.layers)), help="encoder layers read (default %(default)s)")
    p.add_argument("--other-label", default="", help="out-of-scope label, predicted when confidence < --threshold")
    p.add_argument("--threshold", type=float, default=0.0, help="confidence below which --other-label is predicted")
    p.add_argument("--balanced", action="store_true", help="weight classes inversely to their frequency")
    p.add_argument("--lexicon", action="store_true", help="add VADER lexicon scores to the features (sentiment)")
    config_option(p)
    p.set_defaults(handler=train)

    p = sub.add_parser("eval", help="score a classifier head on a labelled CSV; prints one JSON object")
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--data", required=True, help="CSV with a text and a label column")
    _columns(p)
    p.add_argument("--model", help="head folder (default: the head the bot loads for TASK)")
    config_option(p)
    p.set_defaults(handler=evaluate)


def _columns(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-col", default="text", help="name of the text column (default %(default)s)")
    p.add_argument("--label-col", default="label", help="name of the label column (default %(default)s)")


def _setup(args: argparse.Namespace) -> tuple[Settings, Brain]:
    from bot.logs import setup_logging
    from core.config import load_settings

    settings = load_settings(args.config)
    setup_logging(settings.bot.log_level)
    from brain.service import Brain  # the models' code: not needed for --help or a bad argument

    return settings, Brain(settings)


def _cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "embeddings"


# Lines of stdin classified together: one encoder pass for many, and the first answers come early.
STDIN_BATCH = 64


def classify(args: argparse.Namespace) -> int:
    _, brain = _setup(args)
    with brain:
        if args.text != ["-"]:
            _print_understood(brain, args.text)
            return 0
        # Bytes that are not UTF-8 become U+FFFD rather than stopping the command.
        stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        batch: list[str] = []
        for line in stdin:
            batch.append(line.rstrip("\r\n"))
            if len(batch) == STDIN_BATCH:
                _print_understood(brain, batch)
                batch = []
        _print_understood(brain, batch)
    return 0


def _print_understood(brain: Brain, texts: list[str]) -> None:
    for text, u in zip(texts, brain.understander.understand_many(texts)):
        print(json.dumps({"text": text[:200], **asdict(u)}, ensure_ascii=False), flush=True)


def _corrections(settings: Settings, task: str) -> list[tuple[str, str]]:
    from storage.db import make_engine
    from storage.repo import list_corrections

    found = [(c.text, c.label) for c in list_corrections(make_engine(settings.database_url), task)]
    log.info("%d owner corrections for %s", len(found), task)
    return found


def _check_policy_labels(labels: set[str], settings: Settings, *, force: bool) -> None:
    """An intent head without the labels [policy] acts on would quietly stop ignoring spam or honouring stop requests."""
    policy = settings.policy
    used = {
        "opt_out_intents": policy.opt_out_intents,
        "ignore_intents": policy.ignore_intents,
        "escalate_intents": policy.escalate_intents,
        "auto_reply_intents": policy.auto_reply_intents,
    }
    missing = {key: sorted(set(names) - labels) for key, names in used.items() if set(names) - labels}
    if not missing:
        return
    listed = "; ".join(f"[policy] {key}: {', '.join(names)}" for key, names in missing.items())
    if not force:
        raise DataError(
            f"the labels lack what the policy uses ({listed}): add rows for them or change [policy]; --force saves it anyway"
        )
    log.warning("intent head saved without labels the policy uses: %s", listed)


def train(args: argparse.Namespace) -> int:
    rows = [row for path in args.data for row in read_labelled(path, args.text_col, args.label_col)]
    try:
        layers = tuple(int(x) for x in args.layers.split(","))
    except ValueError:
        raise DataError(f"--layers must be comma-separated layer numbers, got {args.layers!r}") from None
    options = TrainOptions(args.c, layers, args.other_label, args.threshold, args.balanced, args.lexicon)
    settings, brain = _setup(args)
    if args.with_corrections:
        rows = merge_corrections(rows, _corrections(settings, args.task))
    labels = {label for _, label in rows}
    if args.task == "intent" and len(labels) > 1:  # fewer is refused by fit with its own message
        _check_policy_labels(labels, settings, force=args.force)
    with brain:
        head = fit(brain.encoder, args.task, rows, options, _cache_dir(settings))
    head.info["data"] = ", ".join(args.data)
    out = Path(args.out) if args.out else (settings.classify.heads_dir or settings.data_dir / "heads") / args.task
    head.save(out)
    print(json.dumps({"task": args.task, "n_train": len(rows), "labels": head.labels, "out": str(out)}, ensure_ascii=False))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    rows = read_labelled(args.data, args.text_col, args.label_col)
    from core.config import load_settings

    settings = load_settings(args.config)
    head = Head.load(Path(args.model) if args.model else head_dir(args.task, settings.classify.heads_dir))
    known = set(head.labels) | ({head.other_label} if head.other_label else set())
    if not any(label in known for _, label in rows):
        found = sorted({label for _, label in rows})
        raise DataError(
            f"{args.data}: none of its labels ({', '.join(found[:8])}{', ...' if len(found) > 8 else ''}) is one the head "
            f"knows ({', '.join(head.labels)}): nothing to score"
        )
    settings, brain = _setup(args)
    with brain:
        print(json.dumps(score(brain.encoder, head, rows, _cache_dir(settings)), ensure_ascii=False))
    return 0
