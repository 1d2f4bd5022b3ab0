"""`bot timing eval` on slices of the real Facebook posts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT

DATA = ROOT.parent / "shared" / "data" / "facebook_metrics" / "dataset_Facebook_first350.csv"


def write_rows(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_prints_one_json_line_next_to_the_mean_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header, *rows = DATA.read_text(encoding="utf-8").splitlines()
    # Time-ordered: the file runs newest first, so train on the older posts, test on newer ones.
    train = write_rows(tmp_path / "train.csv", [header, *rows[150:]])
    test = write_rows(tmp_path / "test.csv", [header, *rows[:150]])
    assert main(["timing", "eval", "--train", str(train), "--test", str(test)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"spearman", "mae", "baseline_spearman", "baseline_mae", "ridge_spearman", "ridge_mae"} <= figures.keys()
    assert figures["n_train"] == 200 and figures["n_test"] == 150
    assert -1 <= figures["spearman"] <= 1 and figures["mae"] > 0
    assert figures["baseline_spearman"] == 0.0  # a constant ranks nothing
    # On this split the model ranks posts better than the textbook ridge (0.29 against 0.02).
    assert figures["spearman"] > figures["ridge_spearman"]


def test_a_file_without_the_columns_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_rows(tmp_path / "bad.csv", ["a,b", "1,2"])
    assert main(["timing", "eval", "--train", str(bad), "--test", str(bad)]) == 2
    assert "missing column(s) Type, Post Weekday" in capsys.readouterr().err


def test_a_missing_or_non_utf8_file_is_one_plain_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("Type,Category\ncaf\xe9,1\n".encode("latin-1"))
    for path, said in ((tmp_path / "nope.csv", "file not found"), (latin1, "not UTF-8 text (byte 17)")):
        assert main(["timing", "eval", "--train", str(path), "--test", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1 and "Errno" not in err and "codec" not in err
