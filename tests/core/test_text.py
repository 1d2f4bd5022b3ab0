"""Counted nouns in messages to the owner."""

from core.text import counted


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "message") == "1 message"
    assert [counted(n, "message") for n in (0, 2)] == ["0 messages", "2 messages"]
    assert counted(3, "reply", "replies") == "3 replies" and counted(1, "reply", "replies") == "1 reply"
