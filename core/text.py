"""Small wording helpers shared by every layer's messages to the owner."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 message', '3 messages', '0 replies' (pass the plural where adding an s is wrong)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
