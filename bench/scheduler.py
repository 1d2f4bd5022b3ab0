"""Benchmark: many posts due in a short window, a SIGKILL and restart in the middle; lateness and exactly-once.

The publisher runs as a real subprocess (tests/fakes/scheduler_child.py: the bot's scheduler, publisher
and SQLite database) posting over HTTP to a fake platform in this process, which stamps each post
as it arrives and deduplicates by Idempotency-Key like Mastodon's API. Halfway through the window
the child is killed with SIGKILL and started again. Lateness = arrival - scheduled time.
Throughput (posts_per_s) is the yardstick: when posts come due faster than it, lateness is backlog.

`--baseline DIR` runs another checkout's scheduler (e.g. /work/main) in turns with this one, in the
same run, so both meet the same load from whatever else the machine is doing; `--runs N` repeats
each and reports medians. Each checkout runs its own child (its `tests/fakes/scheduler_child.py`), as
the scheduler's constructor changes between versions.
Run: .venv/bin/python bench/scheduler.py [--posts 10000] [--window-s 60] [--runs 3] [--baseline /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sqlite3
import statistics
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

ROOT = Path(__file__).resolve().parent.parent
# The setup step runs as `bench/scheduler.py --setup` in a subprocess with BENCH_CODE naming the
# checkout under test, so that its own scheduler writes the jobs.
sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))

from fakes.social_platform import FakePlatform  # noqa: E402


def create_jobs(db_url: str, posts: int, start: datetime, window_s: float) -> None:
    """All posts as rows in one transaction: the post table is the schedule (no job per post)."""
    from sqlmodel import Session

    from storage.db import make_engine
    from storage.models import Post, PostStatus

    engine = make_engine(db_url)
    with Session(engine) as session:
        for i in range(posts):
            at = start + timedelta(seconds=window_s * i / posts)
            session.add(Post(platform="fakesocial", text=f"post {i}", status=PostStatus.scheduled, scheduled_at=at))
        session.commit()
    engine.dispose()


def in_checkout(code: Path, args: list[str]) -> subprocess.Popen[bytes]:
    # tests/ too, so that `fakes` is the checkout's own (ahead of the one installed in the venv).
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{code / 'tests'}", "BENCH_CODE": str(code)}
    return subprocess.Popen([sys.executable, *args], cwd=code, env=env, stderr=subprocess.DEVNULL)


def _children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(code: Path, posts: int, window_s: float, lead_s: float) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="bench-scheduler-")
    db_path = f"{folder}/bot.db"
    db_url = f"sqlite:///{db_path}"
    platform = FakePlatform(dedupe=True).start()

    start = datetime.now(timezone.utc) + timedelta(seconds=lead_s)
    setup_began = time.time()
    setup = in_checkout(code, [str(ROOT / "bench" / "scheduler.py"), "--setup", db_url, str(posts), start.isoformat(), str(window_s)])
    if setup.wait() != 0:
        raise SystemExit(f"setting up the posts with {code} failed")
    setup_s = time.time() - setup_began
    if datetime.now(timezone.utc) > start - timedelta(seconds=3):
        raise SystemExit(f"writing the jobs took {setup_s:.0f} s, past the lead of {lead_s:.0f} s: raise --lead-s")
    time.sleep(max(0.0, (start - datetime.now(timezone.utc)).total_seconds() - 3))

    child = ["-m", "fakes.scheduler_child", db_url, platform.url, "1"]
    cpu_before = _children_cpu_s()
    first = in_checkout(code, child)
    kill_at = start + timedelta(seconds=window_s / 2)
    time.sleep(max(0.0, (kill_at - datetime.now(timezone.utc)).total_seconds()))
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.time()
    second = in_checkout(code, child)
    second.wait(timeout=window_s * 20 + 600)
    cpu_s = _children_cpu_s() - cpu_before
    platform.stop()

    with sqlite3.connect(db_path) as connection:  # plain SQL: the two checkouts' models may differ
        status = dict(connection.execute("select text, status from post").fetchall())
    due = {f"post {i}": start.timestamp() + window_s * i / posts for i in range(posts)}
    created = Counter(p["text"] for p in platform.posts)
    arrival = {p["text"]: p["at"] for p in platform.posts}
    late_ms = np.array([(arrival[t] - due[t]) * 1000 for t in due if t in arrival])
    first_arrival = min(arrival.values()) if arrival else start.timestamp()
    return {
        "p50_ms": round(float(np.percentile(late_ms, 50)), 1),
        "p99_ms": round(float(np.percentile(late_ms, 99)), 1),
        "max_ms": round(float(late_ms.max()), 1),
        "published_by_first_process": sum(1 for t, at in arrival.items() if at < killed_at),
        "posts_per_s": round(len(arrival) / max(1e-9, max(arrival.values()) - first_arrival), 1) if arrival else 0.0,
        "published": sum(1 for t in due if created[t] >= 1 and status.get(t) == "published"),
        "duplicates": sum(1 for n in created.values() if n > 1),
        "lost": sum(1 for t in due if created[t] == 0 or status.get(t) != "published"),
        "deduplicated_retries": platform.requests - len(platform.posts),
        # CPU time of the two bot processes per post, user + system: what load from others changes least.
        "cpu_ms_per_post": round(cpu_s * 1000 / max(1, len(arrival)), 2),
        "setup_s": round(setup_s, 1),
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure, except duplicates and lost: those are the worst run's."""
    worst = {"duplicates", "lost"}
    return {k: (max if k in worst else statistics.median)(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--window-s", type=float, default=60.0, help="the posts are due evenly over this many seconds")
    parser.add_argument("--lead-s", type=float, default=None, help="time allowed to write the jobs (default: scales with --posts)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each checkout; medians are reported")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to run in turns with this one")
    parser.add_argument("--setup", nargs=4, metavar=("DB_URL", "POSTS", "START", "WINDOW_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        db_url, posts, start, window_s = args.setup
        create_jobs(db_url, int(posts), datetime.fromisoformat(start), float(window_s))
        return

    checkouts = {"change": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    lead = {name: args.lead_s if args.lead_s is not None else 15 + args.posts * 0.012 for name in checkouts}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for run in range(args.runs):
        for name, code in checkouts.items():
            figures = one_run(code, args.posts, args.window_s, lead[name])
            results[name].append(figures)
            if args.lead_s is None:  # wait no longer than this checkout needs to write its jobs
                lead[name] = max(8.0, 1.3 * figures["setup_s"] + 8)
            print(json.dumps({"run": run + 1, "checkout": name, **figures}), file=sys.stderr, flush=True)

    summary = {name: medians(runs) for name, runs in results.items()}
    table = Table(title=f"{args.posts} posts due over {args.window_s:.0f} s, SIGKILL + restart halfway; medians of {args.runs} runs")
    table.add_column("figure")
    for name, code in checkouts.items():
        table.add_column(f"{name} ({code})", justify="right")
    for key in summary["change"]:
        table.add_row(key, *(str(summary[name][key]) for name in checkouts))
    Console(stderr=True).print(table)
    from core.config import load_settings
    from brain.llama_choice import machine_and_weights

    machine_line = machine_and_weights(load_settings(ROOT / "config.toml"))
    print(json.dumps({"posts": args.posts, "window_s": args.window_s, "runs": args.runs, **summary, **machine_line}))


if __name__ == "__main__":
    main()
