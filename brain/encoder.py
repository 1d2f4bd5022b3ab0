"""The shared sentence encoder (all-MiniLM-L6-v2): texts in, pooled embeddings out."""

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

# Characters beyond this can never reach the model (max_length tokens), so cut them before
# tokenising: a 50,000-character message then costs no more than a tweet.
MAX_CHARS = 2000


def clean_text(text: str) -> str:
    """Text the tokenizer always accepts: undecodable bytes (surrogates) become U+FFFD, cut to MAX_CHARS."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings, computed in batches."""

    def __init__(self, spec: str, *, max_length: int = 128, batch_size: int = 64, int8: bool = False) -> None:
        offline()
        folder = resolve_model_dir(spec)
        self.name = spec
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()
        if int8:
            # About twice as fast on CPU, but the embeddings drift: bench/classify.py measures
            # what that costs the heads before anyone turns it on.
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.max_length = max_length
        self.batch_size = batch_size
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()
        log.info("encoder loaded from %s (dim %d)", folder, self.dim)

    @property
    def n_layers(self) -> int:
        """Pooled layers per text: the embedding layer plus every transformer layer."""
        return int(self.model.config.num_hidden_layers) + 1

    @torch.inference_mode()
    def pooled_layers(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled hidden states of every layer, shape (texts, n_layers, dim), not normalised.

        The classifier heads read several layers of one pass: lower layers carry more of the
        surface form (slang, emoji, negation) that sentence-level meaning smooths away."""
        if not texts:
            return np.zeros((0, self.n_layers, self.dim), dtype=np.float32)
        cleaned = [clean_text(t) for t in texts]
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))
        out = np.zeros((len(cleaned), self.n_layers, self.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [cleaned[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                states = self.model(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"].unsqueeze(-1).to(states[0].dtype)
                denom = mask.sum(1).clamp(min=1e-9)
                pooled = torch.stack([(h * mask).sum(1) / denom for h in states], dim=1)
                out[idx] = pooled.numpy()
        return out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled last layer: the sentence embedding of the model card."""
        last = self.pooled_layers(texts)[:, -1, :]
        return last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-9)


@lru_cache(maxsize=4)
def get_encoder(spec: str, int8: bool = False) -> Encoder:
    """One encoder per process and model: loading it again would only waste time and memory."""
    return Encoder(spec, int8=int8)
