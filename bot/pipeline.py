"""The follower path for a stored message: understand, decide, then reply, queue, escalate or ignore; resumable."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from sqlalchemy.engine import Engine

from core.config import Settings
from core.errors import BotError, OutsideMessagingWindow
from core.times import as_utc
from brain.examples import OWNER_EXAMPLES_LIMIT
from brain.draft import Draft
from brain.policy import Action, Situation, after_draft, decide, drafts_reply
from brain.service import Brain
from brain.understand import SARCASM_MIN, Understanding
from connectors.base import Connector
from storage import repo
from storage.message_states import MessageStatus, Transition, allows
from storage.models import Contact, Message, Reply, ReplyStatus, utcnow

log = logging.getLogger(__name__)

NotifyOwner = Callable[[str, str], Awaitable[None]]

# A chat app's opening commands (Telegram sends "/start" when someone first opens the bot, often with
# a payload or "@botname"): a hello, not something to classify.
OPENING_COMMANDS = {"/start", "/help"}
OPENER = Understanding(
    intent="greeting", intent_confidence=1.0, sentiment="neutral", sentiment_confidence=1.0, offensive=False, offensive_confidence=1.0
)

INTERRUPTED_SEND = "sending was interrupted by a restart; it may have reached them: check before approving"


class ReplySender:
    """Sends a stored reply at most once: claim the row, call the platform, finish the row."""

    def __init__(self, engine: Engine, connectors: Mapping[str, Connector]) -> None:
        self.engine = engine
        self.connectors = connectors

    async def send(self, reply_id: int, *, from_status: ReplyStatus, approved_by: str | None = None) -> Reply:
        reply = repo.get_reply(self.engine, reply_id)
        if reply is None:
            raise BotError(f"there is no reply #{reply_id}")
        message = repo.get_message(self.engine, reply.message_id)
        if message is None:
            raise BotError(f"reply #{reply_id} belongs to a message that was deleted")
        connector = self.connectors.get(message.platform)
        if connector is None:
            raise BotError(f"{message.platform} is not connected; reply #{reply_id} stays pending")
        if not repo.claim_reply(self.engine, reply_id, from_status):
            now = repo.get_reply(self.engine, reply_id)
            raise BotError(f"reply #{reply_id} is {now.status if now else 'gone'}, not {from_status}")
        try:
            self._check_window(connector, message)
            # The address stored with the message: the same place, kind and visibility it was written with.
            platform_id = await connector.send_reply(message.reply_address, reply.text)
        except Exception as exc:
            # The platform refused or was unreachable: back to the owner's queue, with the reason.
            log.warning("reply %d to message %d not sent: %s", reply_id, message.id, exc)
            repo.update_reply(self.engine, reply_id, status=ReplyStatus.pending, error=str(exc)[:500])
            repo.advance_message(self.engine, reply.message_id, Transition.await_owner)
            raise BotError(f"reply #{reply_id} was not sent: {exc}") from exc
        now = utcnow()
        fields: dict[str, object] = {"status": ReplyStatus.sent, "sent_at": now, "platform_reply_id": platform_id}
        if approved_by is not None:
            fields.update(approved_by=approved_by, approved_at=now)
        reply = repo.update_reply(self.engine, reply_id, **fields)
        repo.advance_message(self.engine, reply.message_id, Transition.replied)
        log.info("reply %d sent for message %d%s", reply_id, reply.message_id, f" (approved by {approved_by})" if approved_by else "")
        return reply


    def _check_window(self, connector: Connector, message: Message) -> None:
        """A private answer past the platform's messaging window is not tried: it would be refused."""
        window = connector.messaging_window
        if window is None or not message.reply_address.is_private:
            return
        last = repo.last_private_message_at(self.engine, message.contact_id) or message.received_at
        waited = utcnow() - as_utc(last)
        if waited > window:
            hours = window.total_seconds() / 3600
            raise OutsideMessagingWindow(
                f"{message.platform} lets the account answer a private message only within {hours:.0f} hours of the "
                f"person's last one ({waited.total_seconds() / 3600:.0f} hours ago): answer in {message.platform}'s own "
                "inbox, or approve this when they write again"
            )


