"""Classifier heads: a linear layer over pooled encoder layers, trained, saved and loaded."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.errors import ModelError

log = logging.getLogger(__name__)

# Where the heads shipped with the project live; `bot train` writes here by default.
HEADS_DIR = Path(__file__).resolve().parent / "heads"
TASKS = ("intent", "sentiment", "offensive")
# What a blank message gets, per task, when that label exists in the head.
FALLBACK_LABELS = {"intent": "other", "sentiment": "neutral", "offensive": "not-offensive"}
# Layers read by default: embeddings output, middle and last (chosen on validation, see README).
DEFAULT_LAYERS = (1, 4, 6)


def features(pooled: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """Concatenate the chosen pooled layers, each L2-normalised so no layer dominates by scale."""
    parts = [pooled[:, i, :] for i in layers]
    parts = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9) for p in parts]
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
    info: dict[str, object] = field(default_factory=dict)

    def proba(self, pooled: np.ndarray) -> np.ndarray:
        x = (features(pooled, self.layers) - self.mean) / self.scale
        logits = x @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, pooled: np.ndarray) -> list[tuple[str, float]]:
        """Best label and its probability for each text."""
        p = self.proba(pooled)
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
            info=dict(meta.get("info", {})),
            **arrays,
        )


def train_head(
    task: str,
    pooled: np.ndarray,
    labels: Sequence[str],
    *,
    layers: Sequence[int] = DEFAULT_LAYERS,
    c: float = 0.5,
    other_label: str = "",
    threshold: float = 0.0,
    class_weight: str | None = None,
) -> Head:
    """Fit a multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"training needs at least two labels, got {classes}")
    x = features(pooled, layers)
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
        info={"n_train": len(labels), "c": c, "class_weight": class_weight},
    )
