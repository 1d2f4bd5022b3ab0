"""A bot process reduced to its scheduler, publishing a database's posts to Instagram on a fake
Graph server, then exiting.

`python -m fakes.instagram_publish_child DB_URL GRAPH_URL`; the kill test runs it as a real
subprocess and kills it with SIGKILL between Instagram's two publishing steps.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from connectors.instagram import InstagramConnector
from core.config import InstagramSettings, ScheduleSettings
from fakes.graph_api import ENV, IG_ID, VERSION
from sqlmodel import Session, col, select
from storage.db import make_engine
from storage.models import Post, PostStatus


async def main(db_url: str, graph_url: str) -> None:
    engine = make_engine(db_url)
    connector = InstagramConnector(
        InstagramSettings(base_url=graph_url, api_version=VERSION, account_id=IG_ID, container_poll_s=0.05, receive="polling"),
        env=ENV,
    )

    async def notify(platform: str, text: str) -> None:
        print(f"owner: {text}", flush=True)

    settings = ScheduleSettings(grace_minutes=60, retry_backoff_s=0.1)
    scheduler = PostScheduler(engine, Publisher(engine, {connector.platform: connector}, settings, notify), settings, notify)
    await scheduler.start()
    while True:
        with Session(engine) as session:
            query = select(Post.id).where(col(Post.status).in_([PostStatus.scheduled, PostStatus.publishing]))
            if session.exec(query.limit(1)).first() is None:
                break
        await asyncio.sleep(0.1)
    await scheduler.stop()
    await connector.stop()
    engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
