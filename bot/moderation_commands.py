"""The owner's moderation commands: hiding or deleting a follower's public comment (never done automatically)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext
from connectors.base import Connector
from core.addressing import MessageKind
from core.errors import BotError
from storage import repo
from storage.models import Message

log = logging.getLogger(__name__)


class ModerationCommands:
    def __init__(self, engine: Engine, connectors: Mapping[str, Connector]) -> None:
        self.engine = engine
        self.connectors = connectors

    def commands(self) -> Sequence[Command]:
        return [
            Command("hide", "/hide MESSAGE_ID", "hide a public comment (only its author and you still see it)", self.hide),
            Command("delete", "/delete MESSAGE_ID", "delete a public comment under your post, for everyone", self.delete),
        ]

    async def hide(self, ctx: CommandContext) -> str:
        message, connector = self._comment(ctx, "hide", "hidden")
        await connector.hide_comment(message.reply_address)
        log.info("comment %s (message %s) hidden on %s by the owner", message.platform_message_id, message.id, message.platform)
        return f"comment #{message.id} hidden on {message.platform}: {message.text[:80]}"

    async def delete(self, ctx: CommandContext) -> str:
        message, connector = self._comment(ctx, "delete", "deleted")
        await connector.delete_comment(message.reply_address)
        log.info("comment %s (message %s) deleted on %s by the owner", message.platform_message_id, message.id, message.platform)
        return f"comment #{message.id} deleted on {message.platform}: {message.text[:80]}"

    def _comment(self, ctx: CommandContext, verb: str, done: str) -> tuple[Message, Connector]:
        """The stored comment the owner named, and the connector of its platform."""
        token = ctx.args.split(maxsplit=1)[0].lstrip("#")  # the command's usage answers a bare /delete
        if not token.isdecimal():
            raise BotError(f"which message? give its number, e.g. /{verb} 12")
        message = repo.get_message(self.engine, int(token))
        if message is None:
            raise BotError(f"there is no message #{token}")
        if message.kind != MessageKind.comment:
            raise BotError(f"message #{token} is a {message.kind}, not a comment: only comments can be {done}")
        connector = self.connectors.get(message.platform)
        if connector is None:
            raise BotError(f"{message.platform} is not connected")
        return message, connector
