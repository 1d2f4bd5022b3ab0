"""Telling the owner from background work (publishing, the schedule): a notice that cannot be sent is logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Notify = Callable[[str, str], Awaitable[None]]  # (platform, text) to the owner


class OwnerNotices:
    """Background work must go on when the owner's chat is unreachable; the log keeps the notice."""

    def __init__(self, send: Notify) -> None:
        self._send = send

    async def tell(self, platform: str, text: str) -> None:
        try:
            await self._send(platform, text)
        except Exception:
            log.exception("could not tell the owner: %s", text)
