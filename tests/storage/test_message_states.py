"""The message state machine: named transitions move a stored message only from the states they allow."""

from __future__ import annotations

import itertools

import pytest

from storage import repo
from storage.message_states import (
    FINAL_MESSAGE_STATES,
    RULES,
    MessageStatus,
    Transition,
    TransitionRefused,
    UNFINISHED_MESSAGE_STATES,
    allows,
)

S = MessageStatus
T = Transition


def stored(engine, n: int = 1) -> int:  # type: ignore[no-untyped-def]
    contact = repo.get_or_create_contact(engine, "console", "ann")
    message, _ = repo.add_message(engine, platform="console", platform_message_id=str(n), contact_id=contact.id, text="hi")
    assert message.id is not None
    return message.id


def test_the_bots_own_path_received_understood_then_one_outcome(engine) -> None:
    for n, outcome, reached in [
        (1, T.escalate, S.escalated),
        (2, T.await_owner, S.pending),
        (3, T.replied, S.replied),
        (4, T.ignore, S.ignored),
        (5, T.fail, S.failed),
    ]:
        message_id = stored(engine, n)
        understood = repo.advance_message(engine, message_id, T.understood, intent="question")
        assert understood.status == S.understood and understood.intent == "question"
        done = repo.advance_message(engine, message_id, outcome, status_reason="why")
        assert done.status == reached and done.status_reason == "why"


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (S.received, T.escalate),  # never decided on before it is understood
        (S.received, T.ignore),
        (S.understood, T.understood),  # understood once
        (S.replied, T.understood),
        (S.replied, T.escalate),
        (S.replied, T.ignore),  # an answered message stays answered
        (S.replied, T.fail),
        (S.ignored, T.escalate),
        (S.failed, T.fail),
    ],
)
def test_a_transition_that_is_not_allowed_is_refused_and_changes_nothing(engine, status, transition) -> None:
    message_id = stored(engine)
    path = {S.received: [], S.understood: [T.understood], S.replied: [T.replied],
            S.ignored: [T.understood, T.ignore], S.failed: [T.fail]}[status]
    for step in path:
        repo.advance_message(engine, message_id, step)
    with pytest.raises(TransitionRefused, match=f"message {message_id} is {status}; '{transition}' is allowed only from"):
        repo.advance_message(engine, message_id, transition, status_reason="nope")
    after = repo.get_message(engine, message_id)
    assert after is not None and after.status == status and after.status_reason is None


def test_the_owner_may_answer_or_queue_a_message_in_any_state() -> None:
    for status in MessageStatus:
        assert allows(status, T.replied) and allows(status, T.await_owner)
    assert RULES[T.replied][1] == S.replied and RULES[T.await_owner][1] == S.pending


def test_every_state_is_reachable_and_the_table_matches_allows() -> None:
    reachable = {S.received} | {to for _, to in RULES.values()}
    assert reachable == set(MessageStatus)
    for status, transition in itertools.product(MessageStatus, Transition):
        assert allows(status, transition) == (status in RULES[transition][0])
    assert UNFINISHED_MESSAGE_STATES | FINAL_MESSAGE_STATES == set(MessageStatus)
    assert not UNFINISHED_MESSAGE_STATES & FINAL_MESSAGE_STATES


def test_status_changes_only_through_a_transition(engine) -> None:
    message_id = stored(engine)
    with pytest.raises(ValueError, match="advance_message"):
        repo.update_message(engine, message_id, status=S.replied)
