"""The local HTTP server through which a platform pushes to us (Telegram webhooks, Slack's HTTP mode)."""

from __future__ import annotations

from aiohttp import web


class LocalServer:
    """Serves one aiohttp application on host:port until stopped; port 0 picks a free port."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self.host = host
        self._port = port

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self._port).start()

    @property
    def port(self) -> int:
        """The port it listens on: the real one when it was asked for 0."""
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
