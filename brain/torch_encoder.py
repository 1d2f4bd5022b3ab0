"""The encoder's torch runtime: the model that the ONNX graph is exported from, and its fallback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from brain.branch import branch_stamp, load_branch, run_layers


class PooledLayers(torch.nn.Module):
    """input_ids, attention_mask -> mean-pooled hidden states of every layer, (batch, layers, dim).

    The ONNX export traces this same module, so both runtimes pool alike. Training may pick any
    layer, so all are pooled: a few thousand adds per text next to millions of multiply-adds.
    With a branch (brain/branch.py), its layers run on the shared hidden states after layer
    `start`, and their pooled states follow the shared ones."""

    def __init__(self, model: torch.nn.Module, branch: torch.nn.ModuleList | None = None, start: int = 0) -> None:
        super().__init__()
        self.model = model
        self.branch = branch
        self.start = start

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = list(self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states)
        if self.branch is not None:
            # The model's own mask (the form its attention implementation wants), built by the same
            # ops, and the branch reading its own copy of the shared state: ORT's attention fusion
            # recognises those patterns, and fuses the shared layer above the fork as before.
            mask, _ = self.model._create_attention_masks(  # type: ignore[operator]
                attention_mask=attention_mask, encoder_attention_mask=None, embedding_output=states[0], encoder_hidden_states=None, cache=None
            )
            states += run_layers(self.branch, states[self.start] * 1.0, mask)
        mask = attention_mask.unsqueeze(-1).to(states[0].dtype)
        denom = mask.sum(1).clamp(min=1e-9)
        return torch.stack([(h * mask).sum(1) / denom for h in states], dim=1)


def pooled_module(folder: Path, branch: Path | None, **kwargs: object) -> PooledLayers:
    """The model in folder, and the branch in `branch` on top of it when one is given."""
    model = AutoModel.from_pretrained(folder, **kwargs).eval()
    if branch is None:
        return PooledLayers(model)
    info, layers = load_branch(model, branch)
    return PooledLayers(model, layers, info.start)


class TorchPooledLayers:
    """The torch model behind the same call as the ONNX graph: token arrays in, pooled layers out."""

    def __init__(self, folder: Path, int8: bool, threads: int, branch: Path | None = None) -> None:
        torch.set_num_threads(threads)
        module = pooled_module(folder, branch)
        if int8:
            # About twice as fast on CPU, but the embeddings drift: bench/classify.py measures
            # what that costs the heads before anyone turns it on.
            module = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
        self.module = module
        self.identity = f"torch|{int8}|{branch_stamp(branch)}"

    @torch.inference_mode()
    def map(self, batches: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Pooled layers of each (input_ids, attention_mask) batch, in order."""
        return [self.module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy() for ids, mask in batches]

    def close(self) -> None:
        del self.module
