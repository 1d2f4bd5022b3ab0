"""Labelled text files (CSV with a text and a label column) and the scores of a head on them."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from core.errors import BotError

log = logging.getLogger(__name__)

# A 50,000-character message must load; the csv module's default cap is 131,072.
csv.field_size_limit(10_000_000)


class DataError(BotError):
    """A labelled data file that cannot be used: unreadable, wrong columns, or no rows."""


def _label_names(folder: Path) -> dict[str, str]:
    """TweetEval-style `mapping.txt` ("0<TAB>negative") beside the CSV turns ids into names."""
    mapping = folder / "mapping.txt"
    if not mapping.is_file():
        return {}
    names = {}
    for line in mapping.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            names[parts[0].strip()] = parts[1].strip()
    return names


def read_labelled(path: str | Path, text_col: str = "text", label_col: str = "label") -> list[tuple[str, str]]:
    """(text, label) rows; rows with a blank text or label are skipped and counted in the log."""
    file = Path(path)
    try:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if text_col not in columns or label_col not in columns:
                raise DataError(
                    f"{file}: needs columns {text_col!r} and {label_col!r}, found {columns or 'none (empty file)'}"
                )
            raw = [(row.get(text_col) or "", row.get(label_col) or "") for row in reader]
    except FileNotFoundError:
        raise DataError(f"{file}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{file}: cannot read as CSV: {exc}") from None
    names = _label_names(file.parent)
    rows = [(t, names.get(lab.strip(), lab.strip())) for t, lab in raw if t.strip() and lab.strip()]
    if len(rows) < len(raw):
        log.info("%s: skipped %d rows with a blank text or label", file, len(raw) - len(rows))
    if not rows:
        raise DataError(f"{file}: no rows with both a text and a label")
    return rows


def merge_corrections(rows: Sequence[tuple[str, str]], corrections: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The owner's corrections win over the file's label for the same text; the newest correction wins."""
    fixed = dict(corrections)  # later entries overwrite earlier ones
    kept = [(t, lab) for t, lab in rows if t not in fixed]
    return kept + list(fixed.items())


def evaluate(truth: Sequence[str], predicted: Sequence[str], known: Sequence[str], other_label: str = "") -> dict[str, object]:
    """Scores on the rows whose true label the head knows; the others are counted, not scored."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    known_set = set(known) | ({other_label} if other_label else set())
    unknown = Counter(t for t in truth if t not in known_set)
    pairs = [(t, p) for t, p in zip(truth, predicted) if t in known_set]
    result: dict[str, object] = {"n": len(pairs), "n_unknown_label": sum(unknown.values()), "unknown_labels": dict(unknown)}
    if not pairs:
        result.update(accuracy=None, macro_f1=None, macro_recall=None, per_class={}, confusion={"labels": [], "matrix": []})
        return result
    y, p = [t for t, _ in pairs], [q for _, q in pairs]
    # Every label the head can output or the file contains, so the matrix is square and complete.
    labels = sorted(set(y) | set(p))
    present = sorted(set(y))
    prec, rec, f1, support = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    # Macro averages over the labels present in the file: a class with no rows has no recall.
    idx = [labels.index(lab) for lab in present]
    result.update(
        accuracy=round(sum(a == b for a, b in pairs) / len(pairs), 4),
        macro_f1=round(float(f1[idx].mean()), 4),
        macro_recall=round(float(rec[idx].mean()), 4),
        per_class={
            lab: {"precision": round(float(prec[i]), 4), "recall": round(float(rec[i]), 4), "support": int(support[i])}
            for i, lab in enumerate(labels)
        },
        confusion={"labels": labels, "matrix": confusion_matrix(y, p, labels=labels).tolist()},
    )
    if other_label:
        inscope = [(a, b) for a, b in pairs if a != other_label]
        result["in_scope_accuracy"] = round(sum(a == b for a, b in inscope) / len(inscope), 4) if inscope else None
        result["other_recall"] = result["per_class"].get(other_label, {}).get("recall")  # type: ignore[union-attr]
    return result
