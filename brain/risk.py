"""Spotting legal threats, refund demands and safety problems by meaning, with the shared encoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from brain.encoder import Encoder

# A few ways people say each thing; a message close to any of them goes to the owner.
RISK_EXAMPLES: dict[str, list[str]] = {
    "legal": [
        "I will sue you",
        "my lawyer will contact you",
        "I'm taking legal action against your company",
        "see you in court",
        "I am reporting you to consumer protection",
    ],
    "refund": [
        "I want a refund",
        "give me my money back",
        "I demand a refund now",
        "I'm filing a chargeback with my bank",
    ],
    "safety": [
        "your product made my child sick",
        "I had an allergic reaction after eating this",
        "the charger caught fire",
        "someone got hurt because of your product",
        "there was glass in my food",
    ],
}


@dataclass(frozen=True)
class Risk:
    topic: str  # "legal", "refund", "safety", or "" when none is close
    similarity: float


class RiskDetector:
    def __init__(self, encoder: Encoder, threshold: float, keywords: Sequence[str] = ()) -> None:
        self.threshold = threshold
        self.keywords = [k.lower() for k in keywords if k.strip()]
        self.topics: list[str] = []
        texts: list[str] = []
        for topic, examples in RISK_EXAMPLES.items():
            self.topics += [topic] * len(examples)
            texts += examples
        self.examples = encoder.encode(texts)

    def assess(self, embedding: np.ndarray, text: str) -> Risk:
        lowered = text.lower()
        for keyword in self.keywords:
            if keyword in lowered:
                return Risk(f"keyword '{keyword}'", 1.0)
        scores = self.examples @ embedding
        best = int(scores.argmax())
        similarity = float(scores[best])
        return Risk(self.topics[best] if similarity >= self.threshold else "", similarity)
