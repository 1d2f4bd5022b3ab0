"""Whether a fact answers a follower's message: a cross-encoder that reads the two together.

Cosine similarity compares the message and the fact each encoded alone, and the word check after it
(brain/coverage.py) hands off when the message names a thing no word of the fact matches, so "do
you cut kids hair?" never found "a children's cut (under 12) 20 EUR". The cross-encoder runs the
encoder on "fact [SEP] message", so every layer attends across both: a fine-tuned copy of the
encoder's layers 1-6 (brain/branch.py's format) and one linear head over their pooled output. It was
trained on messages and facts written for 384 other small businesses (brain/datasets/fact_questions),
never on the reply bench's, by `python -m brain.relevance_training` (brain/heads/README.md), and runs
on the same runtime as the shared encoder (ONNX int8 by default), as a second graph. Its P is combined
with the votes of the written messages most like the follower's (brain/fact_neighbours.py).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from brain.branch import usable_branch
from brain.encoder import Encoder
from brain.fact_neighbours import Neighbours, load_neighbours
from brain.heads import HEADS_DIR, Head

log = logging.getLogger(__name__)

# Where the shipped cross-encoder lives: its branch (branch.json, branch.safetensors) and head/.
RELEVANCE_DIR = HEADS_DIR / "relevance"
SEPARATOR = " [SEP] "
# The fact goes first: it is short, so a long message loses its tail to max_length, never the fact.
MAX_FACT_CHARS = 400
SEEN_PAIRS = 4096  # pairs whose score is kept (a few messages' worth of searches)
SEEN_MESSAGES = 64  # messages whose shared embedding is kept for the neighbours' votes


def pair_text(fact: str, message: str) -> str:
    """What the cross-encoder reads for one (fact, message) pair, in training and at run time."""
    return f"{' '.join(fact.split())[:MAX_FACT_CHARS]}{SEPARATOR}{' '.join(message.split())}"


class Relevance:
    """P(the fact answers what the message asks), per fact."""

    def __init__(self, encoder: Encoder, head: Head, neighbours: Neighbours | None = None, shared: Encoder | None = None) -> None:
        self.encoder = encoder
        self.head = head
        self.positive = head.labels.index("answers")
        # The written questions most like the message vote too (brain/fact_neighbours.py), by the
        # shared encoder's embeddings.
        self.neighbours = neighbours if shared is not None else None
        self.shared = shared
        self._messages: OrderedDict[str, np.ndarray] = OrderedDict()
        # The plan asks the same fixed questions ("how do I book?") of every message, and one
        # message's several searches ask about the same facts: each pair is scored once.
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def scores(self, message: str, facts: Sequence[str]) -> np.ndarray:
        if not facts or not message.strip():
            return np.zeros(len(facts), dtype=np.float32)
        texts = [pair_text(fact, message) for fact in facts]
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._seen))
            if todo:
                pooled = self.encoder.pooled_layers(todo)
                for text, p in zip(todo, self.head.proba(pooled)[:, self.positive]):
                    self._seen[text] = float(p)
            out = np.array([self._seen[t] for t in texts], dtype=np.float32)
            for text in texts:
                self._seen.move_to_end(text)
            while len(self._seen) > SEEN_PAIRS:
                self._seen.popitem(last=False)
        if self.neighbours is None or self.shared is None:
            return out
        shared = self.shared
        facts_key = ("relevance.neighbour_facts", tuple(facts))
        vote = self.neighbours.votes(self._message_vector(message), shared.memo(facts_key, lambda: shared.encode(list(facts))))
        return self.neighbours.combination(out, vote)

    def _message_vector(self, message: str) -> np.ndarray:
        """The shared encoder's embedding of a message, kept for the few searches of one reply."""
        with self._lock:
            if message in self._messages:
                self._messages.move_to_end(message)
                return self._messages[message]
        vector = self.shared.encode([message])[0]  # type: ignore[union-attr]
        with self._lock:
            self._messages[message] = vector
            while len(self._messages) > SEEN_MESSAGES:
                self._messages.popitem(last=False)
        return vector

    def close(self) -> None:
        self.encoder.close()


def load_relevance(encoder: Encoder, folder: Path = RELEVANCE_DIR) -> Relevance | None:
    """The cross-encoder for this encoder, on its runtime; None when the shipped one was trained on
    another encoder (then fact search ranks by cosine alone) or cannot be loaded."""
    if usable_branch(folder, encoder.name) is None or not (folder / "head" / "head.json").is_file():
        return None
    try:
        head = Head.load(folder / "head")
        model = Encoder(
            encoder.name, max_length=encoder.max_length, int8=encoder.int8, runtime=encoder.runtime,
            cache_dir=encoder.cache_dir, threads=encoder.threads, branch=folder,
        )
    except Exception as exc:  # a broken file costs the better ranking, never the bot
        log.warning("the fact relevance model in %s cannot be loaded (%s): ranking facts by cosine alone", folder, str(exc)[:200])
        return None
    return Relevance(model, head, load_neighbours(folder, encoder.name), encoder)


def relevance_of(encoder: Encoder) -> Relevance | None:
    """The cross-encoder that goes with this encoder, loaded once on first use."""
    return encoder.memo(("relevance",), lambda: load_relevance(encoder))
