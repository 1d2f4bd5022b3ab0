"""The owner's chat: slash commands from explicit command sets; plain words that ask for a command run it,
any other text gets the assistant's short true answer (brain/owner_chat.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.errors import BotError, UsageError
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
# Sends the answer to the owner's message (by default: a reply where it was written).
Answer = Callable[[IncomingMessage, Connector, str], Awaitable[None]]
# Turns the owner's sentence ("schedule it for the best time") into the command's arguments
# ("12 best"); raises BotError when the sentence lacks something the command needs.
WordsToArgs = Callable[[str], str]


def no_args(text: str) -> str:
    return ""


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    usage: str  # e.g. "/approve ID"
    summary: str
    handler: CommandHandler
    from_words: WordsToArgs | None = None  # set: plain words can ask for this command


def needs_arguments(usage: str) -> bool:
    """Whether a usage line ("/queue ID", "/draft [@platform] TOPIC") has an argument outside brackets."""
    return len(re.sub(r"\[[^\]]*\]", " ", usage).split()) > 1


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
        self._speakable = [name for name, command in self._commands.items() if command.from_words is not None]

    def help(self) -> str:
        rows = [(c.usage, c.summary) for c in self._commands.values()]
        rows.append(("/help", "this list"))
        rows.append(("plain words", "e.g. 'draft a post about our autumn sale', 'how did last week go?'"))
        width = max(len(usage) for usage, _ in rows)
        return "commands:\n" + "\n".join(f"  {usage:<{width}}  {summary}" for usage, summary in rows)

    async def handle(self, incoming: IncomingMessage, connector: Connector, answer_with: Answer | None = None) -> None:
        text = incoming.text.strip()
        if text.startswith("/"):
            word, _, rest = text.partition(" ")
            name = word[1:].lower().split("@")[0]  # Telegram appends @botname in groups
            if name == "help":
                answer = self.help()
            elif name == "start":  # what Telegram sends first; the README's setup asks the owner to send it
                answer = "Hi! You are the owner: escalations and replies waiting for approval come to this chat.\n" + self.help()
            elif name in self._commands:
                answer = await self._run(self._commands[name], CommandContext(incoming, connector, rest.strip()))
            else:
                answer = f"unknown command /{name}; /help lists them"
        else:
            answer = await self._plain_words(incoming, connector, text)
        if answer_with is not None:
            await answer_with(incoming, connector, answer)
        else:
            await connector.send_reply(incoming.reply_to, answer)

    async def _run(self, command: Command, ctx: CommandContext) -> str:
        if not ctx.args and needs_arguments(command.usage):
            return f"usage: {command.usage}"
        try:
            return await command.handler(ctx)
        except UsageError as exc:  # answered like a command typed with no arguments at all
            return str(exc)
        except BotError as exc:
            return f"could not do that: {exc}"

    async def _plain_words(self, incoming: IncomingMessage, connector: Connector, text: str) -> str:
        """A sentence that asks for a command runs it (and says which); anything else goes to the assistant."""
        match = await self.brain.match_owner_request(text, self._speakable) if self._speakable and text else None
        if match is None:
            log.info("owner asked the assistant (%d chars)", len(text))
            return await self.brain.answer_owner(text, self.help())
        command = self._commands[match[0]]
        assert command.from_words is not None
        try:
            args = command.from_words(text)
        except BotError as exc:
            return f"that sounds like /{command.name}, but {exc}"
        log.info("owner's words taken as /%s (similarity %.2f)", command.name, match[1])
        shown = f"/{command.name} {args}".strip()
        return f"({shown})\n" + await self._run(command, CommandContext(incoming, connector, args))
