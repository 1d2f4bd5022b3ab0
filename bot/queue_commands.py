"""The owner's approval queue: list, approve, edit, reject, reply to escalations, correct labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext, no_args
from core.errors import BotError, UsageError
from bot.pipeline import ReplySender
from storage import repo
from storage.message_states import MessageStatus, Transition, allows
from storage.models import Reply, ReplyStatus, utcnow

LABEL_TASKS = ("intent", "sentiment", "offensive")


def _id(text: str, what: str) -> int:
    token = text.split(maxsplit=1)[0] if text.strip() else ""
    try:
        return int(token.lstrip("#"))
    except ValueError:
        raise BotError(f"which {what}? give its number, e.g. 3") from None


def _id_and_text(args: str, what: str, usage: str) -> tuple[int, str]:
    """`ID TEXT` arguments, as in /edit and /reply."""
    number = _id(args, what)
    parts = args.split(maxsplit=1)
    if len(parts) < 2 or not parts[1].strip():
        raise UsageError(f"usage: {usage}")
    return number, parts[1].strip()


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QueueCommands:
    def __init__(self, engine: Engine, sender: ReplySender, known_labels: Callable[[str], Sequence[str]]) -> None:
        """known_labels: the labels a task's classifier head can give (Brain.known_labels)."""
        self.engine = engine
        self.sender = sender
        self.known_labels = known_labels

    def commands(self) -> Sequence[Command]:
        return [
            Command("inbox", "/inbox", "everything waiting for you: drafts and escalations", self.inbox, no_args),
            Command("pending", "/pending", "drafted replies waiting for approval", self.pending),
            Command("escalations", "/escalations", "messages handed to you, not answered by the bot", self.escalations),
            Command("approve", "/approve ID", "send drafted reply ID as it is", self.approve),
            Command("edit", "/edit ID TEXT", "send TEXT instead of the draft of reply ID", self.edit),
            Command("reject", "/reject ID", "drop drafted reply ID; nothing is sent", self.reject),
            Command("reply", "/reply MESSAGE_ID TEXT", "answer any message yourself (e.g. an escalation)", self.reply),
            Command("label", "/label MESSAGE_ID TASK LABEL", "correct a label (intent, sentiment) for retraining", self.label),
        ]

    async def inbox(self, ctx: CommandContext) -> str:
        if not repo.list_replies(self.engine, status=ReplyStatus.pending, limit=1) and not repo.list_messages(
            self.engine, status=MessageStatus.escalated, limit=1
        ):
            return "nothing is waiting for you"
        return f"{await self.pending(ctx)}\n{await self.escalations(ctx)}"

    async def pending(self, ctx: CommandContext) -> str:
        lines = []
        for reply in repo.list_replies(self.engine, status=ReplyStatus.pending):
            message = repo.get_message(self.engine, reply.message_id)
            if message is None:
                continue
            note = f" [{reply.error or reply.check_failures}]" if (reply.error or reply.check_failures) else ""
            labels = ", ".join(x for x in (message.platform, message.intent, message.sentiment, message.language) if x)
            lines.append(
                f"#{reply.id} ({labels}) them: {_short(message.text)}\n"
                f"    draft: {_short(reply.text)}{note}"
            )
        return "pending replies:\n" + "\n".join(lines) if lines else "no replies waiting for approval"

    async def escalations(self, ctx: CommandContext) -> str:
        messages = repo.list_messages(self.engine, status=MessageStatus.escalated)
        lines = [f"message {m.id} ({m.platform}, {m.status_reason or m.intent}): {_short(m.text)}" for m in messages]
        return "escalations (answer with /reply MESSAGE_ID TEXT):\n" + "\n".join(lines) if lines else "no escalations"

    async def approve(self, ctx: CommandContext) -> str:
        reply_id = _id(ctx.args, "reply")
        await self.approve_reply(reply_id, self._who(ctx))
        return f"reply #{reply_id} sent"

    async def edit(self, ctx: CommandContext) -> str:
        reply_id, text = _id_and_text(ctx.args, "reply", "/edit ID TEXT")
        await self.edit_and_send(reply_id, text, self._who(ctx))
        return f"reply #{reply_id} edited and sent"

    async def reject(self, ctx: CommandContext) -> str:
        reply_id = _id(ctx.args, "reply")
        self.reject_reply(reply_id, self._who(ctx))
        return f"reply #{reply_id} rejected; nothing was sent"

    async def reply(self, ctx: CommandContext) -> str:
        message_id, text = _id_and_text(ctx.args, "message", "/reply MESSAGE_ID TEXT")
        await self.reply_to(message_id, text, self._who(ctx))
        return f"sent your reply to message {message_id}"

    async def label(self, ctx: CommandContext) -> str:
        parts = ctx.args.split()
        if len(parts) != 3:
            raise UsageError(f"usage: /label MESSAGE_ID TASK LABEL, TASK one of {', '.join(LABEL_TASKS)}")
        message_id = _id(parts[0], "message")
        self.correct_label(message_id, parts[1], parts[2])
        return f"noted: message {message_id} is {parts[1]} {parts[2]} (used by `bot train --with-corrections`)"

    # -- the rules, one copy: the chat commands above and the dashboard (bot/web) call these ------
    # `who` is who approved, as stored on the reply: "telegram:42" from a chat, "web" from the dashboard.

    async def approve_reply(self, reply_id: int, who: str) -> Reply:
        """Send a drafted reply as it is."""
        return await self.sender.send(reply_id, from_status=ReplyStatus.pending, approved_by=who)

    def _pending_reply(self, reply_id: int) -> Reply:
        reply = repo.get_reply(self.engine, reply_id)
        if reply is None or reply.status != ReplyStatus.pending:
            raise BotError(f"reply #{reply_id} is not waiting for approval")
        return reply

    async def edit_and_send(self, reply_id: int, text: str, who: str) -> Reply:
        """Send `text` instead of the draft of a waiting reply."""
        if not text.strip():
            raise BotError("the reply is empty; write something, or reject the draft")
        self._pending_reply(reply_id)
        repo.update_reply(self.engine, reply_id, text=text.strip())
        return await self.sender.send(reply_id, from_status=ReplyStatus.pending, approved_by=who)

    def reject_reply(self, reply_id: int, who: str) -> None:
        """Drop a waiting draft; nothing is sent."""
        reply = self._pending_reply(reply_id)
        repo.update_reply(self.engine, reply_id, status=ReplyStatus.rejected, approved_by=who, approved_at=utcnow())
        message = repo.get_message(self.engine, reply.message_id)
        # A message the owner answered meanwhile (/reply) stays answered; only a waiting one is dropped.
        if message is not None and allows(message.status, Transition.ignore):
            repo.advance_message(self.engine, reply.message_id, Transition.ignore)

    async def reply_to(self, message_id: int, text: str, who: str) -> Reply:
        """The owner's own answer to any message (an escalation, say)."""
        if not text.strip():
            raise BotError("the reply is empty")
        if repo.get_message(self.engine, message_id) is None:
            raise BotError(f"there is no message {message_id}")
        reply = repo.add_reply(self.engine, message_id=message_id, text=text.strip())
        assert reply.id is not None
        return await self.sender.send(reply.id, from_status=ReplyStatus.pending, approved_by=who)

    def correct_label(self, message_id: int, task: str, label: str) -> None:
        """The owner's label for a message: kept for `bot train --with-corrections`, shown from now on."""
        if task not in LABEL_TASKS:
            raise UsageError(f"usage: /label MESSAGE_ID TASK LABEL, TASK one of {', '.join(LABEL_TASKS)}")
        message = repo.get_message(self.engine, message_id)
        if message is None:
            raise BotError(f"there is no message {message_id}")
        known = self.known_labels(task)
        if label not in known:
            raise BotError(
                f"{task} has no label {label!r}: one of {', '.join(known)} "
                "(a new label comes from training on a file that has it: bot train)"
            )
        repo.add_correction(self.engine, text=message.text, task=task, label=label, message_id=message_id)
        if task == "intent":
            repo.update_message(self.engine, message_id, intent=label, intent_confidence=1.0)
        elif task == "sentiment":
            repo.update_message(self.engine, message_id, sentiment=label, sentiment_confidence=1.0)

    @staticmethod
    def _who(ctx: CommandContext) -> str:
        return f"{ctx.incoming.platform}:{ctx.incoming.user_id}"
