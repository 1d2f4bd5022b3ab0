"""Whether anything was committed to the database lately: a number that moves with every commit, from any connection.

SQLite's `PRAGMA data_version`, read on a connection of its own that never writes, changes whenever
another connection (this process's pool, or another process such as `bot forget`) commits. A page
cached under this number can never be shown after a change to any row: an erased contact, an edited
draft, a corrected label, a renamed contact all move it. Reading it costs microseconds.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from sqlalchemy.engine import Engine


class CommitCounter:
    """`version()` is None where it cannot tell (not a SQLite file): then nothing may be cached by it."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        # Only a plain file path: an in-memory database, a URI ("file:...?mode=...") or a shared cache would
        # give a connection to something else, or one that does not see the others' commits, and so a
        # number that never moves.
        database = url.database or ""
        if url.get_backend_name() == "sqlite" and not url.query and os.path.isfile(database) and not database.startswith("file:"):
            # Autocommit (isolation_level=None): it never holds a read transaction open, which would hide commits.
            self._connection = sqlite3.connect(database, check_same_thread=False, isolation_level=None)

    def version(self) -> int | None:
        if self._connection is None:
            return None
        with self._lock:
            try:
                return int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:  # not worth a failed page: it is drawn anew instead
                return None

    def close(self) -> None:
        if self._connection is not None:
            with self._lock:
                self._connection.close()
                self._connection = None
