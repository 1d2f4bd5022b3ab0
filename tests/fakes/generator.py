"""A stand-in text generator: instant, scripted, and it remembers every prompt it was given."""

from __future__ import annotations

from collections.abc import Callable

from brain.generator import ChatMessage, GenerationOptions


class ScriptedGenerator:
    name = "scripted"

    def __init__(self, answer: str | Callable[[list[ChatMessage]], str] = "Thanks for writing to us!") -> None:
        self.answer = answer
        self.prompts: list[list[ChatMessage]] = []

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        self.prompts.append(messages)
        return self.answer(messages) if callable(self.answer) else self.answer
