"""The owner's chat: slash commands from explicit command sets, free text answered by the assistant."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.errors import BotError
from brain.service import Brain
from connectors.base import Connector, IncomingMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandContext:
    """What a command handler gets: the message, the connector it came on, and its arguments."""

    incoming: IncomingMessage
    connector: Connector
    args: str  # everything after the command word, stripped


CommandHandler = Callable[[CommandContext], Awaitable[str]]


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    usage: str  # e.g. "/approve ID"
    summary: str
    handler: CommandHandler


class CommandSet(Protocol):
    """A group of related owner commands (the inbox, the post calendar, ...)."""

    def commands(self) -> Sequence[Command]: ...


class OwnerCommands:
    """Routes the owner's lines: `/name args` to the matching command, anything else to the assistant."""

    def __init__(self, brain: Brain, command_sets: Sequence[CommandSet]) -> None:
        self.brain = brain
        self._commands: dict[str, Command] = {}
        for command_set in command_sets:
            for command in command_set.commands():
                if command.name in self._commands:
                    raise ValueError(f"two owner commands are called /{command.name}")
                self._commands[command.name] = command

    def help(self) -> str:
        rows = [(c.usage, c.summary) for c in self._commands.values()]
        rows.append(("/help", "this list"))
        rows.append(("anything else", "ask the assistant (e.g. draft a post about our autumn sale)"))
        width = max(len(usage) for usage, _ in rows)
        return "commands:\n" + "\n".join(f"  {usage:<{width}}  {summary}" for usage, summary in rows)

    async def handle(self, incoming: IncomingMessage, connector: Connector) -> None:
        text = incoming.text.strip()
        if text.startswith("/"):
            word, _, rest = text.partition(" ")
            name = word[1:].lower().split("@")[0]  # Telegram appends @botname in groups
            if name == "help":
                answer = self.help()
            elif name in self._commands:
                try:
                    answer = await self._commands[name].handler(CommandContext(incoming, connector, rest.strip()))
                except BotError as exc:
                    answer = f"could not do that: {exc}"
            else:
                answer = f"unknown command /{name}; /help lists them"
        else:
            log.info("owner asked the assistant (%d chars)", len(text))
            answer = await self.brain.answer_owner(text) or "(the model returned nothing; try rephrasing)"
        await connector.send_reply(incoming, answer)
