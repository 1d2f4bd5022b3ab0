"""Every enabled connector kept running apart from the others: one that cannot start is retried with
a capped backoff, one that stops polling is reported, and the owner is told once each time, not per try."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from connectors.base import Connector, Inbox
from core.config import ConnectorsSettings
from core.errors import SettingRejected

log = logging.getLogger(__name__)

Tell = Callable[[str], Awaitable[None]]  # a notice to the owner, wherever the owner is told


class Connections:
    """Starts the connectors, and keeps `live` (the connectors up now) true for those that send.

    A connector whose settings the platform refused (SettingRejected: a wrong token, a missing
    scope) is stopped for good with one line naming the setting. Any other start failure (network
    down, the platform's 5xx) is tried again after retry_first_s, doubling up to retry_max_s. While
    one runs, its own poller retries failed polls; after down_after_failures in a row the owner is
    told it is down, and told again once it works."""

    def __init__(
        self,
        connectors: Mapping[str, Connector],
        settings: ConnectorsSettings,
        tell: Tell,
        started: Callable[[Connector], None] = lambda connector: None,
    ) -> None:
        self.connectors = dict(connectors)
        self.settings = settings
        self._tell = tell
        self._started = started  # each time a connector is up
        self.live: dict[str, Connector] = {}  # read by the publisher and the reply sender
        self.refused: dict[str, str] = {}  # platform -> why it was stopped for good
        self._poll_failures: dict[str, int] = {}
        self._retrying: set[asyncio.Task[None]] = set()
        self._notices: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()  # a connector came up: watch it too
        self._stopped = asyncio.Event()

    async def start(self, inbox: Inbox) -> None:
        """Try each connector once, all at once; those that failed for a passing reason go on being
        tried in the background. Raises the first refusal when no connector is left to run."""
        first = await asyncio.gather(*(self._start(c, inbox) for c in self.connectors.values()))
        for connector, error in zip(self.connectors.values(), first):
            if error is not None:
                await self._tell(f"{connector.platform} could not start: {error}; trying again in the background")
                task = asyncio.create_task(self._retry(connector, inbox), name=f"{connector.platform}-retry")
                self._retrying.add(task)
                task.add_done_callback(self._retrying.discard)
        for platform, why in self.refused.items():
            await self._tell(f"{platform} is stopped: {why}")
        if not self.live and not self._retrying:
            raise SettingRejected(next(iter(self.refused.values())))

    async def _start(self, connector: Connector, inbox: Inbox, *, again: bool = False) -> str | None:
        """Start once: None when it runs (or was refused for good), else why it failed this time
        (a warning the first time; the tries after it, already reported, at INFO)."""
        platform = connector.platform
        connector.on_poll = self._polled
        try:
            await connector.start(inbox)
        except SettingRejected as exc:
            log.error("%s stopped: %s", platform, exc)
            self.refused[platform] = str(exc)
            await self._release(connector)
            return None
        except Exception as exc:  # network down, a 5xx, a platform that does not answer as expected
            log.log(logging.INFO if again else logging.WARNING, "%s could not start: %s", platform, exc)
            await self._release(connector)
            return str(exc) or type(exc).__name__
        self.live[platform] = connector
        self._started(connector)
        self._changed.set()
        return None

    async def _retry(self, connector: Connector, inbox: Inbox) -> None:
        attempt = 0
        while True:
            wait = min(self.settings.retry_max_s, self.settings.retry_first_s * 2**attempt)
            attempt += 1
            log.info("%s: trying to start again in %.0f s", connector.platform, wait)
            await asyncio.sleep(wait)
            error = await self._start(connector, inbox, again=True)
            if connector.platform in self.live:
                log.info("%s started after %d more tries", connector.platform, attempt)
                await self._tell(f"{connector.platform} is connected now")
                return
            if error is None:  # refused for good
                await self._tell(f"{connector.platform} is stopped: {self.refused[connector.platform]}")
                return

    @staticmethod
    async def _release(connector: Connector) -> None:
        try:
            await connector.stop()
        except Exception:
            log.exception("releasing %s after its failed start failed", connector.platform)

    def _polled(self, platform: str, failure: str | None) -> None:
        """A connector's poller reports each poll: None when it worked, else what went wrong."""
        before = self._poll_failures.get(platform, 0)
        if failure is None:
            self._poll_failures[platform] = 0
            if before >= self.settings.down_after_failures:
                self._later(f"{platform} works again")
            return
        self._poll_failures[platform] = before + 1
        if before + 1 == self.settings.down_after_failures:
            self._later(f"{platform} is down ({failure}); it keeps trying")

    def _later(self, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._tell(text))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def wait_closed(self) -> None:
        """Return when a live connector closed (Ctrl-D on the console, its stop()), or at stop().

        A connector that stopped itself with a `failure` (a token revoked while running) leaves
        `live` and the owner is told why; the others go on, and the bot stops only when none is left."""
        while not self._stopped.is_set():
            self._changed.clear()
            live = list(self.live.values())
            waits = [asyncio.create_task(c.wait_closed()) for c in live]
            changed = asyncio.create_task(self._changed.wait())
            try:
                done, _ = await asyncio.wait([*waits, changed], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in [*waits, changed]:
                    task.cancel()
            if changed in done:
                continue
            closed = [c for c, task in zip(live, waits) if task in done]
            if any(c.failure is None for c in closed):
                return
            for connector in closed:
                assert connector.failure is not None
                del self.live[connector.platform]
                self.refused[connector.platform] = connector.failure
                self._later(f"{connector.platform} is stopped: {connector.failure}")
            if not self.live and not self._retrying:
                return

    async def stop(self) -> None:
        self._stopped.set()
        self._changed.set()
        for task in list(self._retrying):
            task.cancel()
        await asyncio.gather(*self._retrying, return_exceptions=True)
        for connector in self.connectors.values():
            await connector.stop()
        self.live.clear()
