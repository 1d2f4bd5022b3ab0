"""A stand-in text generator: instant, scripted, and it remembers every prompt it was given."""

from __future__ import annotations

from brain.generator import ChatMessage, GenerationOptions

DEFAULT_ANSWER = "Thanks for writing to us!"


class ScriptedGenerator:
    """Answers with the given texts in turn (the last one repeats) and records every call."""

    name = "scripted"

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts) or [DEFAULT_ANSWER]
        self.calls: list[tuple[list[ChatMessage], GenerationOptions]] = []

    @property
    def prompts(self) -> list[list[ChatMessage]]:
        return [messages for messages, _ in self.calls]

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        self.calls.append((messages, options))
        return self.texts[min(len(self.calls), len(self.texts)) - 1]

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        return [self.generate(messages, options) for messages in prompts]
