"""The encoder as an ONNX Runtime graph: exported once from torch with the pooling inside, cached on disk."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from importlib.metadata import version

import numpy as np
import onnxruntime as ort

from brain.branch import branch_stamp

log = logging.getLogger(__name__)

# Bump when the exported graph changes, so old caches are not reused.
EXPORT_VERSION = 3
# ORT's fused SkipLayerNormalization kernel ran ~6x slower here than the Add and LayerNormalization
# it replaces, a fifth of the whole int8 graph's time: the graph keeps them apart, and sessions
# don't fuse them back.
UNFUSED = ["SkipLayerNormFusion"]


def cache_file(folder: Path, cache_dir: Path, int8: bool, branch: Path | None = None) -> Path:
    """Where the graph of this model folder (and branch) lives; a changed model, branch, exporter
    or runtime gets a new name."""
    # torch's version from its package record: importing torch would cost a command seconds.
    digest = hashlib.sha256(f"{folder.resolve()}|{EXPORT_VERSION}|{ort.__version__}|{version('torch')}|{branch_stamp(branch)}".encode())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"|{weights.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    name = folder.parent.name if folder.name == "model" else folder.name
    return cache_dir / f"encoder-{name}-{digest.hexdigest()[:12]}" / ("pooled.int8.onnx" if int8 else "pooled.onnx")


def export(folder: Path, target: Path, int8: bool, branch: Path | None = None) -> None:
    """Export, fuse (attention, layer norms, GELU) and, for int8, quantise; the file appears only when complete."""
    import torch
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig

    from brain.torch_encoder import pooled_module

    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("first start: exporting the encoder in %s to ONNX (%s) in %s", folder, "int8" if int8 else "fp32", target)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        # Eager attention traces to the plain matmul/softmax pattern that ORT's fusion recognises.
        module = pooled_module(folder, branch, attn_implementation="eager")
        example = {"input_ids": torch.ones((2, 8), dtype=torch.long), "attention_mask": torch.ones((2, 8), dtype=torch.long)}
        axes = {"batch": 0, "tokens": 1}
        dynamic = {name: {i: n for n, i in axes.items()} for name in example}
        # The tracer warns about Python-side shape checks; the export is checked against torch in tests.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (example["input_ids"], example["attention_mask"]),
                str(raw),
                input_names=list(example),
                output_names=["pooled"],
                dynamic_axes=dynamic | {"pooled": {0: "batch"}},
                opset_version=17,
                dynamo=False,  # the TorchScript exporter: no onnxscript, and graphs ORT's fusion knows
            )
        del module
        config = AutoConfig.from_pretrained(folder)
        # The optimizer logs every fusion and the quantizer advises pre-processing: noise, not events.
        logging.disable(logging.WARNING)
        try:
            fusions = FusionOptions("bert")
            fusions.enable_skip_layer_norm = False  # see UNFUSED
            optimized = optimize_model(
                str(raw),
                model_type="bert",
                num_heads=config.num_attention_heads,
                hidden_size=config.hidden_size,
                opt_level=0,
                optimization_options=fusions,
            )
            optimized.save_model_to_file(str(fused))
            if int8:
                _quantize(fused, Path(tmp) / "int8.onnx")
                fused = Path(tmp) / "int8.onnx"
        finally:
            logging.disable(logging.NOTSET)
        # Rename last, so an interrupted export is never mistaken for a finished cache.
        os.replace(fused, target)


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel scales: one scale per output row keeps the embeddings within 0.99 cosine of fp32,
    # where one scale per matrix loses a point of sentiment recall (bench/classify.py).
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


TokenBatch = tuple[np.ndarray, np.ndarray]  # input_ids, attention_mask


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one graph, run one node at a time: no gain from a second pool
    options.log_severity_level = 3  # ORT's own warnings would print per session, not per event
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=UNFUSED)


class OnnxPooledLayers:
    """Runs the cached graph; exports it first when the cache has none, or again when it is unreadable.

    One single-threaded session per thread, each taking its share of the batches: on 2 cores
    that is ~20% faster than one session with 2 threads, whose small matrices leave the second
    thread waiting (bench/classify.py). One batch alone runs on one session, so the others are
    made when several batches first come (a command on one message never needs them)."""

    def __init__(self, folder: Path, cache_dir: Path, *, int8: bool, threads: int, branch: Path | None = None) -> None:
        self.path = cache_file(folder, cache_dir, int8, branch)
        self.identity = f"onnx|{self.path}"
        self.threads = max(threads, 1)
        if not self.path.is_file():
            export(folder, self.path, int8, branch)
        try:
            self.sessions = [_session(self.path, 1)]
        except Exception as exc:  # ORT raises its own pybind classes: Fail, InvalidProtobuf, ...
            log.warning("cached ONNX encoder %s is unreadable (%s): exporting it again", self.path, str(exc)[:200])
            shutil.rmtree(self.path.parent, ignore_errors=True)
            export(folder, self.path, int8, branch)
            self.sessions = [_session(self.path, 1)]
        self._pool: ThreadPoolExecutor | None = None
        log.info("ONNX encoder loaded from %s (up to %d sessions)", self.path, self.threads)

    def _run(self, session: ort.InferenceSession, batch: TokenBatch) -> np.ndarray:
        input_ids, attention_mask = batch
        feeds = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        return session.run(None, feeds)[0]

    def map(self, batches: Sequence[TokenBatch]) -> list[np.ndarray]:
        """Pooled layers of each batch, in order."""
        if self.threads < 2 or len(batches) < 2:
            return [self._run(self.sessions[0], b) for b in batches]
        if self._pool is None:
            self.sessions += [_session(self.path, 1) for _ in range(self.threads - 1)]
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx")
        n = len(self.sessions)
        shares = [
            self._pool.submit(lambda k: [self._run(self.sessions[k], b) for b in batches[k::n]], k) for k in range(n)
        ]
        results = [share.result() for share in shares]
        return [results[i % n][i // n] for i in range(len(batches))]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.sessions = []
