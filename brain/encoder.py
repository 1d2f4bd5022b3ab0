"""The shared sentence encoder (all-MiniLM-L6-v2): texts in, pooled embeddings out."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from tokenizers import Tokenizer

from core import machine
from brain.branch import BRANCH_DIR, read_info, usable_branch
from brain.model_paths import offline, resolve_model_dir

if TYPE_CHECKING:
    from brain.onnx_encoder import OnnxPooledLayers
    from brain.torch_encoder import TorchPooledLayers

log = logging.getLogger(__name__)
T = TypeVar("T")

# Characters beyond this can never reach the model (max_length tokens), so cut them before
# tokenising: a 50,000-character message then costs no more than a tweet.
MAX_CHARS = 2000


def clean_text(text: str) -> str:
    """Text the tokenizer always accepts: undecodable bytes (surrogates) become U+FFFD, cut to MAX_CHARS."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


class Encoder:
    """Mean-pooled, L2-normalised sentence embeddings, computed in batches.

    runtime "onnx" runs a graph exported once from the torch model and cached in cache_dir
    (brain/onnx_encoder.py); if that fails the encoder says so once and runs on torch fp32.
    With a cached graph, neither torch nor transformers is imported: a command starts faster.

    `branch`: a folder with a fine-tuned copy of the top layers (brain/branch.py) for the heads
    that read it; by default the shipped one, used when it was trained on this encoder."""

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
        branch: Path | None = BRANCH_DIR,
    ) -> None:
        offline()
        folder = resolve_model_dir(spec)
        self.name = spec
        self.tokenizer, self.pad_id = _tokenizer(folder, max_length)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        # The embedding layer plus every transformer layer; the branch's layers come after these.
        self.n_shared = int(config["num_hidden_layers"]) + 1
        self.branch = usable_branch(branch, spec)
        self.n_layers = self.n_shared + (read_info(self.branch).n_layers if self.branch is not None else 0)
        self.dim = int(config["hidden_size"])
        self.max_length = max_length
        threads = machine.threads(threads)
        self.runtime, self.int8 = runtime, int8
        self.cache_dir, self.threads = cache_dir, threads  # a second model on the same runtime reads them
        self._forward: TorchPooledLayers | OnnxPooledLayers
        if runtime == "onnx":
            if cache_dir is None:
                raise ValueError("the onnx runtime needs a cache_dir for its exported graph")
            try:
                from brain.onnx_encoder import OnnxPooledLayers  # onnxruntime: only when asked for

                self._forward = OnnxPooledLayers(folder, cache_dir, int8=int8, threads=threads, branch=self.branch)
            except Exception as exc:
                # The torch fp32 model always works: a broken export costs speed, never the bot.
                log.warning("ONNX encoder unavailable (%s: %s): using torch fp32 instead", type(exc).__name__, str(exc)[:200])
                self.runtime, self.int8 = "torch", False
        if self.runtime == "torch":
            from brain.torch_encoder import TorchPooledLayers  # torch: only when asked for

            self._forward = TorchPooledLayers(folder, self.int8, threads, self.branch)
        # int8 scales each batch's activations by that batch's own range, so a text batched with
        # others got other labels than alone: int8 runs one text at a time (no padding either), and
        # a text's embedding depends on nothing else. That costs ~30% of int8's throughput on 2
        # cores (docs/benchmarks.md); fp32 ONNX runs fastest on small batches (8), torch on larger
        # ones (64), and fp32 batches agree with a text alone within float rounding.
        self.batch_size = batch_size or (1 if self.int8 else 8 if self.runtime == "onnx" else 64)
        self._lock = threading.Lock()
        self._memo: dict[Hashable, Any] = {}
        log.info("encoder loaded from %s (dim %d, %s%s)", folder, self.dim, self.runtime, " int8" if self.int8 else "")

    @property
    def identity(self) -> str:
        """What computes the embeddings, for caches of them: each export of the graph computes
        slightly different ones, and int8 ones depend on the batch size."""
        return f"{self._forward.identity}|batch {self.batch_size}" if self.int8 else self._forward.identity

    def pooled_layers(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled hidden states of every layer, shape (texts, n_layers, dim), not normalised:
        the shared layers 0..n_shared-1, then the branch's.

        The classifier heads read several layers of one pass: lower layers carry more of the
        surface form (slang, emoji, negation) that sentence-level meaning smooths away."""
        if not texts:
            return np.zeros((0, self.n_layers, self.dim), dtype=np.float32)
        cleaned = [clean_text(t) for t in texts]
        out = np.zeros((len(cleaned), self.n_layers, self.dim), dtype=np.float32)
        # The lock covers the tokenizer too: a fast tokenizer with truncation set is not safe to
        # call from two threads at once ("Already borrowed").
        with self._lock:
            tokens = [e.ids for e in self.tokenizer.encode_batch(cleaned)]
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
        return self.sentence_embeddings(self.pooled_layers(texts))

    def sentence_embeddings(self, pooled: np.ndarray) -> np.ndarray:
        """The sentence embeddings within pooled layers: the last shared layer, L2-normalised."""
        last = pooled[:, self.n_shared - 1, :]
        return last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-9)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """compute(), once per key for this encoder's lifetime: embeddings of texts that change
        only with the config (the brand's facts), encoded once rather than for every message."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Free the runtime's sessions and threads, and those of models kept in its memo (the
        relevance cross-encoder); the encoder is not used after this."""
        for value in self._memo.values():
            if callable(getattr(value, "close", None)):
                value.close()
        self._memo.clear()
        self._forward.close()


def _tokenizer(folder: Path, max_length: int) -> tuple[Tokenizer, int]:
    """The model's fast tokenizer (the same Rust tokenizer transformers wraps), cutting at
    max_length tokens, and its padding id."""
    file = folder / "tokenizer.json"
    if file.is_file():
        tokenizer = Tokenizer.from_file(str(file))
    else:  # a folder with only the older vocabulary files: transformers builds the same tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder).backend_tokenizer
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    pad = "[PAD]"
    config = folder / "tokenizer_config.json"
    if config.is_file():
        declared = json.loads(config.read_text(encoding="utf-8")).get("pad_token") or pad
        pad = declared["content"] if isinstance(declared, dict) else str(declared)
    return tokenizer, int(tokenizer.token_to_id(pad) or 0)
