"""The fake platform servers, started for one test and stopped after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.graph_api import FakeGraph
from fakes.slack_api import FakeSlack
from fakes.telegram_api import FakeTelegram


@pytest.fixture
async def telegram_fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack_fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def graph_fake() -> AsyncIterator[FakeGraph]:
    server = FakeGraph()
    await server.start()
    yield server
    await server.stop()
