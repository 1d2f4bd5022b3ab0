"""The fine-tuned branch: a copy of the encoder's top layers, trained for sentiment and offensiveness.

The encoder's bottom `start` layers are shared; the branch runs its own copy of the layers above
them on the shared hidden states, so the other heads (intent, risk, fact search) read the shared
layers unchanged while sentiment and offensiveness read the branch. Its pooled layers come after
the shared ones in `Encoder.pooled_layers` (index n_shared + j for branch layer j), so a head
picks them like any other layer. Weights: `branch.safetensors` (float16) and `branch.json` in
brain/heads/branch, rebuilt by `python -m brain.branch_training` (see brain/heads/README.md).
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelError

if TYPE_CHECKING:  # torch only where the layers run: a cached ONNX encoder never imports it
    import torch

log = logging.getLogger(__name__)

# Where the shipped branch lives.
BRANCH_DIR = Path(__file__).resolve().parent / "heads" / "branch"


@dataclass(frozen=True)
class BranchInfo:
    start: int  # shared transformer layers below the branch (k): the branch replaces layers k+1..
    n_layers: int  # transformer layers in the branch
    base: str  # the encoder it was trained on (config.json's _name_or_path or the folder name)


def read_info(folder: Path) -> BranchInfo:
    try:
        meta = json.loads((folder / "branch.json").read_text(encoding="utf-8"))
        return BranchInfo(int(meta["start"]), int(meta["n_layers"]), str(meta["base"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot read the encoder branch in {folder}: {exc}") from None


def branch_stamp(folder: Path | None) -> str:
    """What identifies a branch's weights, for caches of what it computes ("" without one)."""
    if folder is None:
        return ""
    stat = (folder / "branch.safetensors").stat()
    return f"{folder.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def usable_branch(folder: Path | None, spec: str) -> Path | None:
    """folder when it holds a branch trained on the encoder `spec`, else None (said in the log)."""
    if folder is None or not (folder / "branch.json").is_file():
        return None
    info = read_info(folder)
    if info.base != spec:
        log.info("encoder branch in %s was trained on %s, not %s: not used", folder, info.base, spec)
        return None
    return folder


def extended_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive (batch, 1, 1, tokens) mask BERT's eager attention adds to its scores."""
    import torch

    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: torch.nn.ModuleList, hidden: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Hidden states after each layer, given the additive mask."""
    out = []
    for layer in layers:
        result = layer(hidden, attention_mask=mask)
        hidden = result[0] if isinstance(result, tuple) else result
        out.append(hidden)
    return out


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def branch_layers(model: torch.nn.Module, start: int) -> torch.nn.ModuleList:
    """A trainable copy of the model's transformer layers from `start` up."""
    import torch

    return torch.nn.ModuleList(copy.deepcopy(layer) for layer in model.encoder.layer[start:])  # type: ignore[union-attr]


def load_branch(model: torch.nn.Module, folder: Path) -> tuple[BranchInfo, torch.nn.ModuleList]:
    """The branch in folder, on top of model (whose layers give its shape), in float32."""
    from safetensors.torch import load_file

    info = read_info(folder)
    total = len(model.encoder.layer)  # type: ignore[union-attr]
    if info.start + info.n_layers != total:
        raise ModelError(f"the branch in {folder} fits an encoder of {info.start + info.n_layers} layers, not {total}")
    layers = branch_layers(model, info.start)
    try:
        state = load_file(str(folder / "branch.safetensors"))
        layers.load_state_dict({k: v.float() for k, v in state.items()})
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"cannot load the encoder branch in {folder}: {exc}") from None
    return info, layers.eval()


def save_branch(layers: torch.nn.ModuleList, info: BranchInfo, folder: Path, record: dict[str, object]) -> None:
    """float16 weights (half the file, the int8 export cannot tell) and what built them."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().half().contiguous() for k, v in layers.state_dict().items()}, str(folder / "branch.safetensors"))
    meta = {"start": info.start, "n_layers": info.n_layers, "base": info.base} | record
    (folder / "branch.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
