"""The owner's chat: slash commands, and free text answered by the assistant."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from brain.service import Brain
from connectors.base import Connector, IncomingMessage
from storage import repo
from storage.models import MessageStatus, ReplyStatus

log = logging.getLogger(__name__)

HELP = """commands:
  /inbox                      replies waiting for approval, and escalations
  /help                       this list
  anything else               ask the assistant (for example: draft a post about our autumn sale)"""


class OwnerCommands:
    def __init__(self, engine: Engine, brain: Brain) -> None:
        self.engine = engine
        self.brain = brain

    async def handle(self, incoming: IncomingMessage, connector: Connector) -> None:
        text = incoming.text.strip()
        if text.startswith("/"):
            command = text.split()[0].lower()
            if command == "/help":
                answer = HELP
            elif command == "/inbox":
                answer = self.inbox()
            else:
                answer = f"unknown command {command}; /help lists them"
        else:
            log.info("owner asked the assistant (%d chars)", len(text))
            answer = await self.brain.answer_owner(text) or "(the model returned nothing; try rephrasing)"
        await connector.send_reply(incoming, answer)

    def inbox(self) -> str:
        lines: list[str] = []
        for reply in repo.list_replies(self.engine, status=ReplyStatus.pending):
            message = repo.get_message(self.engine, reply.message_id)
            them = message.text if message else "?"
            lines.append(f"reply #{reply.id}: them: {them!r} draft: {reply.text!r}")
        for message in repo.list_messages(self.engine, status=MessageStatus.escalated):
            lines.append(f"escalated #{message.id}: {message.text!r}")
        return "\n".join(lines) or "nothing is waiting for you"
