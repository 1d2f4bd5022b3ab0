"""What every fake platform server shares: an aiohttp server on 127.0.0.1, recorded calls, scripted failures."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.local_server import LocalServer


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class ScriptedFailure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Subclasses add routes in `routes()`; tests read `calls` and script failures with `fail_next`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: dict[str, list[ScriptedFailure]] = {}
        self.holds: dict[str, tuple[int, float]] = {}
        self._changed = asyncio.Condition()
        self._server: LocalServer | None = None
        self.port = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        """Serve on `port` (0: any free one); a test may name the port a connector was pointed at before."""
        app = web.Application()
        self.routes(app)
        self._server = LocalServer(app, "127.0.0.1", port)
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    @staticmethod
    def free_port() -> int:
        """A port nothing listens on now: a platform that is down, until a fake starts on it."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(
        self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None, times: int = 1
    ) -> None:
        self.failures.setdefault(method, []).extend([ScriptedFailure(status, body, headers or {})] * times)

    def hold_call(self, method: str, nth: int, seconds: float) -> None:
        """Answer the nth call of `method` (counted from 1) only after `seconds`: the call is
        recorded, as the platform has it, while the caller still waits (a kill lands mid-call)."""
        self.holds[method] = (nth, seconds)

    async def record(self, method: str, params: dict[str, Any]) -> ScriptedFailure | None:
        """Note a call; returns the scripted failure to answer it with, if any."""
        async with self._changed:
            self.calls.append(Call(method, params))
            self._changed.notify_all()
        hold = self.holds.get(method)
        if hold is not None and len(self.calls_to(method)) == hold[0]:
            await asyncio.sleep(hold[1])
        queue = self.failures.get(method)
        return queue.pop(0) if queue else None

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        """Wait until `method` was called at least `count` times; returns those calls."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.calls_to(method)) >= count), timeout)
        return self.calls_to(method)
