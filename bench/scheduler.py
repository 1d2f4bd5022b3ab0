"""Benchmark: many posts due in a short window, a SIGKILL and restart in the middle; lateness and exactly-once.

The publisher runs as a real subprocess (tests/scheduler_child.py: the bot's scheduler, publisher
and SQLite database) posting over HTTP to a fake platform in this process, which stamps each post
as it arrives and deduplicates by Idempotency-Key like Mastodon's API. Halfway through the window
the child is killed with SIGKILL and started again. Lateness = arrival - scheduled time.
Throughput (posts_per_s) is the yardstick: when posts come due faster than it, lateness is backlog.
Run: .venv/bin/python bench/scheduler.py [--posts 10000] [--window-s 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import ScheduleSettings  # noqa: E402
from bot.publisher import Publisher  # noqa: E402
from bot.scheduler import PostScheduler  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import Post, PostStatus  # noqa: E402
from tests.fake_platform import FakePlatform  # noqa: E402


async def create_jobs(db_url: str, posts: int, start: datetime, window_s: float) -> None:
    """All posts as rows in one transaction, then their jobs, written by the scheduler itself."""
    engine = make_engine(db_url)
    with Session(engine) as session:
        for i in range(posts):
            at = start + timedelta(seconds=window_s * i / posts)
            session.add(Post(platform="fakesocial", text=f"post {i}", status=PostStatus.scheduled, scheduled_at=at))
        session.commit()

    async def notify(platform: str, text: str) -> None:
        return None

    settings = ScheduleSettings()
    scheduler = PostScheduler(engine, Publisher(engine, {}, settings, notify), settings)
    await scheduler.start()  # reconciling the store adds one job per post
    await scheduler.stop()
    engine.dispose()


def child(db_url: str, platform: FakePlatform) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler_child", db_url, platform.url, "1"], cwd=ROOT, stderr=subprocess.DEVNULL
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--window-s", type=float, default=60.0, help="the posts are due evenly over this many seconds")
    parser.add_argument("--lead-s", type=float, default=None, help="time allowed to write the jobs (default: scales with --posts)")
    args = parser.parse_args()
    lead = args.lead_s if args.lead_s is not None else 15 + args.posts * 0.012
    folder = tempfile.mkdtemp(prefix="bench-scheduler-")
    db_url = f"sqlite:///{folder}/bot.db"
    platform = FakePlatform(dedupe=True).start()

    start = datetime.now(timezone.utc) + timedelta(seconds=lead)
    setup_began = time.time()
    asyncio.run(create_jobs(db_url, args.posts, start, args.window_s))
    setup_s = time.time() - setup_began
    if datetime.now(timezone.utc) > start - timedelta(seconds=3):
        raise SystemExit(f"writing the jobs took {setup_s:.0f} s, past the lead of {lead:.0f} s: raise --lead-s")
    time.sleep(max(0.0, (start - datetime.now(timezone.utc)).total_seconds() - 3))

    first = child(db_url, platform)
    kill_at = start + timedelta(seconds=args.window_s / 2)
    time.sleep(max(0.0, (kill_at - datetime.now(timezone.utc)).total_seconds()))
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.time()
    second = child(db_url, platform)
    second.wait(timeout=args.window_s * 20 + 600)
    platform.stop()

    engine = make_engine(db_url)
    rows = {p.text: p for p in repo.posts_with_status(engine, list(PostStatus))}
    engine.dispose()
    due = {f"post {i}": start.timestamp() + args.window_s * i / args.posts for i in range(args.posts)}
    created = Counter(p["text"] for p in platform.posts)
    arrival = {p["text"]: p["at"] for p in platform.posts}
    late_ms = np.array([(arrival[t] - due[t]) * 1000 for t in due if t in arrival])
    first_arrival = min(arrival.values()) if arrival else start.timestamp()
    figures = {
        "posts": args.posts,
        "window_s": args.window_s,
        "p50_ms": round(float(np.percentile(late_ms, 50)), 1),
        "p99_ms": round(float(np.percentile(late_ms, 99)), 1),
        "max_ms": round(float(late_ms.max()), 1),
        "published_by_first_process": sum(1 for t, at in arrival.items() if at < killed_at),
        "posts_per_s": round(len(arrival) / max(1e-9, max(arrival.values()) - first_arrival), 1) if arrival else 0.0,
        "published": sum(1 for t in due if created[t] >= 1 and rows[t].status == PostStatus.published),
        "duplicates": sum(1 for n in created.values() if n > 1),
        "lost": sum(1 for t in due if created[t] == 0 or rows[t].status != PostStatus.published),
        "deduplicated_retries": platform.requests - len(platform.posts),
        "setup_s": round(setup_s, 1),
    }
    table = Table(title=f"{args.posts} posts due over {args.window_s:.0f} s, SIGKILL + restart halfway")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, str(value))
    Console(stderr=True).print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
