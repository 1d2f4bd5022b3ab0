"""The shared sentence encoder (all-MiniLM-L6-v2): texts in, normalised embeddings out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from brain.model_paths import offline, resolve_model_dir

log = logging.getLogger(__name__)


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings, computed in batches."""

    def __init__(self, spec: str, *, max_length: int = 128, batch_size: int = 64) -> None:
        offline()
        folder = resolve_model_dir(spec)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()
        log.info("encoder loaded from %s (dim %d)", folder, self.dim)

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.numpy()
        return out


@lru_cache(maxsize=4)
def get_encoder(spec: str) -> Encoder:
    """One encoder per process and model: loading it again would only waste time and memory."""
    return Encoder(spec)
