"""A bot process reduced to its scheduler: publishes a database's posts to a FakePlatform, then exits.

`python -m fakes.scheduler_child DB_URL PLATFORM_URL IDEMPOTENT(0|1) [bluesky]`; the kill test and
bench/scheduler.py run it as a real subprocess and kill it with SIGKILL. With `bluesky`, it
publishes through the real Bluesky connector to a FakeBluesky at PLATFORM_URL instead.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from connectors.base import Connector, Cursor, IncomingMessage
from connectors.bluesky import BlueskyConnector
from core.config import BlueskySettings, ScheduleSettings
from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.models import Post, PostStatus
from fakes.bluesky_api import HANDLE, PASSWORD
from fakes.social_platform import FakePlatformConnector


def _pending(engine: Engine) -> bool:
    with Session(engine) as session:
        query = select(Post.id).where(col(Post.status).in_([PostStatus.scheduled, PostStatus.publishing]))
        return session.exec(query.limit(1)).first() is not None


class _Cursors:
    """An inbox for a connector that is here only to publish: it keeps cursors, stores nothing."""

    def __init__(self) -> None:
        self._cursors: dict[str, str] = {}

    async def store(self, messages: Sequence[IncomingMessage], cursor: Cursor | None = None) -> None:
        if cursor is not None:
            self._cursors[cursor.name] = cursor.value

    async def cursor(self, name: str) -> str | None:
        return self._cursors.get(name)


async def main(db_url: str, platform_url: str, idempotent: bool, platform: str) -> None:
    engine = make_engine(db_url)
    connector: Connector
    if platform == "bluesky":
        settings = BlueskySettings(base_url=platform_url, poll_interval_s=3600, overall_per_s=1000, retry_backoff_s=0.05)
        connector = BlueskyConnector(settings, env={settings.handle_env: HANDLE, settings.app_password_env: PASSWORD})
        await connector.start(_Cursors())
    else:
        connector = FakePlatformConnector(platform_url, idempotent=idempotent)

    async def notify(platform: str, text: str) -> None:
        if isinstance(connector, FakePlatformConnector):
            await connector.send_text("owner", text)
        else:
            print(f"told the owner: {text}", flush=True)  # Bluesky has no private messages

    settings = ScheduleSettings(grace_minutes=60)
    scheduler = PostScheduler(engine, Publisher(engine, {connector.platform: connector}, settings, notify), settings, notify)
    await scheduler.start()
    print("started", flush=True)
    while _pending(engine):
        await asyncio.sleep(0.2)
    await scheduler.stop()
    await connector.stop()
    engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] if len(sys.argv) > 4 else "fakesocial"))
