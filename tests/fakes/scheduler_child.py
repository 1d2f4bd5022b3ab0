"""A bot process reduced to its scheduler: publishes a database's posts to a FakePlatform, then exits.

`python -m fakes.scheduler_child DB_URL PLATFORM_URL IDEMPOTENT(0|1)`; the kill test and
bench/scheduler.py run it as a real subprocess and kill it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from core.config import ScheduleSettings
from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.models import Post, PostStatus
from fakes.social_platform import FakePlatformConnector


def _pending(engine: Engine) -> bool:
    with Session(engine) as session:
        query = select(Post.id).where(col(Post.status).in_([PostStatus.scheduled, PostStatus.publishing]))
        return session.exec(query.limit(1)).first() is not None


async def main(db_url: str, platform_url: str, idempotent: bool) -> None:
    engine = make_engine(db_url)
    connector = FakePlatformConnector(platform_url, idempotent=idempotent)

    async def notify(platform: str, text: str) -> None:
        await connector.send_text("owner", text)

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
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "1"))
