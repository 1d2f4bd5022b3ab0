"""Sending to a platform politely: its send limits, Retry-After, bounded retries, clear failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.config import DeliverySettings
from core.errors import ConnectorError, RateLimited

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """What a platform error means for the send that raised it."""

    message: str  # the platform's own words, kept for the record
    retryable: bool = False  # 5xx and network errors: try again after a backoff
    retry_after: float | None = None  # 429: try again after exactly this many seconds


#: Maps an SDK exception to a Failure; None for exceptions that are not platform errors (bugs).
Classifier = Callable[[BaseException], Failure | None]

#: How long a poller waits after each failure in a row: doubling, up to the last.
POLL_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


async def poll_forever(
    platform: str,
    poll_round: Callable[[], Awaitable[bool]],
    rest: Callable[[], Awaitable[object]],
    classify: Classifier,
    polled: Callable[[str | None], None],
    doing: str = "polling",
) -> None:
    """Run a poller's rounds until cancelled. Each round stores what it found with its cursor in one
    transaction and says whether it caught up: then `rest` waits for the next, else the next round
    asks at once. A failed round stored nothing, so the same items come again: it waits (a 429's own
    time, else the backoff, doubling with each failure in a row). `polled` hears every round's
    outcome (the owner is told when a platform stays down); `doing` names a round in the log."""
    failures = 0
    while True:
        try:
            caught_up = await poll_round()
            failures = 0
            polled(None)
            if caught_up:
                await rest()
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = classify(exc)
            if failure is not None and failure.retry_after is not None:
                wait = failure.retry_after
            else:
                wait = POLL_BACKOFF_S[min(failures, len(POLL_BACKOFF_S) - 1)]
            what = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
            failures += 1
            polled(what)
            log.warning("%s %s failed (%s); trying again in %.1f s", platform, doing, what, wait)
        await asyncio.sleep(wait)


class RateLimiter:
    """At most `rate` calls a second per key, spaced evenly; callers wait for their turn."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next: dict[str, float] = {}

    async def wait(self, key: str) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._next) > 10_000:  # forget chats whose turn has long passed
            self._next = {k: t for k, t in self._next.items() if t > now}
        # Reserve a slot before sleeping, so concurrent senders queue up instead of colliding.
        at = max(now, self._next.get(key, now))
        self._next[key] = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class Delivery:
    """Runs one platform's sends through its limits and its retry rules."""

    def __init__(self, platform: str, settings: DeliverySettings, classify: Classifier) -> None:
        self.platform = platform
        self.settings = settings
        self.classify = classify
        self._overall = RateLimiter(settings.overall_per_s)
        self._per_chat = RateLimiter(settings.per_chat_per_s)

    async def send(self, chat: str, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Await call() for a send to `chat`; raises ConnectorError with the platform's message
        when it fails for good (a 4xx, or retries used up). `what` names the call in logs."""
        s = self.settings
        for attempt in range(1, s.send_attempts + 1):
            await self._per_chat.wait(chat)
            await self._overall.wait("")
            try:
                return await call()
            except Exception as exc:
                failure = self.classify(exc)
                if failure is None:
                    raise
                where = f"{self.platform} {what} to {chat}"
                if failure.retry_after is None and not failure.retryable:
                    log.warning("%s failed: %s", where, failure.message)
                    raise ConnectorError(f"{where} failed: {failure.message}") from exc
                if attempt == s.send_attempts:
                    log.warning("%s failed after %d attempts: %s", where, attempt, failure.message)
                    raise ConnectorError(f"{where} failed after {attempt} attempts: {failure.message}") from exc
                if failure.retry_after is not None:
                    if failure.retry_after > s.max_retry_after_s:
                        log.warning("%s rate limited for %.0fs; giving up", where, failure.retry_after)
                        raise RateLimited(
                            f"{where} rate limited for {failure.retry_after:.0f}s: {failure.message}",
                            failure.retry_after,
                        ) from exc
                    delay = failure.retry_after
                else:
                    delay = s.retry_backoff_s * 2 ** (attempt - 1)
                log.warning(
                    "%s: %s; attempt %d of %d, retrying in %.1fs",
                    where,
                    failure.message,
                    attempt,
                    s.send_attempts,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")
