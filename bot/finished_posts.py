"""Writes finished publishes onto their post rows in groups: one transaction for all that finished meanwhile."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine

from storage import repo


class FinishedPosts:
    """Under load posts finish faster than one commit each allows (bench/scheduler.py: 167 due per
    second on 2 cores), so a finished publish joins a queue, and one writer, in a thread so that
    the event loop keeps serving the publishes in flight, commits everything queued meanwhile.
    `write` returns only once its own row is committed: a publish holds its slot until then, so a
    crash still leaves at most the posts in flight unfinished (then found in `publishing`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[tuple[repo.Published, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, published: repo.Published) -> None:
        """Return once the row says published; raises what the database raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((published, done))
        if self._writer is None or self._writer.done():  # the writer stops whenever the queue is empty
            self._writer = loop.create_task(self._write_queued(), name="finished-posts-writer")
        await done

    async def _write_queued(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                await asyncio.to_thread(repo.mark_published, self.engine, [published for published, _ in group])
            except BaseException as exc:
                failure = exc if isinstance(exc, Exception) else RuntimeError("stopped before the rows were written")
                for _, done in group:
                    if not done.done():
                        done.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
