"""Serving a connector's webhook routes under uvicorn on 127.0.0.1, as the bot's HTTP server will."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette


@asynccontextmanager
async def serving(routes: Sequence[Any]) -> AsyncIterator[str]:
    """The routes served on a free port until the block ends; yields the server's base URL."""
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=list(routes)), host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
