"""Training and evaluating a head: embed labelled rows once (cached on disk), fit, score."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from brain.heads import DEFAULT_LAYERS, Head, train_head
from brain.labelled import DataError, evaluate

if TYPE_CHECKING:
    from brain.encoder import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    c: float = 0.02  # inverse L2 strength of the logistic regression
    layers: tuple[int, ...] = DEFAULT_LAYERS
    other_label: str = ""  # out-of-scope label: predicted when the top probability is low
    threshold: float = 0.0  # that top-probability cut; 0 = never
    balanced: bool = False  # weight classes inversely to their frequency
    lexicon: bool = False  # add VADER's lexicon scores to the features (helps sentiment)


def embed(encoder: Encoder, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """Pooled layers for texts; a file of texts embedded before is read back from cache_dir."""
    if cache_dir is None:
        return encoder.pooled_layers(texts)
    digest = hashlib.sha256()
    digest.update(f"{encoder.name}|{encoder.max_length}|{encoder.identity}|".encode())
    for t in texts:
        digest.update(t.encode("utf-8", "replace") + b"\0")
    file = cache_dir / f"{digest.hexdigest()[:24]}.npy"
    if file.is_file():
        cached = np.load(file)
        if cached.shape[0] == len(texts):
            log.info("embeddings of %d texts read from cache %s", len(texts), file.name)
            return cached.astype(np.float32)
    pooled = encoder.pooled_layers(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # float16 halves the file; the heads cannot tell the difference.
    np.save(file, pooled.astype(np.float16))
    return pooled


def fit(
    encoder: Encoder, task: str, rows: Sequence[tuple[str, str]], options: TrainOptions, cache_dir: Path | None = None
) -> Head:
    labels = sorted({lab for _, lab in rows})
    if len(labels) < 2:
        raise DataError(f"training needs at least two different labels, found {labels}")
    pooled = embed(encoder, [t for t, _ in rows], cache_dir)
    bad = [i for i in options.layers if not 0 <= i < pooled.shape[1]]
    if bad:
        raise DataError(f"layers {bad} do not exist: the encoder has layers 0..{pooled.shape[1] - 1}")
    return train_head(
        task,
        pooled,
        [lab for _, lab in rows],
        layers=options.layers,
        c=options.c,
        other_label=options.other_label,
        threshold=options.threshold,
        class_weight="balanced" if options.balanced else None,
        texts=[t for t, _ in rows] if options.lexicon else None,
    )


def score(encoder: Encoder, head: Head, rows: Sequence[tuple[str, str]], cache_dir: Path | None = None) -> dict[str, object]:
    """The head's scores on labelled rows (see labelled.evaluate for the fields)."""
    pooled = embed(encoder, [t for t, _ in rows], cache_dir)
    predicted = [lab for lab, _ in head.predict(pooled, [t for t, _ in rows])]
    return evaluate([lab for _, lab in rows], predicted, head.labels, head.other_label)
