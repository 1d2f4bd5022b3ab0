"""The shared sentence encoder (all-MiniLM-L6-v2): texts in, pooled embeddings out."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from brain.model_paths import offline, resolve_model_dir

if TYPE_CHECKING:
    from brain.onnx_encoder import OnnxPooledLayers

log = logging.getLogger(__name__)

# Characters beyond this can never reach the model (max_length tokens), so cut them before
# tokenising: a 50,000-character message then costs no more than a tweet.
MAX_CHARS = 2000


def clean_text(text: str) -> str:
    """Text the tokenizer always accepts: undecodable bytes (surrogates) become U+FFFD, cut to MAX_CHARS."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings, computed in batches.

    runtime "onnx" runs a graph exported once from the torch model and cached in cache_dir
    (brain/onnx_encoder.py); if that fails the encoder says so once and runs on torch fp32."""

    def __init__(
        self,
        spec: str,
        *,
        max_length: int = 128,
        batch_size: int | None = None,
        int8: bool = False,
        runtime: Literal["torch", "onnx"] = "torch",
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        offline()
        folder = resolve_model_dir(spec)
        self.name = spec
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        config = AutoConfig.from_pretrained(folder)
        self.n_layers = int(config.num_hidden_layers) + 1  # the embedding layer plus every transformer layer
        self.dim = int(config.hidden_size)
        self.max_length = max_length
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.runtime, self.int8 = runtime, int8
        self._forward: _TorchPooledLayers | OnnxPooledLayers
        if runtime == "onnx":
            if cache_dir is None:
                raise ValueError("the onnx runtime needs a cache_dir for its exported graph")
            try:
                from brain.onnx_encoder import OnnxPooledLayers  # onnxruntime: only when asked for

                self._forward = OnnxPooledLayers(
                    folder, cache_dir, int8=int8, threads=threads or os.cpu_count() or 1
                )
            except Exception as exc:
                # The torch fp32 model always works: a broken export costs speed, never the bot.
                log.warning("ONNX encoder unavailable (%s: %s): using torch fp32 instead", type(exc).__name__, str(exc)[:200])
                self.runtime, self.int8 = "torch", False
        if self.runtime == "torch":
            self._forward = _TorchPooledLayers(folder, self.int8)
        # int8 scales each batch's activations by that batch's own range, so a text batched with
        # others got other labels than alone: int8 runs one text at a time (no padding either), and
        # a text's embedding depends on nothing else. That costs ~30% of int8's throughput on 2
        # cores (docs/benchmarks.md); fp32 ONNX runs fastest on small batches (8), torch on larger
        # ones (64), and fp32 batches agree with a text alone within float rounding.
        self.batch_size = batch_size or (1 if self.int8 else 8 if self.runtime == "onnx" else 64)
        self._lock = threading.Lock()
        log.info("encoder loaded from %s (dim %d, %s%s)", folder, self.dim, self.runtime, " int8" if self.int8 else "")

    @property
    def identity(self) -> str:
        """What computes the embeddings, for caches of them: each export of the graph computes
        slightly different ones, and int8 ones depend on the batch size."""
        return f"{self._forward.identity}|batch {self.batch_size}" if self.int8 else self._forward.identity

    def pooled_layers(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled hidden states of every layer, shape (texts, n_layers, dim), not normalised.

        The classifier heads read several layers of one pass: lower layers carry more of the
        surface form (slang, emoji, negation) that sentence-level meaning smooths away."""
        if not texts:
            return np.zeros((0, self.n_layers, self.dim), dtype=np.float32)
        cleaned = [clean_text(t) for t in texts]
        out = np.zeros((len(cleaned), self.n_layers, self.dim), dtype=np.float32)
        # The lock covers the tokenizer too: a fast tokenizer with truncation set is not safe to
        # call from two threads at once ("Already borrowed").
        with self._lock:
            tokens = self.tokenizer(
                cleaned,
                truncation=True,
                max_length=self.max_length,
                return_attention_mask=False,
                return_token_type_ids=False,  # one segment: the model's default zeros
            )["input_ids"]
            # Batches of similar token counts: padding is wasted work (sorting by characters
            # instead left a fifth of the tweets' positions padding).
            order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
            groups = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
            batches = [self._padded([tokens[i] for i in idx]) for idx in groups]
            for idx, pooled in zip(groups, self._forward.map(batches)):
                out[idx] = pooled
        return out

    def _padded(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """input_ids and attention_mask of rows padded on the right to the longest."""
        width = max(len(row) for row in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for k, row in enumerate(rows):
            ids[k, : len(row)] = row
            mask[k, : len(row)] = 1
        return ids, mask

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled last layer: the sentence embedding of the model card."""
        return sentence_embeddings(self.pooled_layers(texts))


def sentence_embeddings(pooled: np.ndarray) -> np.ndarray:
    """The sentence embeddings within pooled layers: the last layer, L2-normalised."""
    last = pooled[:, -1, :]
    return last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-9)


class PooledLayers(torch.nn.Module):
    """input_ids, attention_mask -> mean-pooled hidden states of every layer, (batch, layers, dim).

    The ONNX export traces this same module, so both runtimes pool alike. Training may pick any
    layer, so all are pooled: a few thousand adds per text next to millions of multiply-adds."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states
        mask = attention_mask.unsqueeze(-1).to(states[0].dtype)
        denom = mask.sum(1).clamp(min=1e-9)
        return torch.stack([(h * mask).sum(1) / denom for h in states], dim=1)


class _TorchPooledLayers:
    """The torch model behind the same call as the ONNX graph: token arrays in, pooled layers out."""

    def __init__(self, folder: Path, int8: bool) -> None:
        model = AutoModel.from_pretrained(folder).eval()
        if int8:
            # About twice as fast on CPU, but the embeddings drift: bench/classify.py measures
            # what that costs the heads before anyone turns it on.
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.module = PooledLayers(model)
        self.identity = f"torch|{int8}"

    @torch.inference_mode()
    def map(self, batches: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Pooled layers of each (input_ids, attention_mask) batch, in order."""
        return [self.module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy() for ids, mask in batches]


@lru_cache(maxsize=4)
def get_encoder(
    spec: str,
    int8: bool = False,
    runtime: Literal["torch", "onnx"] = "torch",
    cache_dir: Path | None = None,
    threads: int = 0,
) -> Encoder:
    """One encoder per process and model: loading it again would only waste time and memory."""
    return Encoder(spec, int8=int8, runtime=runtime, cache_dir=cache_dir, threads=threads)
