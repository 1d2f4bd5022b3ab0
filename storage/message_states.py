"""A follower message's states and the named transitions between them: the one place that says which moves are allowed."""

from __future__ import annotations

from enum import StrEnum

from core.errors import BotError


class MessageStatus(StrEnum):
    received = "received"  # stored, nothing else done yet
    understood = "understood"  # classified; the policy decides next
    replied = "replied"  # an answer went out
    pending = "pending"  # a drafted or failed reply waits for the owner
    escalated = "escalated"  # handed to the owner, not answered by the bot
    ignored = "ignored"  # spam, opted out, or the owner rejected the draft
    failed = "failed"  # handling raised; the owner was told


class Transition(StrEnum):
    understood = "understood"
    escalate = "escalate"
    await_owner = "await_owner"
    replied = "replied"
    ignore = "ignore"
    fail = "fail"


S = MessageStatus
EVERY_STATE = frozenset(MessageStatus)

# Transition -> (the states it may start from, the state it leads to).
# The owner may answer any message, at any time (/reply), so `replied` starts anywhere, and a send
# that fails (theirs or the bot's) puts the reply back in the owner's queue: `await_owner` too.
# The bot's own steps are strict: it understands a message once, and decides only on an understood one.
RULES: dict[Transition, tuple[frozenset[MessageStatus], MessageStatus]] = {
    Transition.understood: (frozenset({S.received}), S.understood),
    Transition.escalate: (frozenset({S.understood}), S.escalated),
    Transition.await_owner: (EVERY_STATE, S.pending),
    Transition.replied: (EVERY_STATE, S.replied),
    Transition.ignore: (frozenset({S.understood, S.pending}), S.ignored),
    Transition.fail: (frozenset({S.received, S.understood, S.pending, S.escalated}), S.failed),
}

# States the worker takes up (on start, too); every other state waits for the owner or is done.
UNFINISHED_MESSAGE_STATES = frozenset({S.received, S.understood})
FINAL_MESSAGE_STATES = EVERY_STATE - UNFINISHED_MESSAGE_STATES


class TransitionRefused(BotError):
    """A move the state machine does not allow (a bug, or a race with another step)."""

    def __init__(self, message_id: int | None, status: MessageStatus, transition: Transition) -> None:
        sources, _ = RULES[transition]
        allowed = ", ".join(sorted(sources))
        super().__init__(f"message {message_id} is {status}; '{transition}' is allowed only from {allowed}")
        self.status = status
        self.transition = transition


def allows(status: MessageStatus, transition: Transition) -> bool:
    return status in RULES[transition][0]
