"""Logging setup: one line per event, to stderr, or to a file when the console chat owns the terminal."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """Everything at `level` to stderr; with `log_file`, there instead, and only warnings on stderr.

    The console connector chats on the terminal, where INFO lines would land between the owner's
    lines and the bot's answers.
    """
    handlers: list[logging.Handler] = []
    if log_file is None:
        handlers.append(logging.StreamHandler(sys.stderr))
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setLevel(logging.WARNING)
        handlers.append(terminal)
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    # Library chatter (progress bars, deprecation notes) is not an event of ours.
    # uvicorn's start and stop lines repeat what bot/web/server.py says in one line; Alembic names
    # each of its plugins at every start (its "Running upgrade" lines stay).
    noisy_loggers = (
        "transformers", "httpx", "httpcore", "urllib3", "huggingface_hub", "sentence_transformers", "uvicorn",
        "alembic.runtime.plugins",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="transformers")
