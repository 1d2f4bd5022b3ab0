from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import pytest

from core.errors import BotError
from storage.db import make_engine


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
