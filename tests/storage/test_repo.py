from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from core.addressing import MessageKind, ReplyAddress, Visibility
from storage import repo
from storage.message_states import Transition
from storage.models import MessageStatus, PostStatus, ReplyStatus, utcnow


def test_contact_is_created_once_per_platform_user(engine) -> None:
    a = repo.get_or_create_contact(engine, "telegram", "7", "Ann")
    again = repo.get_or_create_contact(engine, "telegram", "7", "Ann")
    other_platform = repo.get_or_create_contact(engine, "slack", "7", "Ann")
    assert a.id == again.id
    assert other_platform.id != a.id


def test_message_round_trip_and_redelivery(engine) -> None:
    contact = repo.get_or_create_contact(engine, "telegram", "7")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first, created = repo.add_message(
        engine, platform="telegram", platform_message_id="100", contact_id=contact.id, text="hi 👋", chat_id="c1", received_at=when
    )
    assert created and first.status == MessageStatus.received
    again, created_again = repo.add_message(
        engine, platform="telegram", platform_message_id="100", contact_id=contact.id, text="hi 👋"
    )
    assert not created_again and again.id == first.id
    # The same platform id on another platform is another message.
    _, created_slack = repo.add_message(
        engine, platform="slack", platform_message_id="100", contact_id=contact.id, text="x"
    )
    assert created_slack
    stored = repo.find_message(engine, "telegram", "100")
    assert stored is not None and stored.text == "hi 👋" and stored.chat_id == "c1"
    assert stored.received_at.replace(tzinfo=timezone.utc) == when


def test_message_status_updates_and_queries(engine) -> None:
    contact = repo.get_or_create_contact(engine, "console", "bob")
    m, _ = repo.add_message(engine, platform="console", platform_message_id="1", contact_id=contact.id, text="a")
    repo.advance_message(engine, m.id, Transition.understood, intent="question", intent_confidence=0.9)
    repo.add_message(engine, platform="console", platform_message_id="2", contact_id=contact.id, text="b")
    understood = repo.list_messages(engine, status=MessageStatus.understood)
    assert [x.id for x in understood] == [m.id]
    assert understood[0].intent == "question"
    assert len(repo.list_messages(engine, contact_id=contact.id)) == 2


def test_replies_round_trip(engine) -> None:
    contact = repo.get_or_create_contact(engine, "console", "bob")
    m, _ = repo.add_message(engine, platform="console", platform_message_id="1", contact_id=contact.id, text="a")
    r = repo.add_reply(engine, message_id=m.id, text="hello")
    assert [x.id for x in repo.list_replies(engine, status=ReplyStatus.pending)] == [r.id]
    repo.update_reply(engine, r.id, status=ReplyStatus.sent, approved_by="owner")
    assert repo.list_replies(engine, status=ReplyStatus.pending) == []
    assert repo.list_replies(engine, message_id=m.id)[0].approved_by == "owner"


def test_posts_round_trip(engine) -> None:
    p = repo.add_post(engine, platform="telegram", text="Autumn sale!")
    assert p.status == PostStatus.draft
    at = datetime(2026, 12, 1, 18, 0, tzinfo=timezone.utc)
    repo.update_post(engine, p.id, status=PostStatus.scheduled, scheduled_at=at)
    scheduled = repo.list_posts(engine, status=PostStatus.scheduled, platform="telegram")
    assert len(scheduled) == 1 and scheduled[0].text == "Autumn sale!"


def test_sqlite_file_is_created_under_the_data_dir(settings, engine) -> None:
    assert (settings.data_dir / "bot.db").is_file()


def test_corrections_round_trip(engine) -> None:
    repo.add_correction(engine, text="where is my parcel", task="intent", label="support_request")
    repo.add_correction(engine, text="meh", task="sentiment", label="negative")
    intents = repo.list_corrections(engine, "intent")
    assert [(c.text, c.label) for c in intents] == [("where is my parcel", "support_request")]


def _new(platform_id: str, user: str = "7", text: str = "hi") -> repo.NewMessage:
    return repo.NewMessage(
        platform="telegram", platform_message_id=platform_id, user_id=user, user_name=f"u{user}",
        reply_to=ReplyAddress(MessageKind.private, Visibility.direct, user, platform_id.rpartition(":")[2]),
        text=text, received_at=utcnow(),
    )


def test_a_batch_and_its_cursor_are_stored_together_and_redeliveries_once(engine) -> None:
    first = repo.store_incoming(engine, [_new("7:1"), _new("8:1", user="8"), _new("7:1")], ("telegram:x", "12"))
    assert [created for _, created in first] == [True, True, False]
    assert first[0][0] == first[2][0]  # the same message twice in one batch is one row
    again = repo.store_incoming(engine, [_new("8:1", user="8"), _new("7:2")], ("telegram:x", "14"))
    assert [created for _, created in again] == [False, True] and again[0][0] == first[1][0]
    assert repo.get_cursor(engine, "telegram:x") == "14" and repo.get_cursor(engine, "other") is None
    assert len(repo.list_messages(engine)) == 3
    assert {c.platform_user_id for c in (repo.find_contact(engine, "telegram", u) for u in "78") if c} == {"7", "8"}


def test_a_batch_is_stored_in_its_order_with_one_contact_per_follower(engine) -> None:
    repo.store_incoming(engine, [_new("8:0", user="8")])  # a follower known before the batch
    batch = [_new(f"{user}:{n}", user=str(user)) for n in range(1, 40) for user in (7, 8, 9)]
    stored = repo.store_incoming(engine, batch)
    ids = [message_id for message_id, _ in stored]
    assert all(created for _, created in stored) and ids == sorted(ids) and len(set(ids)) == len(batch)
    by_id = {m.id: m for m in repo.list_messages(engine, limit=1000)}
    assert [by_id[i].platform_message_id for i in ids] == [m.platform_message_id for m in batch]
    contacts = {by_id[i].contact_id for i in ids}
    assert len(contacts) == 3 and repo.find_contact(engine, "telegram", "8").id in contacts  # type: ignore[union-attr]


def test_a_batch_that_fails_stores_nothing_not_even_its_cursor(engine) -> None:
    bad = _new("7:9")
    object.__setattr__(bad, "text", None)  # NOT NULL: the insert fails half-way through the batch
    with pytest.raises(IntegrityError):
        repo.store_incoming(engine, [_new("7:8"), bad], ("telegram:x", "99"))
    assert repo.list_messages(engine) == [] and repo.get_cursor(engine, "telegram:x") is None


def test_unfinished_messages_oldest_first_without_skipped(engine) -> None:
    ids = [message_id for message_id, _ in repo.store_incoming(engine, [_new(f"7:{n}") for n in range(4)])]
    repo.advance_message(engine, ids[1], Transition.replied)
    assert [m.id for m in repo.unfinished_messages(engine)] == [ids[0], ids[2], ids[3]]
    assert [m.id for m in repo.unfinished_messages(engine, limit=1, skip=[ids[0]])] == [ids[2]]
