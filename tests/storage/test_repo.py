from __future__ import annotations

from datetime import datetime, timezone

from storage import repo
from storage.models import MessageStatus, PostStatus, ReplyStatus


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
    repo.update_message(engine, m.id, status=MessageStatus.understood, intent="question", intent_confidence=0.9)
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
