"""The closest of a few labelled example sentences, by meaning with the shared encoder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from brain.encoder import Encoder


class LabelledExamples:
    """Example sentences per label, encoded once; a text takes the label of its nearest example."""

    def __init__(self, encoder: Encoder, examples: Mapping[str, Sequence[str]]) -> None:
        self.labels = [label for label, phrases in examples.items() for _ in phrases]
        self.vectors = encoder.encode([phrase for phrases in examples.values() for phrase in phrases])

    def nearest(self, vector: np.ndarray) -> tuple[str, float]:
        """The label of the closest example and its cosine similarity."""
        scores = self.vectors @ vector
        best = int(scores.argmax())
        return self.labels[best], float(scores[best])

    def lead(self, vector: np.ndarray) -> float:
        """How far the closest label's best example stands above the best example of any other label."""
        scores = self.vectors @ vector
        best = int(scores.argmax())
        others = [float(s) for label, s in zip(self.labels, scores) if label != self.labels[best]]
        return float(scores[best]) - max(others, default=0.0)
