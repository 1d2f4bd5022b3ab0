"""Logging setup: one line per event, to stderr, so the console chat on stdout stays clean."""

from __future__ import annotations

import logging
import sys
import warnings


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # Library chatter (progress bars, deprecation notes) is not an event of ours.
    for noisy in ("transformers", "httpx", "httpcore", "urllib3", "huggingface_hub", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="transformers")
