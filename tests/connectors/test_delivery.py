"""The shared send rules: spacing per chat and overall, Retry-After, bounded retries, clear failures."""

from __future__ import annotations

import asyncio

import pytest

from core.config import DeliverySettings
from core.errors import ConnectorError, RateLimited
from connectors.delivery import Delivery, Failure, RateLimiter


class PlatformError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def classify(exc: BaseException) -> Failure | None:
    return exc.failure if isinstance(exc, PlatformError) else None


def scripted(*outcomes: Failure | str) -> tuple[list[float], object]:
    """A send that fails with each Failure in turn and returns the first string; records call times."""
    times: list[float] = []
    queue = list(outcomes)

    async def send() -> str:
        times.append(asyncio.get_running_loop().time())
        outcome = queue.pop(0)
        if isinstance(outcome, Failure):
            raise PlatformError(outcome)
        return outcome

    return times, send


def delivery(**overrides: float) -> Delivery:
    fast = {"retry_backoff_s": 0.01, "overall_per_s": 1000.0, "per_chat_per_s": 1000.0}
    settings = DeliverySettings.model_validate({**fast, **overrides})
    return Delivery("test", settings, classify)


async def test_rate_limiter_spaces_calls_per_key() -> None:
    limiter = RateLimiter(20.0)  # one call every 0.05 s per key
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(4):
        await limiter.wait("chat-a")
    await limiter.wait("chat-b")  # another key does not wait for chat-a's turn
    assert loop.time() - start >= 3 * 0.05 * 0.95


async def test_per_chat_limit_applies_to_sends() -> None:
    d = delivery(per_chat_per_s=10.0)
    times, send = scripted("a", "b", "c")
    for _ in range(3):
        await d.send("chat", "message", send)  # type: ignore[arg-type]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= 0.1 * 0.95 for gap in gaps)


async def test_overall_limit_applies_across_chats() -> None:
    d = delivery(overall_per_s=10.0)
    times, send = scripted("a", "b", "c")
    for chat in ("one", "two", "three"):
        await d.send(chat, "message", send)  # type: ignore[arg-type]
    assert times[2] - times[0] >= 0.2 * 0.95


async def test_retry_after_is_waited_then_the_send_succeeds() -> None:
    times, send = scripted(Failure("slow down", retry_after=0.3), "ok")
    assert await delivery().send("chat", "message", send) == "ok"  # type: ignore[arg-type]
    assert times[1] - times[0] >= 0.3 * 0.95


async def test_server_errors_are_retried_a_bounded_number_of_times() -> None:
    boom = Failure("Internal Server Error", retryable=True)
    times, send = scripted(boom, boom, boom, "never reached")
    with pytest.raises(ConnectorError, match="failed after 3 attempts: Internal Server Error"):
        await delivery().send("chat", "reply", send)  # type: ignore[arg-type]
    assert len(times) == 3


async def test_client_errors_fail_at_once_with_the_platform_message() -> None:
    times, send = scripted(Failure("Bad Request: chat not found"), "never reached")
    with pytest.raises(ConnectorError, match="test reply to chat failed: Bad Request: chat not found"):
        await delivery().send("chat", "reply", send)  # type: ignore[arg-type]
    assert len(times) == 1


async def test_a_retry_after_longer_than_allowed_gives_up() -> None:
    times, send = scripted(Failure("flood wait", retry_after=3600), "never reached")
    with pytest.raises(RateLimited) as info:
        await delivery(max_retry_after_s=60).send("chat", "post", send)  # type: ignore[arg-type]
    assert info.value.retry_after == 3600 and len(times) == 1


async def test_exceptions_that_are_not_platform_errors_pass_through() -> None:
    async def broken() -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await delivery().send("chat", "message", broken)
