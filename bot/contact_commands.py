"""The owner's commands about a contact: undoing a follower's "stop" once they asked for messages again."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext
from core.errors import BotError, UsageError
from storage import repo
from storage.models import Contact

log = logging.getLogger(__name__)

USAGE = "/resubscribe PLATFORM USER_ID"


class ContactCommands:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def commands(self) -> Sequence[Command]:
        return [
            Command(
                "resubscribe", USAGE,
                "undo a contact's stop: the bot may answer them on its own again (as `bot forget`, by platform and user id)",
                self.resubscribe_command,
            )
        ]

    async def resubscribe_command(self, ctx: CommandContext) -> str:
        parts = ctx.args.split()
        if len(parts) != 2:
            raise UsageError(f"usage: {USAGE}")
        contact = repo.find_contact(self.engine, parts[0].lower(), parts[1])
        if contact is None or contact.id is None:
            raise BotError(f"there is no {parts[0]} contact {parts[1]}")
        return self.resubscribe(contact.id)

    def resubscribe(self, contact_id: int) -> str:
        """The one rule, for the chat command and the dashboard: only the owner undoes a stop, and says so."""
        contact = repo.get_contact(self.engine, contact_id)
        if contact is None:
            raise BotError(f"there is no contact {contact_id}")
        if not contact.opted_out:
            return f"{_name(contact)} had not asked to stop: nothing changed."
        repo.set_opted_out(self.engine, contact_id, False)
        log.info("contact %s (%s %s) resubscribed by the owner", contact_id, contact.platform, contact.platform_user_id)
        return f"{_name(contact)} gets automatic replies again (their stop is undone)."


def _name(contact: Contact) -> str:
    return f"{contact.display_name or contact.platform_user_id} on {contact.platform}"
