"""The follower path: store, understand, decide, then reply, queue, escalate or ignore."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import Engine

from bot.config import Settings
from brain.policy import Action, decide
from brain.service import Brain
from connectors.base import Connector, IncomingMessage
from storage import repo
from storage.models import Message, MessageStatus, ReplyStatus, utcnow

log = logging.getLogger(__name__)

NotifyOwner = Callable[[str, str], Awaitable[None]]


class FollowerPipeline:
    def __init__(self, settings: Settings, engine: Engine, brain: Brain, notify_owner: NotifyOwner) -> None:
        self.settings = settings
        self.engine = engine
        self.brain = brain
        self.notify_owner = notify_owner

    def _auto_reply_enabled(self, platform: str) -> bool:
        section = getattr(self.settings, platform, None)
        return bool(getattr(section, "auto_reply", False))

    async def handle(self, incoming: IncomingMessage, connector: Connector) -> Message:
        contact = repo.get_or_create_contact(
            self.engine, incoming.platform, incoming.user_id, incoming.user_name
        )
        assert contact.id is not None
        message, created = repo.add_message(
            self.engine,
            platform=incoming.platform,
            platform_message_id=incoming.message_id,
            contact_id=contact.id,
            text=incoming.text,
            chat_id=incoming.chat_id,
            received_at=incoming.received_at,
        )
        if not created:
            log.info("message %s/%s redelivered; already handled", incoming.platform, incoming.message_id)
            return message
        log.info("message %d received from %s/%s (%d chars)", message.id, incoming.platform, contact.id, len(incoming.text))
        try:
            return await self._process(message, incoming, connector)
        except Exception as exc:
            log.exception("message %d failed", message.id)
            assert message.id is not None
            return repo.update_message(self.engine, message.id, status=MessageStatus.failed, error=str(exc)[:500])

    async def _process(self, message: Message, incoming: IncomingMessage, connector: Connector) -> Message:
        assert message.id is not None
        u = await self.brain.understand(message.text)
        message = repo.update_message(
            self.engine,
            message.id,
            status=MessageStatus.understood,
            intent=u.intent,
            intent_confidence=u.intent_confidence,
            sentiment=u.sentiment,
            sentiment_confidence=u.sentiment_confidence,
        )
        decision = decide(u, self.settings.policy, auto_reply_enabled=self._auto_reply_enabled(incoming.platform))
        log.info("message %d: %s, %s -> %s (%s)", message.id, u.intent, u.sentiment, decision.action, decision.reason)
        who = incoming.user_name or incoming.user_id
        summary = f"{u.intent} {u.intent_confidence:.2f}, {u.sentiment} {u.sentiment_confidence:.2f}"

        if decision.action is Action.ignore_spam:
            return repo.update_message(self.engine, message.id, status=MessageStatus.ignored)
        if decision.action is Action.escalate:
            message = repo.update_message(self.engine, message.id, status=MessageStatus.escalated)
            await self.notify_owner(incoming.platform, f"escalated #{message.id} from {who} ({summary}): {message.text}")
            return message

        drafted = await self.brain.draft_reply(message.text, u)
        text = drafted.text
        if decision.action is Action.auto_reply and not drafted.needs_review:
            reply = repo.add_reply(self.engine, message_id=message.id, text=text, status=ReplyStatus.pending)
            assert reply.id is not None
            platform_id = await connector.send_reply(incoming, text)
            repo.update_reply(
                self.engine, reply.id, status=ReplyStatus.sent, sent_at=utcnow(), platform_reply_id=platform_id
            )
            return repo.update_message(self.engine, message.id, status=MessageStatus.replied)

        reply = repo.add_reply(
            self.engine,
            message_id=message.id,
            text=text,
            status=ReplyStatus.pending,
            check_failures="; ".join(drafted.check_failures) or None,
        )
        message = repo.update_message(self.engine, message.id, status=MessageStatus.pending)
        await self.notify_owner(
            incoming.platform,
            f"reply #{reply.id} to {who} waits for approval ({summary}).\n  them: {message.text}\n  draft: {text}",
        )
        return message
