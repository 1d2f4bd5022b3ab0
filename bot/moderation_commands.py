"""The owner's moderation commands: hiding a follower's public comment (never done automatically)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext
from connectors.base import Connector
from core.addressing import MessageKind
from core.errors import BotError
from storage import repo

log = logging.getLogger(__name__)


class ModerationCommands:
    def __init__(self, engine: Engine, connectors: Mapping[str, Connector]) -> None:
        self.engine = engine
        self.connectors = connectors

    def commands(self) -> Sequence[Command]:
        return [Command("hide", "/hide MESSAGE_ID", "hide a public comment (only its author and you still see it)", self.hide)]

    async def hide(self, ctx: CommandContext) -> str:
        token = ctx.args.split(maxsplit=1)[0].lstrip("#")
        if not token.isdecimal():
            raise BotError("which message? give its number, e.g. /hide 12")
        message = repo.get_message(self.engine, int(token))
        if message is None:
            raise BotError(f"there is no message #{token}")
        if message.kind != MessageKind.comment:
            raise BotError(f"message #{token} is a {message.kind}, not a comment: only comments can be hidden")
        connector = self.connectors.get(message.platform)
        if connector is None:
            raise BotError(f"{message.platform} is not connected")
        await connector.hide_comment(message.reply_address)
        log.info("comment %s (message %s) hidden on %s by the owner", message.platform_message_id, message.id, message.platform)
        return f"comment #{message.id} hidden on {message.platform}: {message.text[:80]}"
