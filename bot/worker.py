"""Works through the stored follower messages that are not final, oldest first, woken by new rows."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from bot.pipeline import FollowerPipeline
from storage import repo
from storage.message_states import FINAL_MESSAGE_STATES

log = logging.getLogger(__name__)

# Rows read per query; small, so a message stored meanwhile waits at most one batch to be seen.
BATCH = 50
# After a failure of the database itself (not of a message) the worker waits this long, then tries again.
RETRY_AFTER_S = 1.0


class MessageWorker:
    """One loop, so messages are processed one at a time in the order they were stored (and so in
    order per contact). It starts with whatever a previous run left unfinished."""

    def __init__(self, engine: Engine, pipeline: FollowerPipeline) -> None:
        self.engine = engine
        self.pipeline = pipeline
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._idle = False
        self._done_through = 0  # the id of the last message processed
        # Messages processed in this run that stayed unfinished: not taken again until a restart.
        self._stuck: set[int] = set()
        self.processed = 0

    def wake(self) -> None:
        """New rows were committed: look again (cheap; call it after every store)."""
        self._idle = False
        self._wake.set()

    async def run(self) -> None:
        """Process until cancelled."""
        while True:
            self._wake.clear()
            try:
                batch = repo.unfinished_messages(self.engine, limit=BATCH, skip=self._stuck)
            except Exception:
                log.exception("reading unfinished messages failed; trying again in %.0f s", RETRY_AFTER_S)
                await asyncio.sleep(RETRY_AFTER_S)
                continue
            if not batch:
                await self._note(idle=True)
                await self._wake.wait()
                continue
            for message in batch:
                assert message.id is not None
                try:
                    done = await self.pipeline.process(message.id)
                except Exception:
                    # process() records a message's own failure; this is the database failing under it.
                    log.exception("message %d could not be processed; trying again in %.0f s", message.id, RETRY_AFTER_S)
                    await asyncio.sleep(RETRY_AFTER_S)
                    break
                self.processed += 1
                if done.status not in FINAL_MESSAGE_STATES:
                    log.warning("message %d stayed %s; it is taken again on restart", message.id, done.status)
                    self._stuck.add(message.id)
                await self._note(done_through=message.id)

    async def _note(self, *, idle: bool = False, done_through: int | None = None) -> None:
        async with self._changed:
            if idle and not self._wake.is_set():
                self._idle = True
            if done_through is not None:
                self._done_through = max(self._done_through, done_through)
            self._changed.notify_all()

    async def caught_up(self, through_id: int) -> None:
        """Return once every message up to `through_id` was processed (or there is nothing left)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._idle or self._done_through >= through_id)

    async def drained(self) -> None:
        """Return once nothing is left to process."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._idle)
