"""Dashboard speed: inbox and analytics pages under 20 concurrent signed-in clients, against 100,000 messages and 5,000 posts.

The dashboard is served the way the owner gets it: `bot run --connector telegram` (against the fake
Bot API, nothing to receive) with uvicorn inside the bot's process, over HTTP on 127.0.0.1. Each
client signs in, then asks for one page after another with no pause (a closed loop: the hardest
case, every client always waiting). The baseline in the same run is the sign-in page, which reads
no database: what the server, the session and the template cost on this machine at this load.
The clients run in this process, so they share the machine's cores with the server. "inbox poll" is
what an open inbox tab asks every 3 s when nothing changed (answered 204). The inbox is drawn once
per commit to the database for every tab: "inbox, 2 commits/s meanwhile" renames a contact twice a
second from another connection while the clients ask, so the page is drawn again each time, and
"inbox drawn anew" is the median time of one request right after a commit, alone (5 tries).

`--before CHECKOUT` measures another checkout's bot (the code before a change, run with this
checkout's environment) first, on the same database, one bot at a time.

Run: .venv/bin/python bench/web.py [--messages 100000] [--posts 5000] [--clients 20] [--seconds 15] [--before DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.web_data import generate  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402
from core import machine  # noqa: E402
from bot.web.passwords import PasswordStore  # noqa: E402
from fakes.telegram_api import TOKEN, FakeTelegram  # noqa: E402
from core.config import load_settings  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import utcnow  # noqa: E402

PASSWORD = "bench password, not a secret"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
POLLER = re.compile(r'<div id="poller" hx-get="([^"]+)"')
SHOWN = re.compile(r'name="shown" value="([rm]\d+)"')
GOAL_P95_MS = 150.0

CONFIG = """
[bot]
data_dir = "{data}"
log_level = "WARNING"
timezone = "Europe/Berlin"

[models]
cache_dir = "{cache}"

[brand]
name = "Bench Bakery"
facts = ["We are open Monday to Saturday, 8:00 to 18:00."]

[owners]
telegram = ["42"]

[telegram]
base_url = "{telegram}"
poll_timeout_s = 1

