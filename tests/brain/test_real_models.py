"""The real local models, loaded from their packages offline, drafting a real reply."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from brain.service import Brain
from tests.conftest import MODEL_CACHE, ROOT

pytestmark = pytest.mark.models


async def test_both_models_load_offline_and_draft_a_reply(settings) -> None:
    brain = Brain(settings)
    await brain.load()
    try:
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        # The GGUF model was converted once into the cache; later starts load from it.
        assert (MODEL_CACHE / "SmolLM2-135M-Instruct.Q4_1" / "model.safetensors").is_file()

        encoder = brain.understander.encoder
        vectors = encoder.encode(["I love this cake", "This cake is wonderful", "My parcel is lost"])
        assert vectors.shape == (3, 384)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]

        understanding = await brain.understand("What time do you open on Saturday?")
        reply = await brain.draft_reply("What time do you open on Saturday?", understanding)
        assert isinstance(reply.text, str) and len(reply.text.split()) >= 3
        other = await brain.draft_reply("Your cakes are the best in town, thank you!", await brain.understand("Your cakes are the best in town, thank you!"))
        assert other.text != reply.text
    finally:
        brain.close()


def test_make_run_style_console_session_answers_and_exits(config_file) -> None:
    """What a newcomer does first: pipe a line into `bot run` and get a model-drafted answer."""
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "bot"), "run", "--connector", "console", "--config", str(config_file)],
        input="hello\n/as-follower ann Thank you so much, the cake was perfect!\n/quit\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("bot")]
    assert lines and lines[0].startswith("bot: ") and len(lines[0]) > len("bot: ") + 5
    assert "Traceback" not in result.stderr
    # Follower text stays out of the INFO log; the message is logged by id and length only.
    assert "the cake was perfect" not in "\n".join(l for l in result.stderr.splitlines() if " INFO " in l)
