from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import pytest

from core.errors import BotError
from storage.db import MIGRATIONS, make_engine


@contextmanager
def _database_at(url: str, revision: str) -> Iterator[Connection]:
    """A database migrated only up to `revision`, with one contact, open for the test's old rows."""
    old = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.execute(text("INSERT INTO contact (id, platform, platform_user_id, display_name, opted_out, created_at) "
                                "VALUES (1, 'x', 'u', '', 0, '2026-12-01 00:00:00')"))
        yield connection
    old.dispose()


def test_migrations_build_exactly_the_models(tmp_path) -> None:
    """A schema change without a migration fails here: write one with `alembic revision --autogenerate`."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, SQLModel.metadata) if "apscheduler" not in str(d)]
    engine.dispose()
    assert differences == []


def test_migrating_twice_changes_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    make_engine(url).dispose()
    engine = make_engine(url)
    assert {"contact", "message", "reply", "post", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_database_without_migration_history_is_refused_clearly(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    SQLModel.metadata.create_all(old)
    old.dispose()
    with pytest.raises(BotError, match="without migrations"):
        make_engine(url)


def test_stored_messages_get_their_reply_address_and_status_reason_from_the_old_columns(tmp_path) -> None:
    """Rows from before the address columns: Telegram's and Slack's packed ids become typed addresses."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with _database_at(url, "3b9c2f6a1d04") as connection:  # the last revision before them
        for n, (platform, platform_id, chat, error) in enumerate([
            ("telegram", "777:5", "777", None),
            ("telegram", "-100555:9", "-100555", "complaint"),
            ("slack", "D0DM0001:1.5", "D0DM0001", None),
            ("slack", "C0GENERAL:2.5:1.0", "C0GENERAL", None),
            ("slack", "C0GENERAL:3.5", "C0GENERAL", None),
            ("console", "console-ab-1", "follower:ann", "asked to stop"),
        ]):
            connection.execute(
                text("INSERT INTO message (id, platform, platform_message_id, chat_id, contact_id, text, received_at, status, error) "
                     "VALUES (:id, :platform, :pid, :chat, 1, 'hi', '2026-12-01 00:00:00', 'pending', :error)"),
                {"id": n + 1, "platform": platform, "pid": platform_id, "chat": chat, "error": error},
            )
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT kind, visibility, chat_id, reply_to_id, thread_id, status_reason FROM message ORDER BY id"
        )).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("private", "direct", "777", "5", "", None),
        ("mention", "group", "-100555", "9", "", "complaint"),
        ("private", "direct", "D0DM0001", "1.5", "", None),
        ("comment", "group", "C0GENERAL", "2.5", "1.0", None),
        ("mention", "group", "C0GENERAL", "3.5", "", None),
        ("private", "direct", "follower:ann", "console-ab-1", "", "asked to stop"),
    ]


def test_messages_escalated_before_the_column_keep_their_escalation(tmp_path) -> None:
    """Rows still marked escalated when escalated_at arrives get it from their received time; others stay None."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with _database_at(url, "d5b8e1f4a7c2") as connection:  # the last revision before escalated_at
        for n, status in enumerate(["escalated", "replied"]):
            connection.execute(
                text("INSERT INTO message (id, platform, platform_message_id, contact_id, kind, visibility, chat_id, "
                     "reply_to_id, thread_id, text, received_at, status) VALUES (:id, 'x', :pid, 1, 'private', 'direct', "
                     "'c', 'r', '', 'hi', '2026-12-01 00:00:00.000000', :status)"),
                {"id": n + 1, "pid": str(n), "status": status},
            )
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT escalated_at FROM message ORDER BY id")).all()
    engine.dispose()
    assert [row[0] for row in rows] == ["2026-12-01 00:00:00.000000", None]
