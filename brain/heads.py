"""Classifier heads: a linear layer over pooled encoder layers, trained, saved and loaded."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import ModelError

log = logging.getLogger(__name__)

# Where the heads shipped with the project live; `bot train` writes here by default.
HEADS_DIR = Path(__file__).resolve().parent / "heads"
TASKS = ("intent", "sentiment", "offensive", "sarcasm")
# What a blank message gets, per task, when that label exists in the head.
FALLBACK_LABELS = {"intent": "other", "sentiment": "neutral", "offensive": "not-offensive", "sarcasm": "0"}
# Layers read by default: lower, middle and last (chosen on validation, see README).
DEFAULT_LAYERS = (2, 4, 6)


def head_dir(task: str, heads_dir: Path | None = None) -> Path:
    """The folder the bot loads a task's head from: the configured one if it has it, else the shipped one."""
    if heads_dir is not None and (heads_dir / task / "head.json").is_file():
        return heads_dir / task
    return HEADS_DIR / task


@lru_cache(maxsize=1)
def _vader() -> object:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexicon_features(texts: Sequence[str]) -> np.ndarray:
    """VADER's four scores per text: a sentiment lexicon sees words the encoder's pooling blurs,
    at about 0.05 ms a text."""
    analyzer = _vader()
    scores = [analyzer.polarity_scores(t) for t in texts]  # type: ignore[attr-defined]
    return np.array([[s["compound"], s["pos"], s["neg"], s["neu"]] for s in scores], dtype=np.float32)


def features(pooled: np.ndarray, layers: Sequence[int], texts: Sequence[str] | None = None) -> np.ndarray:
    """Concatenate the chosen pooled layers, each L2-normalised so no layer dominates by scale,
    and the lexicon scores of the texts when they are given."""
    parts = [pooled[:, i, :] for i in layers]
    parts = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9) for p in parts]
    if texts is not None:
        parts.append(lexicon_features(texts))
    return np.concatenate(parts, axis=1).astype(np.float32)


@dataclass
class Head:
    """A softmax classifier: standardise, then one linear layer. Plain numpy at inference time."""

    task: str
    labels: list[str]
    layers: tuple[int, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray  # (labels,)
    # Below this top probability the message is labelled `other_label` (out of scope); 0 = off.
    threshold: float = 0.0
    other_label: str = ""
    lexicon: bool = False  # also reads VADER's scores of the text
    info: dict[str, object] = field(default_factory=dict)

    def proba(self, pooled: np.ndarray, texts: Sequence[str] = ()) -> np.ndarray:
        if self.lexicon and len(texts) != len(pooled):
            raise ValueError(f"the {self.task} head reads the texts too: pass them with the embeddings")
        x = (features(pooled, self.layers, texts if self.lexicon else None) - self.mean) / self.scale
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, pooled: np.ndarray, texts: Sequence[str] = ()) -> list[tuple[str, float]]:
        """Best label and its probability for each text."""
        p = self.proba(pooled, texts)
        best = p.argmax(axis=1)
        out = []
        for i, b in enumerate(best):
            conf = float(p[i, b])
            if self.other_label and conf < self.threshold:
                out.append((self.other_label, conf))
            else:
                out.append((self.labels[b], conf))
        return out

    @property
    def fallback(self) -> str:
        """The label for a blank message: the task's neutral label if this head has it."""
        if self.other_label:
            return self.other_label
        wanted = FALLBACK_LABELS.get(self.task, "")
        return wanted if wanted in self.labels else self.labels[0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / "head.npz",
            mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        meta = {
            "task": self.task,
            "labels": self.labels,
            "layers": list(self.layers),
            "threshold": self.threshold,
            "other_label": self.other_label,
            "lexicon": self.lexicon,
            "info": self.info,
        }
        (folder / "head.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log.info("saved %s head (%d labels) to %s", self.task, len(self.labels), folder)

    @classmethod
    def load(cls, folder: Path) -> Head:
        try:
            meta = json.loads((folder / "head.json").read_text(encoding="utf-8"))
            with np.load(folder / "head.npz") as w:
                arrays = {k: w[k] for k in ("mean", "scale", "coef", "intercept")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot load classifier head from {folder}: {exc}") from None
        return cls(
            task=meta["task"],
            labels=list(meta["labels"]),
            layers=tuple(meta["layers"]),
            threshold=float(meta.get("threshold", 0.0)),
            other_label=str(meta.get("other_label", "")),
            lexicon=bool(meta.get("lexicon", False)),
            info=dict(meta.get("info", {})),
            **arrays,
        )


def train_head(
    task: str,
    pooled: np.ndarray,
    labels: Sequence[str],
    *,
    layers: Sequence[int] = DEFAULT_LAYERS,
    c: float = 0.02,
    other_label: str = "",
    threshold: float = 0.0,
    class_weight: str | None = None,
    texts: Sequence[str] | None = None,
) -> Head:
    """Fit a multinomial logistic regression on standardised features; with texts, lexicon scores too."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"training needs at least two labels, got {classes}")
    x = features(pooled, layers, texts)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=1000, class_weight=class_weight)
    model.fit((x - mean) / scale, list(labels))
    return Head(
        task=task,
        labels=[str(c) for c in model.classes_],
        layers=tuple(layers),
        mean=mean,
        scale=scale,
        coef=model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_[0], model.coef_[0]]) / 2,
        intercept=model.intercept_ if len(model.classes_) > 2 else np.array([-model.intercept_[0], model.intercept_[0]]) / 2,
        threshold=threshold,
        other_label=other_label,
        lexicon=texts is not None,
        info={"n_train": len(labels), "c": c, "class_weight": class_weight},
    )
