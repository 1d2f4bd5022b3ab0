"""What a message means: intent, sentiment and offensiveness with confidences, from trained heads,
and the language it is written in.

Every head reads the same encoder pass (pooled layers of all-MiniLM-L6-v2), so one message
costs one forward pass however many heads there are. The heads are small files in brain/heads/.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brain.encoder import Encoder
from brain.handoff import message_language
from brain.heads import TASKS, Head, head_dir

log = logging.getLogger(__name__)

# The sarcasm head's P(sarcastic) from which a message reads as sarcastic. Chosen on the reply bench's
# tune split (1,159 rows: 39 of its 64 sarcastic rows at 0.6, 29 at 0.8; 2 false alarms against 1); on
# the follower set's held-out rows, never trained on: 15 of 24 sarcastic at 0.6 and 0.8, 2 false alarms
# in 497 against 0. A false alarm costs an apology that waits for the owner; a miss thanks a sarcastic
# complaint for its kind words.
SARCASM_MIN = 0.6


@dataclass(frozen=True)
class Understanding:
    intent: str
    intent_confidence: float
    sentiment: str
    sentiment_confidence: float
    offensive: bool = False
    offensive_confidence: float = 0.0
    # ISO 639-1 code, "" when too short or unclear to tell. The encoder reads English: labels of a
    # message in another language are guesses, and the policy hands it to the owner.
    language: str = ""
    # Says the opposite of what it means ("wow super helpful 🙄"): the sarcasm head is SARCASM_MIN sure.
    sarcastic: bool = False
    sarcastic_confidence: float = 0.0


def load_heads(heads_dir: Path | None = None) -> dict[str, Head]:
    """Every task's head: the owner's own from heads_dir where trained, the shipped one otherwise."""
    heads = {task: Head.load(head_dir(task, heads_dir)) for task in TASKS}
    for task, head in heads.items():
        log.info("%s head: %d labels from %s", task, len(head.labels), head_dir(task, heads_dir))
    return heads


class Understander:
    """Classifies many messages with one encoder pass shared by every head."""

    def __init__(
        self, encoder: Encoder, heads: dict[str, Head] | None = None, cache_size: int = 2048, brand_language: str = "en"
    ) -> None:
        self.encoder = encoder
        self.brand_language = brand_language
        self.heads = heads if heads is not None else load_heads()
        # Followers repeat themselves ("hi", "stop", copy-pasted spam): a repeated text costs nothing.
        # The sentence embedding is kept too, so the risk check after understanding needs no second pass.
        self._cache: OrderedDict[str, tuple[Understanding, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size

    def _blank(self) -> Understanding:
        # Nothing to understand: neutral labels with zero confidence, so no policy acts on them.
        h = self.heads
        return Understanding(h["intent"].fallback, 0.0, h["sentiment"].fallback, 0.0, False, 0.0, "")

    def understand_many(self, texts: Sequence[str]) -> list[Understanding]:
        results: dict[str, Understanding] = {}
        todo = []
        for text in dict.fromkeys(texts):
            if not text.strip():
                results[text] = self._blank()
            elif text in self._cache:
                self._cache.move_to_end(text)
                results[text] = self._cache[text][0]
            else:
                todo.append(text)
        if todo:
            pooled = self.encoder.pooled_layers(todo)
            intents = self.heads["intent"].predict(pooled, todo)
            sentiments = self.heads["sentiment"].predict(pooled, todo)
            offensive = self.heads["offensive"].proba(pooled, todo)
            off_col = self.heads["offensive"].labels.index("offensive") if "offensive" in self.heads["offensive"].labels else -1
            # Heads handed in without a sarcasm head (a set made before it): no message reads as sarcastic by it.
            sarcasm = self.heads.get("sarcasm")
            p_sarcastic = sarcasm.proba(pooled, todo)[:, sarcasm.labels.index("1")] if sarcasm is not None and "1" in sarcasm.labels else np.zeros(len(todo))
            embeddings = self.encoder.sentence_embeddings(pooled)
            for k, text in enumerate(todo):
                p_off = float(offensive[k, off_col]) if off_col >= 0 else 0.0
                u = Understanding(
                    intent=intents[k][0],
                    intent_confidence=intents[k][1],
                    sentiment=sentiments[k][0],
                    sentiment_confidence=sentiments[k][1],
                    offensive=p_off >= 0.5,
                    offensive_confidence=p_off if p_off >= 0.5 else 1.0 - p_off,
                    language=message_language(text, self.brand_language),
                    sarcastic=bool(p_sarcastic[k] >= SARCASM_MIN),
                    sarcastic_confidence=float(p_sarcastic[k]),
                )
                results[text] = u
                self._cache[text] = (u, embeddings[k])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return [results[t] for t in texts]

    def understand(self, text: str) -> Understanding:
        return self.understand_many([text])[0]

    def embedding(self, text: str) -> np.ndarray:
        """The text's sentence embedding: from the pass that understood it when still cached."""
        cached = self._cache.get(text)
        return cached[1] if cached is not None else self.encoder.encode([text])[0]