[web]
port = {port}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def signed_in_client(base: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    page = await client.get("/signin")
    token = CSRF.search(page.text)
    assert token, page.text[:300]
    answer = await client.post("/signin", data={"password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text[:300]
    return client


async def poll_path(client: httpx.AsyncClient) -> str:
    """What an open inbox tab asks every 3 s when nothing changed: its poller's URL with the cards it shows."""
    page = (await client.get("/inbox")).text
    found = POLLER.search(page)
    assert found, page[:300]
    shown = "".join(f"&shown={s}" for s in SHOWN.findall(page))
    path = html.unescape(found.group(1)) + shown
    assert (await client.get(path)).status_code == 204, path  # nothing new: the cheap answer
    return path


async def wait_for_server(base: str, proc: asyncio.subprocess.Process, log: Path, timeout_s: float = 300) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.perf_counter() - started < timeout_s:
            if proc.returncode is not None:
                raise SystemExit(f"the bot stopped:\n{log.read_text()[-3000:]}")
            try:
                if (await client.get("/signin")).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the dashboard did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


async def load(clients: list[httpx.AsyncClient], path: str, seconds: float) -> dict[str, float]:
    """Every client asks for `path` again and again for `seconds`; latencies of the answers."""
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            answer = await client.get(path)
            latencies.append((time.perf_counter() - t0) * 1000)
            if answer.status_code not in (200, 204):  # 204: a poll that found nothing new
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    wall = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "per_s": len(latencies) / wall,
        "p50_ms": statistics.median(latencies),
        "p95_ms": quantile(latencies, 0.95),
        "p99_ms": quantile(latencies, 0.99),
        "max_ms": max(latencies),
    }


WRITES_PER_S = 2
PAGES = (("baseline (sign-in page)", "baseline"), ("inbox", "inbox"),
         (f"inbox, {WRITES_PER_S} commits/s meanwhile", "inbox_changing"), ("inbox poll", "inbox_poll"),
         ("analytics", "analytics"), ("analytics chart", "analytics_chart"))


def rename(database: Path, n: int) -> None:
    """One commit from a connection of its own: contact 1 gets a new name."""
    with sqlite3.connect(database, timeout=30) as connection:
        connection.execute("UPDATE contact SET display_name = ? WHERE id = 1", (f"Follower 0 ({n})",))
    connection.close()


async def commit_meanwhile(database: Path, per_s: float, done: asyncio.Event) -> int:
    """Commits from a connection of another process's kind (a contact renamed) while the pages are asked:
    the data changing under the dashboard, as when followers write. Returns how many."""
    n = 0
    while not done.is_set():
        n += 1
        await asyncio.to_thread(rename, database, n)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 1 / per_s)
    return n


@dataclass
class Measured:
    pages: dict[str, dict[str, float]]  # by JSON key
    start_s: float
    analytics_cold_ms: float
    analytics_year_cold_ms: float
    inbox_drawn_ms: float


async def measure(checkout: Path, config: Path, database: Path, port: int, log: Path, args: argparse.Namespace) -> Measured:
    """Start `bot run` from `checkout` (this one, or the code before a change) on the filled database and load its pages."""
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "bot"), "run", "--connector", "telegram", "--config", str(config),
        env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PYTHONPATH": str(checkout)},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
    )
    base = f"http://127.0.0.1:{port}"
    pages: dict[str, dict[str, float]] = {}
    try:
        start_s = await wait_for_server(base, proc, log)
        clients = [await signed_in_client(base) for _ in range(args.clients)]
        # The first analytics answer computes the figures (a cache miss): timed alone.
        t1 = time.perf_counter()
        assert (await clients[0].get("/analytics")).status_code == 200
        analytics_cold_ms = (time.perf_counter() - t1) * 1000
        today = utcnow().date()
        year = f"/analytics?start={(today - timedelta(days=365)).isoformat()}&end={today.isoformat()}"
        t1 = time.perf_counter()
        assert (await clients[0].get(year)).status_code == 200
        analytics_year_cold_ms = (time.perf_counter() - t1) * 1000
        poll = await poll_path(clients[0])
        drawn: list[float] = []
        for n in range(5):  # the inbox right after a commit: drawn anew (its templates are compiled by now)
            await asyncio.to_thread(rename, database, -n)
            t1 = time.perf_counter()
            assert (await clients[0].get("/inbox")).status_code == 200
            drawn.append((time.perf_counter() - t1) * 1000)
        paths = {"baseline": "/signin", "inbox": "/inbox", "inbox_changing": "/inbox", "inbox_poll": poll, "analytics": "/analytics",
                 "analytics_chart": "/analytics/charts/intents.png"}
        for client in clients:  # warm: each client once on each page
            for path in paths.values():
                await client.get(path)
        for _, key in PAGES:
            if key == "inbox_changing":
                done = asyncio.Event()
                writer = asyncio.create_task(commit_meanwhile(database, WRITES_PER_S, done))
                pages[key] = await load(clients, paths[key], args.seconds)
                done.set()
                await writer
            else:
                pages[key] = await load(clients, paths[key], args.seconds)
        for client in clients:
            await client.aclose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
    return Measured(pages, start_s, analytics_cold_ms, analytics_year_cold_ms, statistics.median(drawn))


