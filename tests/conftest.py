"""Shared fixtures: a config file in a temporary folder, its settings, and a database engine."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.config import Settings, load_settings
from storage.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
# Tests share the converted-model cache with `make run`, so the slow GGUF conversion happens once.
MODEL_CACHE = ROOT / "data" / "models"

BASE_CONFIG = f"""
[bot]
data_dir = "data"
log_level = "DEBUG"

[models]
cache_dir = "{MODEL_CACHE.as_posix()}"

[brand]
name = "Test Bakery"
facts = ["We are open Monday to Saturday, 8:00 to 18:00."]
allowed_links = ["https://example.com/shop"]

[owners]
telegram = ["42"]

[web]
port = 0  # a free port: tests running side by side never collide
"""


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """Undo a test's `bot run` logging setup: its handler writes to the test's captured stderr,
    which is closed once the test ends, and a later test would see "--- Logging error ---"."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def settings(config_file: Path) -> Settings:
    return load_settings(config_file)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Loading the real models takes tens of seconds: `-m "not slow"` leaves them out with the rest.
    for item in items:
        if item.get_closest_marker("models") is not None:
            item.add_marker(pytest.mark.slow)
