"""Example replies for the drafter: the owner's own (approved or edited) nearest in meaning, else built-in ones."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from brain.encoder import Encoder

Example = tuple[str, str]  # (follower's message, the owner's reply)

EXAMPLES_PER_REPLY = 3
EXAMPLE_MIN_COSINE = 0.5  # less similar past messages teach the drafter nothing about this one
OWNER_EXAMPLES_LIMIT = 500  # the newest approved replies searched for examples
_CACHE_SIZE = 2 * OWNER_EXAMPLES_LIMIT
# The owner's past messages are searched for every reply: each is encoded once, not each time.
_vectors: weakref.WeakKeyDictionary[Encoder, OrderedDict[str, np.ndarray]] = weakref.WeakKeyDictionary()

# A few replies per intent in a plain shop-owner voice, for brands that have approved none yet.
BUILT_IN: dict[str, tuple[Example, ...]] = {
    "question": (
        ("are you open on sunday?", "Thanks for asking! We are open Monday to Saturday, 9:00 to 17:00."),
        ("do you deliver??", "Good question! We deliver within 5 km for 2 EUR."),
    ),
    "purchase_intent": (
        ("how can i buy the blue scarf", "Thanks for your interest in the blue scarf! You can order here: https://example.org/shop"),
    ),
    "complaint": (
        ("my parcel came completely crushed", "We're so sorry it arrived damaged. Please send us a private message with the details so we can look into it."),
    ),
    "support_request": (
        ("i can't log in to my account", "Sorry for the trouble. Please send us a private message with the details, and a member of our team will help you shortly."),
    ),
    "praise": (
        ("you guys are the best!!", "Thank you so much for your kind words!"),
    ),
    "greeting": (
        ("hey there", "Hi! How can we help you today?"),
    ),
}


def built_in(intent: str) -> tuple[Example, ...]:
    return BUILT_IN.get(intent, ())


def nearest_examples(
    text: str,
    owner_examples: Sequence[Example],
    encoder: Encoder,
    k: int = EXAMPLES_PER_REPLY,
    min_cosine: float = EXAMPLE_MIN_COSINE,
) -> list[Example]:
    """The k owner examples whose follower message is closest in meaning to this one, closest first."""
    if not owner_examples or k <= 0 or not text.strip():
        return []
    scores = _encoded(encoder, [message for message, _ in owner_examples]) @ encoder.encode([text])[0]
    order = sorted(range(len(owner_examples)), key=lambda i: -float(scores[i]))
    return [owner_examples[i] for i in order[:k] if float(scores[i]) >= min_cosine]


def _encoded(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    cache = _vectors.setdefault(encoder, OrderedDict())
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    if missing:
        cache.update(zip(missing, encoder.encode(missing)))
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return np.stack([cache[t] for t in texts])
