"""Forgetting a contact (the right to erasure): the one function `bot forget` and the dashboard call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.errors import BotError
from core.platforms import CONNECTOR_PLATFORMS
from core.text import counted
from storage import repo


@dataclass(frozen=True)
class Erased:
    platform: str
    user_id: str
    counts: dict[str, int]

    @property
    def found(self) -> bool:
        return bool(self.counts["contacts"])

    def summary(self) -> str:
        c = self.counts
        if not self.found:
            return f"no contact {self.user_id} on {self.platform}; nothing deleted"
        return (
            f"deleted {self.platform} contact {self.user_id}: {counted(c['messages'], 'message')}, "
            f"{counted(c['replies'], 'reply', 'replies')}, {counted(c['corrections'], 'label correction')}, "
            f"1 contact ({counted(sum(c.values()), 'row')})"
        )


def forget_contact(engine: Engine, platform: str, user_id: str) -> Erased:
    """Delete a contact, their messages, our replies to them and label corrections on them. A
    platform the bot has no connector for is refused by name: a typo must not read as "no contact"."""
    if platform not in CONNECTOR_PLATFORMS:
        raise BotError(f"unknown platform {platform!r} (known: {', '.join(sorted(CONNECTOR_PLATFORMS))})")
    return Erased(platform, user_id, repo.delete_contact(engine, platform, user_id))
