"""What a message means: intent and sentiment with confidences, from the shared encoder.

Until trained heads exist this is a zero-shot classifier: each label is described by a few
example sentences, and a message takes the label whose examples its embedding is closest to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from brain.encoder import Encoder

INTENT_EXAMPLES: dict[str, list[str]] = {
    "question": ["What time do you open?", "Do you ship to Canada?", "How much does it cost?"],
    "complaint": [
        "My order arrived broken and nobody answers me.",
        "Worst service ever, I want my money back.",
        "This is unacceptable, I waited two weeks.",
    ],
    "praise": ["I love your products!", "Great job, amazing service", "You are the best, thank you"],
    "purchase_intent": ["I want to buy this", "How can I order two of these?", "Take my money, where do I pay?"],
    "support_request": ["I can't log in to my account", "Can you help me reset my password?", "The app keeps crashing"],
    "greeting": ["hello", "hi there!", "good morning"],
    "spam": ["Click here to win a free iPhone", "Earn $5000 a week from home, DM me", "Follow me for free followers"],
    "unsubscribe": ["stop messaging me", "unsubscribe", "please remove me from your list"],
    "other": ["ok", "the weather is nice today", "my cat is sleeping"],
}

SENTIMENT_EXAMPLES: dict[str, list[str]] = {
    "negative": ["I am very angry and disappointed", "This is terrible", "I hate this"],
    "neutral": ["I am asking about the opening hours", "The package arrived today", "ok"],
    "positive": ["I am so happy with this", "This is wonderful", "Thank you so much, love it"],
}


@dataclass(frozen=True)
class Understanding:
    intent: str
    intent_confidence: float
    sentiment: str
    sentiment_confidence: float


class _PrototypeHead:
    def __init__(self, encoder: Encoder, examples: dict[str, list[str]], temperature: float = 0.05) -> None:
        self.labels = list(examples)
        centroids = [encoder.encode(texts).mean(axis=0) for texts in examples.values()]
        matrix = np.stack(centroids)
        self.centroids = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        self.temperature = temperature

    def predict(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        logits = embeddings @ self.centroids.T / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        return [(self.labels[b], float(probs[i, b])) for i, b in enumerate(best)]


class Understander:
    """Classifies many messages with one encoder pass shared by every head."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.intent = _PrototypeHead(encoder, INTENT_EXAMPLES)
        self.sentiment = _PrototypeHead(encoder, SENTIMENT_EXAMPLES)

    def understand_many(self, texts: Sequence[str]) -> list[Understanding]:
        embeddings = self.encoder.encode(list(texts))
        intents = self.intent.predict(embeddings)
        sentiments = self.sentiment.predict(embeddings)
        return [
            Understanding(intent=i, intent_confidence=ic, sentiment=s, sentiment_confidence=sc)
            for (i, ic), (s, sc) in zip(intents, sentiments)
        ]

    def understand(self, text: str) -> Understanding:
        return self.understand_many([text])[0]
