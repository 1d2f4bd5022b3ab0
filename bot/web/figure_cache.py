"""Figures, charts and pieces of pages computed once per request and state of the data, shared by every request that asks.

Keyed by what was asked and a version of the data: `storage.insights.data_version` (which changes
when a figure may) or, for what shows rows that any write may change (the inbox), the database's
commit counter (`storage.commits`, which changes with every commit). So nothing stale is shown; a
handful of owners' tabs asking at once compute a thing once (one computation per key at a time, in
a worker thread so the server keeps answering).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from storage.commits import CommitCounter


class FigureCache:
    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._values:
                value = self._values[key]
            else:
                value = self._values[key] = await run_in_threadpool(compute)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        self._locks.pop(key, None)
        return value


def figure_cache(request: Request) -> FigureCache:
    """The app's one cache of figures (one per app: each test's app starts empty)."""
    state = request.app.state
    if not hasattr(state, "figure_cache"):
        state.figure_cache = FigureCache()
    cache: FigureCache = state.figure_cache
    return cache


def _commit_cache(request: Request) -> FigureCache:
    """Apart from the figures: with every commit a new version, what is kept by it is soon old, and its
    turnover must not push out a year's figures (seconds to compute)."""
    state = request.app.state
    if not hasattr(state, "commit_cache"):
        state.commit_cache = FigureCache(size=32)
    cache: FigureCache = state.commit_cache
    return cache


def commits(request: Request) -> CommitCounter:
    """The app's one commit counter (a connection of its own to the database, opened with the app)."""
    counter: CommitCounter = request.app.state.commits
    return counter


async def as_of_last_commit(request: Request, key: Hashable, compute: Callable[[], Any]) -> Any:
    """`compute()` once per key and commit to the database; computed every time where commits cannot be
    counted (not a SQLite file). The version is read before `compute` reads anything: a commit in
    between can only make the stored value newer than its key, never older."""
    version = commits(request).version()
    if version is None:
        return await run_in_threadpool(compute)
    return await _commit_cache(request).get((key, version), compute)