async def run(args: argparse.Namespace) -> dict[str, object]:
    # The bot's long poll is cut when it is stopped at the end: not worth a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    fake = FakeTelegram()
    await fake.start()
    load_start = os.getloadavg()[0]
    runs: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        t0 = time.perf_counter()
        engine = make_engine(f"sqlite:///{data / 'bot.db'}")
        made = generate(engine, messages=args.messages, posts=args.posts, now=utcnow())
        engine.dispose()
        generate_s = time.perf_counter() - t0
        PasswordStore(data).set(PASSWORD)
        # The code before a change first, on the same database, one bot at a time (each has the cores to itself).
        checkouts = ([("before", Path(args.before).resolve())] if getattr(args, "before", None) else []) + [("now", ROOT)]
        try:
            for name, checkout in checkouts:
                port = free_port()
                config = Path(tmp) / f"config-{name}.toml"
                config.write_text(CONFIG.format(data=data, cache=ROOT / "data" / "models", telegram=fake.base_url, port=port))
                runs[name] = await measure(checkout, config, data / "bot.db", port, Path(tmp) / f"bot-{name}.log", args)
        finally:
            await fake.stop()
    load_end = os.getloadavg()[0]
    table = Table(title=f"Dashboard, {args.clients} signed-in clients, closed loop, {args.seconds:.0f} s a page")
    for column in ("page", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for title, key in PAGES:
        for name, measured in runs.items():
            r = measured.pages[key]
            shown = f"{title}, before" if name == "before" else title
            table.add_row(shown, str(r["requests"]), f"{r['per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                          f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}", str(r["errors"]))
    now = runs["now"]
    console = Console(width=120)  # the rows' names on one line, also when printed to a file
    console.print(table)
    before = runs.get("before")
    console.print(
        f"{made.messages:,} messages, {made.replies:,} replies, {made.posts:,} posts, {made.samples:,} engagement samples "
        f"(generated in {generate_s:.1f} s); bot up in {now.start_s:.1f} s; first analytics page (figures computed) "
        f"{now.analytics_cold_ms:.0f} ms, a year's range {now.analytics_year_cold_ms:.0f} ms"
        + (f" (before: {before.analytics_cold_ms:.0f} ms and {before.analytics_year_cold_ms:.0f} ms)" if before else "")
        + f"; inbox drawn anew {now.inbox_drawn_ms:.0f} ms" + (f" (before: {before.inbox_drawn_ms:.0f} ms)" if before else "")
        + f". CPU: {machine.cpu_model()}, {os.cpu_count()} cores; load average {load_start:.1f} before, {load_end:.1f} after. "
        f"Goal: p95 under {GOAL_P95_MS:.0f} ms for inbox and analytics."
    )
    figures: dict[str, object] = {"clients": args.clients, "messages": made.messages, "posts": made.posts}
    for name, measured in runs.items():
        prefix = "before_" if name == "before" else ""
        for k, r in measured.pages.items():
            figures.update({f"{prefix}{k}_p50_ms": round(r["p50_ms"], 1), f"{prefix}{k}_p95_ms": round(r["p95_ms"], 1),
                            f"{prefix}{k}_p99_ms": round(r["p99_ms"], 1), f"{prefix}{k}_requests_per_s": round(r["per_s"], 1),
                            f"{prefix}{k}_errors": r["errors"]})
        figures.update({f"{prefix}analytics_cold_ms": round(measured.analytics_cold_ms),
                        f"{prefix}analytics_year_cold_ms": round(measured.analytics_year_cold_ms),
                        f"{prefix}inbox_drawn_ms": round(measured.inbox_drawn_ms, 1),
                        f"{prefix}bot_start_s": round(measured.start_s, 1)})
    figures.update({
        "generate_s": round(generate_s, 1),
        "cpu_cores": os.cpu_count(), **machine_and_weights(load_settings(ROOT / "config.toml")),
        "load_avg_1m_before": round(load_start, 2), "load_avg_1m_after": round(load_end, 2),
    })
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--before", type=Path, help="a checkout of the code before a change: its bot is measured first, "
                        "on the same database, as rows `..., before` (JSON keys `before_*`)")
    figures = asyncio.run(run(parser.parse_args()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