def is_opening_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].split("@")[0].lower() in OPENING_COMMANDS


class FollowerPipeline:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        brain: Brain,
        sender: ReplySender,
        notify_owner: NotifyOwner,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.brain = brain
        self.sender = sender
        self.notify_owner = notify_owner

    async def process(self, message_id: int) -> Message:
        """Take one stored message as far as it goes; any step already written down is not redone."""
        try:
            return await self._process(message_id)
        except Exception as exc:
            log.exception("message %d failed", message_id)
            current = repo.get_message(self.engine, message_id)
            if current is None:
                raise
            if not allows(current.status, Transition.fail):
                return current  # it got to a final state before the failure: that stands
            message = repo.advance_message(self.engine, message_id, Transition.fail, status_reason=str(exc)[:500])
            await self.notify_owner(
                message.platform, f"message #{message_id} could not be handled ({type(exc).__name__}); see the log"
            )
            return message

    async def _process(self, message_id: int) -> Message:
        message = repo.get_message(self.engine, message_id)
        assert message is not None and message.id is not None
        contact = repo.get_contact(self.engine, message.contact_id)
        assert contact is not None and contact.id is not None

        if message.status == MessageStatus.received:
            u = OPENER if is_opening_command(message.text) else await self.brain.understand(message.text)
            message = repo.advance_message(
                self.engine,
                message.id,
                Transition.understood,
                intent=u.intent,
                intent_confidence=u.intent_confidence,
                sentiment=u.sentiment,
                sentiment_confidence=u.sentiment_confidence,
                offensive_probability=u.offensive_confidence if u.offensive else 1.0 - u.offensive_confidence,
                sarcastic_probability=u.sarcastic_confidence,
                language=u.language,
            )
        p_offensive = message.offensive_probability or 0.0
        u = Understanding(
            intent=message.intent or "other",
            intent_confidence=message.intent_confidence or 0.0,
            sentiment=message.sentiment or "neutral",
            sentiment_confidence=message.sentiment_confidence or 0.0,
            offensive=p_offensive >= 0.5,
            offensive_confidence=max(p_offensive, 1.0 - p_offensive),
            language=message.language or "",
            # The tone of the reply: "money well spent 👍" is never thanked for its kind words.
            sarcastic=(message.sarcastic_probability or 0.0) >= SARCASM_MIN,
            sarcastic_confidence=message.sarcastic_probability or 0.0,
        )

        # A reply already exists: an earlier run got this far before it stopped.
        existing = repo.list_replies(self.engine, message_id=message.id)
        if existing:
            return await self._finish_interrupted(message, existing[-1], contact)

        risk = await self.brain.assess_risk(message.text)
        situation = Situation(
            platform=message.platform,
            contact_opted_out=contact.opted_out,
            over_rate_limit=self._over_rate_limit(message.platform, contact.id),
            brand_language=self.settings.brand.language,
        )
        decision = decide(u, risk, self.settings.policy, situation)
        log.info("message %d: %s, %s -> %s (%s)", message.id, u.intent, u.sentiment, decision.action, decision.reason)
        who = contact.display_name or contact.platform_user_id
        summary = f"{u.intent} {u.intent_confidence:.2f}, {u.sentiment} {u.sentiment_confidence:.2f}" + (
            f", language {u.language}" if u.language else ""
        )

        if decision.action is Action.opt_out:
            repo.set_opted_out(self.engine, contact.id)
            return repo.advance_message(self.engine, message.id, Transition.ignore, status_reason=decision.reason)
        if decision.action is Action.ignore_spam:
            return repo.advance_message(self.engine, message.id, Transition.ignore, status_reason=decision.reason)
        if decision.action is Action.escalate:
            message = repo.advance_message(self.engine, message.id, Transition.escalate, status_reason=decision.reason)
            # "message N", not "#N": /approve and /edit take reply numbers, /reply message numbers.
            answer = f"  answer it with /reply {message.id} TEXT"
            if drafts_reply(decision.action, risk) and (suggestion := await self._drafted(message, u, contact.id)).text:
                suggested = self._stored(message.id, suggestion)
                answer = f"  suggested: {suggested.text}\n  /approve {suggested.id} | /edit {suggested.id} TEXT | /reject {suggested.id} | /reply {message.id} TEXT"
            await self.notify_owner(message.platform, f"escalated message {message.id} from {who}: {decision.reason} ({summary}): {message.text}\n{answer}")
            return message

        drafted = await self._drafted(message, u, contact.id)
        reply = self._stored(message.id, drafted)
        decision = after_draft(decision, drafted.text, drafted.needs_review)
        automatic = decision.action is Action.auto_reply
        assert reply.id is not None
        if automatic:
            repo.update_reply(self.engine, reply.id, automatic=True)
            repo.update_message(self.engine, message.id, status_reason=decision.reason)  # why it went out alone
            try:
                await self.sender.send(reply.id, from_status=ReplyStatus.pending)
            except BotError as exc:
                await self.notify_owner(message.platform, f"reply #{reply.id} to {who} waits for you: {exc}")
            return repo.get_message(self.engine, message.id) or message

        reason = decision.reason
        message = repo.advance_message(self.engine, message.id, Transition.await_owner, status_reason=reason)
        await self.notify_owner(
            message.platform,
            f"reply #{reply.id} to {who} waits for approval: {reason} ({summary}).\n"
            f"  them: {message.text}\n  draft: {drafted.text}\n  /approve {reply.id} | /edit {reply.id} TEXT | /reject {reply.id}",
        )
        return message

    async def _drafted(self, message: Message, u: Understanding, contact_id: int) -> Draft:
        """The reply drafted for the message, from the contact's history and the owner's own replies."""
        history = repo.contact_history(self.engine, contact_id, self.settings.policy.history_size)
        owner_replies = repo.owner_replies(self.engine, OWNER_EXAMPLES_LIMIT)
        examples = await self.brain.pick_examples(message.text, owner_replies) if owner_replies else []
        habit = self.brain.opening_habit(owner_replies) if owner_replies else None
        return await self.brain.draft_reply(message.text, u, history, platform=message.platform, examples=examples, habit=habit)

    def _stored(self, message_id: int, drafted: Draft) -> Reply:
        """The draft as a reply waiting for the owner (or for the automatic send)."""
        return repo.add_reply(
            self.engine,
            message_id=message_id,
            text=drafted.text,
            status=ReplyStatus.pending,
            check_failures="; ".join(drafted.check_failures) or None,
        )

    async def _finish_interrupted(self, message: Message, reply: Reply, contact: Contact) -> Message:
        assert message.id is not None and reply.id is not None
        if reply.status == ReplyStatus.sent:
            return repo.advance_message(self.engine, message.id, Transition.replied)
        if reply.status == ReplyStatus.sending:
            # We cannot know whether the platform got it; sending again could double it, so the owner decides.
            repo.update_reply(self.engine, reply.id, status=ReplyStatus.pending, error=INTERRUPTED_SEND)
            await self.notify_owner(message.platform, f"reply #{reply.id}: {INTERRUPTED_SEND}")
        if reply.status == ReplyStatus.rejected:
            return repo.advance_message(self.engine, message.id, Transition.ignore)
        return repo.advance_message(self.engine, message.id, Transition.await_owner)

    def _over_rate_limit(self, platform: str, contact_id: int) -> bool:
        policy = self.settings.policy
        now = utcnow()
        per_contact = repo.count_automatic_replies(self.engine, since=now - timedelta(hours=1), contact_id=contact_id)
        per_platform = repo.count_automatic_replies(self.engine, since=now - timedelta(minutes=1), platform=platform)
        return (
            per_contact >= policy.max_auto_replies_per_contact_per_hour
            or per_platform >= policy.max_auto_replies_per_platform_per_minute
        )
