"""The brain owns its models: nothing loads until used, what it built it closes, what it was given it leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from brain.generator import ChatMessage, GenerationOptions, OpenAIGenerator
from brain.service import Brain
from core.config import Settings, load_settings
from core.errors import ModelError
from fakes.generator import ScriptedGenerator


def with_endpoint(config_file: Path) -> Settings:
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + '\n[generator]\nbackend = "openai"\n[openai]\nbase_url = "http://127.0.0.1:9/v1"\nfallback_to_local = false\n',
        encoding="utf-8",
    )
    return load_settings(config_file)


def test_a_generator_the_brain_built_is_closed_with_it(config_file: Path) -> None:
    with Brain(with_endpoint(config_file)) as brain:
        generator = brain.generator
        assert isinstance(generator, OpenAIGenerator) and brain.generator is generator  # built once
    with pytest.raises(RuntimeError, match="closed"):  # httpx refuses a closed client
        generator.generate([ChatMessage("user", "hi")], GenerationOptions())


class CountingGenerator(ScriptedGenerator):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_a_generator_given_to_the_brain_stays_its_owners(settings: Settings) -> None:
    given = CountingGenerator()
    with Brain(settings, generator=given) as brain:
        assert brain.generator is given
    assert given.closed == 0


def test_nothing_loads_until_it_is_used(settings: Settings, tmp_path: Path) -> None:
    settings.models.encoder = str(tmp_path / "no-such-model")
    brain = Brain(settings)  # a command that never needs the encoder never finds out
    with pytest.raises(ModelError, match="model folder not found"):
        brain.encoder
    brain.close()
