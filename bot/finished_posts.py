"""Writes finished publishes onto their post rows in groups: one transaction for all that finished meanwhile."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine

from storage import repo

log = logging.getLogger(__name__)

# After a failed write (a locked or lost database) the rows are tried again this much later.
RETRY_AFTER_S = 1.0


class FinishedPosts:
    """Under load posts finish faster than one commit each allows (bench/scheduler.py: 167 due per
    second on 2 cores), so a finished publish joins a queue, and one writer, in a thread so that
    the event loop keeps serving the publishes in flight, commits everything queued meanwhile.

    `write(..., wait=True)` returns once its own row is committed, so a publish holds its slot
    until then and a crash leaves at most the posts in flight unfinished. A platform that
    deduplicates by key needs no such wait (`wait=False`): a row a crash left in `publishing` is
    sent again with the same key and the platform answers with the post it already has."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[tuple[repo.Published, asyncio.Future[None] | None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, published: repo.Published, *, wait: bool = True) -> None:
        """Queue the row; with `wait`, return once it says published (raises what the database raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] | None = loop.create_future() if wait else None
        self._queue.append((published, done))
        if self._writer is None or self._writer.done():  # the writer stops whenever the queue is empty
            self._writer = loop.create_task(self._write_queued(), name="finished-posts-writer")
        if done is not None:
            await done

    async def flush(self) -> None:
        """Return once every queued row is written (at stop)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write_queued(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                await asyncio.to_thread(repo.mark_published, self.engine, [published for published, _ in group])
            except Exception as exc:
                unwaited = [(published, done) for published, done in group if done is None]
                for _, done in group:
                    if done is not None and not done.done():
                        done.set_exception(exc)
                if unwaited:  # nobody waits to be told: keep them, and try again
                    log.exception("writing %d published posts failed; trying again in %.0f s", len(unwaited), RETRY_AFTER_S)
                    self._queue[:0] = unwaited
                    await asyncio.sleep(RETRY_AFTER_S)
            except BaseException:
                for _, done in group:
                    if done is not None and not done.done():
                        done.set_exception(RuntimeError("stopped before the rows were written"))
                raise
            else:
                for _, done in group:
                    if done is not None and not done.done():
                        done.set_result(None)
