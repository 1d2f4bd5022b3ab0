"""A bot process reduced to its scheduler, publishing a database's posts to Facebook or Instagram
on a fake Graph server, then exiting.

`python -m fakes.graph_publish_child PLATFORM DB_URL GRAPH_URL`; the kill tests run it as a real
subprocess and kill it with SIGKILL between or during the two publishing steps.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from bot.publisher import Publisher
from bot.scheduler import PostScheduler
from connectors.facebook import FacebookConnector
from connectors.graph_connector import GraphConnector
from connectors.instagram import InstagramConnector
from core.config import FacebookSettings, InstagramSettings, ScheduleSettings
from fakes.graph_api import ENV, IG_ID, PAGE_ID, VERSION
from sqlmodel import Session, col, select
from storage.db import make_engine
from storage.models import Post, PostStatus


async def start(platform: str, db_url: str, graph_url: str, cwd: Path) -> asyncio.subprocess.Process:
    """This module as a child process (how the kill tests start it)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fakes.graph_publish_child", platform, db_url, graph_url,
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


def graph_connector(platform: str, graph_url: str) -> GraphConnector:
    if platform == "facebook":
        return FacebookConnector(FacebookSettings(base_url=graph_url, api_version=VERSION, page_id=PAGE_ID, receive="polling"), env=ENV)
    return InstagramConnector(
        InstagramSettings(base_url=graph_url, api_version=VERSION, account_id=IG_ID, container_poll_s=0.05, receive="polling"),
        env=ENV,
    )


async def main(platform: str, db_url: str, graph_url: str) -> None:
    engine = make_engine(db_url)
    connector = graph_connector(platform, graph_url)

    async def notify(_platform: str, text: str) -> None:
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
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
