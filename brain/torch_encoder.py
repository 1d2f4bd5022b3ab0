"""The encoder's torch runtime: the model that the ONNX graph is exported from, and its fallback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel


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


class TorchPooledLayers:
    """The torch model behind the same call as the ONNX graph: token arrays in, pooled layers out."""

    def __init__(self, folder: Path, int8: bool, threads: int) -> None:
        torch.set_num_threads(threads)
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

    def close(self) -> None:
        del self.module
