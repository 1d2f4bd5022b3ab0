"""A stand-in for brain.service.Brain with the same async methods and no models: tests of the
connectors need the pipeline's wiring, not a model's answers."""

from __future__ import annotations

from collections.abc import Sequence

from brain.draft import Draft
from brain.understand import Understanding


class StandInBrain:
    """Greets back whoever writes "hi..."; anything with "broken" in it is a complaint."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def load(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def understand(self, text: str) -> Understanding:
        if "broken" in text.lower():
            return Understanding("complaint", 0.95, "negative", 0.9)
        return Understanding("greeting", 0.95, "positive", 0.9)

    async def draft_reply(
        self, text: str, understanding: Understanding, history: Sequence[tuple[str, str]] = ()
    ) -> Draft:
        return Draft(f"Hello from Acme! ({understanding.intent})")

    async def answer_owner(self, text: str) -> str:
        self.asked.append(text)
        return f"assistant: {len(text)} chars"
