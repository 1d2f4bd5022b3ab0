"""Mixing two heads into one: its logits are the weighted sum of theirs, whatever layers each reads."""

from __future__ import annotations

import numpy as np
import pytest

from brain.branch_training import mixed_head
from brain.heads import Head

TEXTS = ["I love it!", "worst day ever :(", "the shop opens at 9", "meh"]


def _head(layers: tuple[int, ...], lexicon: bool, rng: np.random.Generator) -> Head:
    width = 8 * len(layers) + (4 if lexicon else 0)
    return Head(
        task="sentiment", labels=["negative", "neutral", "positive"], layers=layers,
        mean=rng.normal(size=width).astype(np.float32), scale=rng.uniform(0.5, 2, width).astype(np.float32),
        coef=rng.normal(size=(3, width)).astype(np.float32), intercept=rng.normal(size=3).astype(np.float32), lexicon=lexicon,
    )


def _logits(head: Head, pooled: np.ndarray) -> np.ndarray:
    p = head.proba(pooled, TEXTS)
    return np.log(p) - np.log(p).mean(axis=1, keepdims=True)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_a_mixed_head_adds_the_weighted_logits_of_both(weight: float) -> None:
    rng = np.random.default_rng(0)
    a, b = _head((4, 5, 6), True, rng), _head((8,), True, rng)
    pooled = rng.normal(size=(len(TEXTS), 9, 8)).astype(np.float32)
    mixed = mixed_head(a, b, weight)
    assert mixed.layers == (4, 5, 6, 8) and mixed.lexicon
    expected = weight * _logits(a, pooled) + (1 - weight) * _logits(b, pooled)
    assert np.allclose(_logits(mixed, pooled), expected, atol=1e-4)


def test_heads_with_different_labels_do_not_mix() -> None:
    rng = np.random.default_rng(1)
    a, b = _head((4,), False, rng), _head((8,), False, rng)
    b.labels = ["bad", "fine", "good"]
    with pytest.raises(ValueError, match="different labels"):
        mixed_head(a, b, 0.5)
