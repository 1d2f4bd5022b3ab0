"""The dashboard's HTTP server: uvicorn inside the bot's process, on `[web] listen`/`port`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from bot.web.passwords import PasswordStore
from core.config import Settings
from core.errors import ConfigError

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may reach other machines


def check_listen(settings: Settings) -> None:
    """Refuse to serve anything but loopback without a password: the dashboard would be open to
    whoever reaches the address. Raised before any model loads, as one line."""
    web = settings.web
    if web.enabled and not is_loopback(web.listen) and not PasswordStore(settings.data_dir).is_set():
        raise ConfigError(
            f"[web] listen = {web.listen!r} is reachable from other machines and no dashboard password is set: "
            "run `bot web set-password` first (or listen on 127.0.0.1)"
        )


class _InProcessServer(uvicorn.Server):
    """uvicorn without its signal handlers: the bot's own (bot/cli_run.py) stop everything."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn releases
        pass


class WebServer:
    """Serves an ASGI app until stopped. A port in use is one clear line in the log, not a stop."""

    def __init__(self, app: ASGIApp, host: str, port: int, name: str = "dashboard") -> None:
        self.host = host
        self.port = port
        self.name = name  # what it serves, for the log
        self._config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", proxy_headers=True, server_header=False
        )
        self._server = _InProcessServer(self._config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> bool:
        """Listen and serve in the background; False (and one line in the log) when the address is taken."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections of
        # a socket that says it is TCP. With it on, a small answer's body waited for the browser's delayed
        # ACK of its headers: 40 ms more for every page but the first on a kept-alive connection.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            why = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            log.error(
                "%s not started: %s:%d %s; set another [web] port in config.toml. The bot runs on without it, on chat.",
                self.name, self.host, self.port, why,
            )
            return False
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web-server")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        log.info("%s on %s", self.name, self.url)
        return True

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5)
        except TimeoutError:  # a client that holds its connection open: close it anyway
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
