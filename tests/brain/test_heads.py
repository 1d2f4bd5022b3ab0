"""Classifier heads, labelled files and scores, on synthetic features (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brain.heads import Head, features, train_head
from brain.labelled import DataError, evaluate, merge_corrections, read_labelled


def _clusters(n_per: int, labels: list[str], seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Fake pooled layers (texts, 7, 8): each label is a cluster around its own direction."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(labels), 7, 8)) * 3
    pooled = np.concatenate([c + rng.normal(size=(n_per, 7, 8)) for c in centres])
    return pooled.astype(np.float32), [lab for lab in labels for _ in range(n_per)]


def test_head_learns_saves_and_loads_the_same_predictions(tmp_path: Path) -> None:
    labels = ["question", "praise", "spam"]
    pooled, y = _clusters(40, labels)
    head = train_head("intent", pooled, y, layers=(1, 6), c=1.0)
    test, y_test = _clusters(10, labels, seed=0)  # same centres, new noise draw order
    predicted = [lab for lab, _ in head.predict(test)]
    assert np.mean([a == b for a, b in zip(predicted, y_test)]) > 0.9
    head.save(tmp_path / "h")
    again = Head.load(tmp_path / "h")
    assert again.labels == head.labels and again.layers == (1, 6)
    assert np.allclose(again.proba(test), head.proba(test), atol=1e-5)


def test_binary_head_probabilities_match_the_two_labels() -> None:
    pooled, y = _clusters(30, ["not-offensive", "offensive"])
    head = train_head("offensive", pooled, y, layers=(6,))
    p = head.proba(pooled)
    assert p.shape == (60, 2) and np.allclose(p.sum(axis=1), 1.0)
    # Column order follows labels: the binary model's single weight vector must not be flipped.
    assert (p[:30, 0] > 0.5).all() and (p[30:, 1] > 0.5).all()
    assert [lab for lab, _ in head.predict(pooled)] == y


def test_low_confidence_becomes_the_other_label() -> None:
    pooled, y = _clusters(30, ["a", "b", "c"])
    head = train_head("intent", pooled, y, layers=(6,), other_label="oos", threshold=0.99)
    midpoint = pooled[[0, 30, 60]].mean(axis=0, keepdims=True)  # equally far from every cluster
    assert head.predict(midpoint)[0][0] == "oos"
    assert head.fallback == "oos"


def test_features_normalise_each_layer() -> None:
    pooled = np.arange(2 * 7 * 4, dtype=np.float32).reshape(2, 7, 4) + 1
    f = features(pooled, (0, 6))
    assert f.shape == (2, 8)
    assert np.allclose(np.linalg.norm(f[:, :4], axis=1), 1.0) and np.allclose(np.linalg.norm(f[:, 4:], axis=1), 1.0)


def test_training_needs_two_labels() -> None:
    pooled, y = _clusters(5, ["only"])
    with pytest.raises(ValueError, match="two labels"):
        train_head("intent", pooled, y)


def test_scores_of_a_known_small_set_and_unknown_labels_counted() -> None:
    truth = ["a", "a", "b", "b", "zzz"]
    predicted = ["a", "b", "b", "b", "a"]
    r = evaluate(truth, predicted, known=["a", "b"])
    assert r["n"] == 4 and r["n_unknown_label"] == 1 and r["unknown_labels"] == {"zzz": 1}
    assert r["accuracy"] == 0.75
    assert r["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert r["per_class"]["b"]["precision"] == round(2 / 3, 4)
    assert r["macro_recall"] == 0.75
    assert r["macro_f1"] == round((2 / 3 + 0.8) / 2, 4)
    assert r["confusion"] == {"labels": ["a", "b"], "matrix": [[1, 1], [0, 2]]}


def test_only_unknown_labels_gives_an_empty_score_not_a_crash() -> None:
    r = evaluate(["x", "y"], ["a", "a"], known=["a"])
    assert r["n"] == 0 and r["accuracy"] is None and r["unknown_labels"] == {"x": 1, "y": 1}


def test_out_of_scope_scores() -> None:
    r = evaluate(["a", "oos", "oos", "b"], ["a", "oos", "b", "a"], known=["a", "b"], other_label="oos")
    assert r["in_scope_accuracy"] == 0.5 and r["other_recall"] == 0.5


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_reading_labelled_files(tmp_path: Path) -> None:
    long = "x" * 50_000
    f = _write(tmp_path / "ok.csv", f'text,label\nhi,greeting\n"  ",other\n{long},spam\nno label,\n'.encode())
    assert read_labelled(f) == [("hi", "greeting"), (long, "spam")]
    g = _write(tmp_path / "cols.csv", b"message,intent\nhi,greeting\n")
    assert read_labelled(g, text_col="message", label_col="intent") == [("hi", "greeting")]


def test_numeric_labels_take_names_from_mapping_txt(tmp_path: Path) -> None:
    (tmp_path / "mapping.txt").write_text("0\tnegative\n1\tneutral\n", encoding="utf-8")
    f = _write(tmp_path / "train.csv", b"text,label\nbad,0\nmeh,1\n")
    assert read_labelled(f) == [("bad", "negative"), ("meh", "neutral")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "found none"),
        (b"text,label\n", "no rows"),
        (b"text,label\n   ,   \n", "no rows"),
        (b"words,tag\nhi,greeting\n", "needs columns"),
        (b"text,label\ncaf\xe9 \xff,greeting\n", "not UTF-8"),
    ],
)
def test_bad_labelled_files_give_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_labelled(_write(tmp_path / "bad.csv", content))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_labelled(tmp_path / "nope.csv")


def test_corrections_override_the_file_and_the_newest_wins() -> None:
    rows = [("where is my parcel", "question"), ("hi", "greeting")]
    fixed = merge_corrections(rows, [("where is my parcel", "complaint"), ("where is my parcel", "support_request"), ("new", "spam")])
    assert sorted(fixed) == [("hi", "greeting"), ("new", "spam"), ("where is my parcel", "support_request")]


def test_a_lexicon_head_reads_the_texts_and_needs_them(tmp_path: Path) -> None:
    pooled, y = _clusters(20, ["negative", "positive"])
    texts = ["I hate this, awful" if lab == "negative" else "I love this, great" for lab in y]
    head = train_head("sentiment", pooled, y, layers=(6,), texts=texts)
    head.save(tmp_path / "h")
    again = Head.load(tmp_path / "h")
    assert again.lexicon and again.coef.shape == (2, 8 + 4)
    assert [lab for lab, _ in again.predict(pooled, texts)] == y
    with pytest.raises(ValueError, match="reads the texts"):
        again.predict(pooled)
