"""The commit counter: it moves with every commit, from this process or another, and stands still on reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from storage import repo
from storage.commits import CommitCounter


def test_moves_with_every_commit_and_only_then(engine: Engine) -> None:
    counter = CommitCounter(engine)
    first = counter.version()
    assert first is not None and counter.version() == first
    repo.list_messages(engine)  # a read
    assert counter.version() == first
    contact = repo.get_or_create_contact(engine, "console", "ann", "Ann")  # a commit through the engine's pool
    second = counter.version()
    assert second != first
    assert contact.id is not None
    repo.set_opted_out(engine, contact.id)
    assert counter.version() not in (first, second)
    counter.close()


def test_sees_another_process_commit(engine: Engine) -> None:
    """`bot forget` runs in a process of its own: its erasure must move the counter of the running bot."""
    repo.get_or_create_contact(engine, "console", "ann", "Ann")
    counter = CommitCounter(engine)
    before = counter.version()
    database = engine.url.database
    code = f"import sqlite3; c = sqlite3.connect({database!r}); c.execute(\"UPDATE contact SET display_name = 'x'\"); c.commit()"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert counter.version() != before
    counter.close()


def test_a_rolled_back_write_does_not_move_it(engine: Engine) -> None:
    repo.get_or_create_contact(engine, "console", "ann", "Ann")
    counter = CommitCounter(engine)
    before = counter.version()
    with engine.connect() as connection:
        connection.execute(text("UPDATE contact SET display_name = 'x'"))
        connection.rollback()
    assert counter.version() == before
    counter.close()


def test_none_where_it_cannot_tell(tmp_path: Path) -> None:
    """Where its own connection might see another database, or not see the others' commits: no number at all."""
    for url in ("sqlite://", "sqlite:///file::memory:?cache=shared&uri=true", f"sqlite:///{tmp_path / 'other.db'}?mode=ro&uri=true"):
        assert CommitCounter(create_engine(url)).version() is None, url
    assert not (tmp_path / "other.db").exists()  # nothing was made by asking
