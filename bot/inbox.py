"""The connectors' Inbox: commits what arrives (with a polled cursor) in one transaction, then wakes the worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from connectors.base import Cursor, IncomingMessage
from storage import repo

log = logging.getLogger(__name__)

# Followers may paste anything; we keep what a platform could plausibly send and no more.
MAX_MESSAGE_CHARS = 50_000
# A database busy for longer than SQLite's own busy timeout (10 s) is tried again this long before
# store() gives up; the connector then does not acknowledge, and the platform delivers again.
STORE_RETRY_FOR_S = 20.0


class StoreFirstInbox:
    """Follower messages become Message rows; the owner's go to `on_owner`, in order, once stored ones before them are."""

    def __init__(
        self,
        engine: Engine,
        is_owner: Callable[[IncomingMessage], bool],
        on_stored: Callable[[], None],
        on_owner: Callable[[IncomingMessage, int], None],
    ) -> None:
        self.engine = engine
        self.is_owner = is_owner
        self.on_stored = on_stored
        self.on_owner = on_owner
        self.last_id = 0  # the newest follower message stored: owner commands wait for it
        self.stored = 0  # rows created by this process
        self._lock = asyncio.Lock()  # one writer at a time from this process: no lock contention with ourselves

    async def store(self, messages: Sequence[IncomingMessage], cursor: Cursor | None = None) -> None:
        followers: list[repo.NewMessage] = []
        owners: list[IncomingMessage] = []
        for incoming in messages:
            if not incoming.text.strip():
                log.info("empty message %s/%s skipped", incoming.platform, incoming.message_id)
                continue
            if len(incoming.text) > MAX_MESSAGE_CHARS:
                log.warning("message %s/%s truncated from %d chars", incoming.platform, incoming.message_id, len(incoming.text))
                incoming = replace(incoming, text=incoming.text[:MAX_MESSAGE_CHARS])
            if self.is_owner(incoming):
                owners.append(incoming)
                continue
            followers.append(
                repo.NewMessage(
                    platform=incoming.platform,
                    platform_message_id=incoming.message_id,
                    user_id=incoming.user_id,
                    user_name=incoming.user_name,
                    reply_to=incoming.reply_to,
                    text=incoming.text,
                    received_at=incoming.received_at,
                )
            )
        if followers or cursor is not None:
            async with self._lock:
                results = await self._commit(followers, cursor)
            created = [message_id for message_id, new in results if new]
            for (message_id, new), row in zip(results, followers):
                if not new:
                    log.info("message %d redelivered by %s (%s); stored once", message_id, row.platform, row.platform_message_id)
            if results:
                self.last_id = max(self.last_id, *(message_id for message_id, _ in results))
            if created:
                self.stored += len(created)
                log.info("stored %d messages (%d..%d)", len(created), created[0], created[-1])
                self.on_stored()
        for incoming in owners:
            self.on_owner(incoming, self.last_id)

    async def _commit(self, rows: list[repo.NewMessage], cursor: Cursor | None) -> list[tuple[int, bool]]:
        pair = (cursor.name, cursor.value) if cursor is not None else None
        deadline = time.monotonic() + STORE_RETRY_FOR_S
        wait = 0.1
        while True:
            try:
                # In a thread: a busy database must not stall the event loop (pings, other connectors).
                return await asyncio.to_thread(repo.store_incoming, self.engine, rows, pair)
            except OperationalError as exc:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("storing %d messages failed (%s); trying again in %.1f s", len(rows), exc.orig, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)

    async def cursor(self, name: str) -> str | None:
        return await asyncio.to_thread(repo.get_cursor, self.engine, name)
