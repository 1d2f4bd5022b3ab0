"""Benchmark the follower pipeline: simulated followers through the console connector, to a final state;
and a burst through the real `bot run --connector telegram` against the fake Bot API, with and without a SIGKILL."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from bot.app import App  # noqa: E402
from core.config import load_settings  # noqa: E402
from brain.llama_choice import machine_and_weights  # noqa: E402
from bot.logs import setup_logging  # noqa: E402
from brain.generator import ChatMessage, GenerationOptions  # noqa: E402
from brain.service import Brain  # noqa: E402
from connectors.console import ConsoleConnector  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.message_states import FINAL_MESSAGE_STATES  # noqa: E402
from storage.models import Message, Reply, ReplyStatus  # noqa: E402
from fakes.openai_server import fake_openai_server  # noqa: E402
from fakes.telegram_api import TOKEN, FakeTelegram  # noqa: E402

FINAL = {str(s) for s in FINAL_MESSAGE_STATES}
OWNER = 42

TEXTS = [
    "hello there! 👋", "hi, good morning", "Do you deliver on Sundays?", "what time do you open on saturday?",
    "I love your croissants, best in town!!", "thank you so much, the cake was perfect 🎂",
    "my order never arrived and nobody answers", "this is the worst service ever, I want my money back",
    "Click here to win a FREE iPhone!!! http://spam.biz", "earn $5000 a week from home, DM me",
    "how much is a birthday cake for 12 people?", "can I order 3 baguettes for tomorrow?",
    "stop sending me messages", "is the autumn sale still on?", "the app keeps crashing when I pay",
]


class InstantGenerator:
    """Stands in for the language model, so the benchmark measures the pipeline, not decoding."""

    name = "instant"

    def generate(self, messages: list[ChatMessage], options: GenerationOptions) -> str:
        return "Thanks for writing to us! We will get back to you shortly."

    def generate_many(self, prompts: list[list[ChatMessage]], options: GenerationOptions) -> list[str]:
        return [self.generate(messages, options) for messages in prompts]


BURST_CONFIG = """
[bot]
data_dir = "{data}"
log_level = "WARNING"

[models]
cache_dir = "{cache}"

[brand]
name = "Bench Bakery"
facts = ["We are open Monday to Saturday, 8:00 to 18:00."]

[owners]
telegram = ["42"]

[generator]
backend = "openai"

[openai]
base_url = "{llm}"
model = "stand-in"

[policy]
auto_reply_platforms = ["telegram"]
max_auto_replies_per_contact_per_hour = 100000
max_auto_replies_per_platform_per_minute = 1000000

[telegram]
base_url = "{telegram}"
poll_timeout_s = 1
per_chat_per_s = 1000.0
overall_per_s = 100000.0
"""


def _counts(db: Path) -> tuple[int, int]:
    """(stored, final) messages in the bot's database, read from outside as another process would."""
    if not db.exists():
        return 0, 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as c:
            rows = list(c.execute("SELECT status, count(*) FROM message GROUP BY status"))
    except sqlite3.OperationalError:
        return 0, 0
    return sum(n for _, n in rows), sum(n for status, n in rows if status in FINAL)


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _start_bot(config: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(ROOT / ".venv" / "bin" / "bot"), "run", "--connector", "telegram", "--config", str(config),
        env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
    )


async def burst(n: int, kill: bool) -> dict[str, float | int | str]:
    """n updates waiting in the fake Bot API at once, for a bot that is already polling; with `kill`,
    one SIGKILL once half of them are stored (while it receives), then a restart."""
    fake = FakeTelegram()
    await fake.start()
    with fake_openai_server(reply="Thanks for writing to us! We will get back to you shortly.") as llm, \
            tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(BURST_CONFIG.format(data=f"{tmp}/data", cache=f"{ROOT}/data/models", llm=llm.base_url, telegram=fake.base_url))
        db = Path(tmp) / "data" / "bot.db"
        log = Path(tmp) / "bot.log"
        proc = await _start_bot(config, log)
        peak = 0.0
        try:
            polling = asyncio.create_task(fake.wait_for("getUpdates", 2, timeout=120))  # started and polling
            await asyncio.wait([polling, asyncio.create_task(proc.wait())], return_when=asyncio.FIRST_COMPLETED)
            if not polling.done() or polling.exception() is not None:
                polling.cancel()
                raise SystemExit(f"the bot did not start polling:\n{log.read_text()[-2000:]}") from None
            rng = random.Random(3)
            for i in range(n):
                fake.push(fake.message(f"{rng.choice(TEXTS)} ({i})", user_id=100_000 + i))
            started = time.perf_counter()
            stored_s = final_s = killed_at = 0.0
            killed_stored = 0
            while not final_s:
                stored, final = await asyncio.to_thread(_counts, db)
                now = time.perf_counter() - started
                peak = max(peak, _peak_rss_mb(proc.pid))
                if kill and not killed_at and stored >= n // 2:
                    proc.send_signal(signal.SIGKILL)
                    await proc.wait()
                    killed_at, killed_stored = now, (await asyncio.to_thread(_counts, db))[0]
                    proc = await _start_bot(config, log)
                if stored >= n and not stored_s:
                    stored_s = now
                if final >= n and not fake.updates:
                    final_s = now
                if now > 3600:
                    raise SystemExit(f"burst did not finish: {stored} stored, {final} final\n{log.read_text()[-2000:]}")
                await asyncio.sleep(0.05)
        finally:
            if proc.returncode is None:
                peak = max(peak, _peak_rss_mb(proc.pid))
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
            await fake.stop()
        with sqlite3.connect(db) as c:
            ids = [pid for (pid,) in c.execute("SELECT platform_message_id FROM message")]
        sends = Counter(str(call.params["chat_id"]) for call in fake.calls_to("sendMessage") if str(call.params["chat_id"]) != str(OWNER))
    pushed = {f"{100_000 + i}" for i in range(n)}
    stored_chats = {pid.split(":")[0] for pid in ids}
    return {
        "run": "one SIGKILL while receiving" if kill else "no kill",
        "messages": n,
        "stored_s": round(stored_s, 2),
        "final_s": round(final_s, 2),
        "messages_per_s": round(n / final_s, 1),
        "peak_rss_mb": round(peak),
        "killed_at_s": round(killed_at, 2),
        "stored_before_kill": killed_stored,
        "lost": len(pushed - stored_chats),
        "stored_twice": len(ids) - len(set(ids)),
        "duplicated": sum(count - 1 for count in sends.values() if count > 1),
        "answered": len(sends),
    }


async def run(n: int, followers: int, generator: InstantGenerator | None, seed: int) -> dict[str, float | int]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        text = (ROOT / "config.toml").read_text().replace('data_dir = "data"', f'data_dir = "{tmp}/data"')
        text = text.replace("# cache_dir = ", "cache_dir = ").replace('cache_dir = "data/models"', f'cache_dir = "{ROOT}/data/models"')
        config.write_text(text)
        settings = load_settings(config)
        lines = [f"/as-follower f{rng.randrange(followers)} {rng.choice(TEXTS)}" for _ in range(n)]
        console = ConsoleConnector(stdin=io.StringIO("\n".join(lines) + "\n"), stdout=io.StringIO(), prompt=False)
        latencies: list[float] = []
        async with App(settings, [console], brain=Brain(settings, generator=generator)) as app:
            assert app.pipeline is not None
            process = app.pipeline.process

            async def timed(message_id: int) -> Message:
                # Per message: from the worker taking it to its final state (storing is apart).
                started = time.perf_counter()
                try:
                    return await process(message_id)
                finally:
                    latencies.append((time.perf_counter() - started) * 1000)

            app.pipeline.process = timed  # type: ignore[method-assign]
            started = time.perf_counter()
            await app.run()  # the console's input ends; the stored messages are finished first
            elapsed = time.perf_counter() - started
        engine = make_engine(settings.database_url)
        with Session(engine) as s:
            messages = list(s.exec(select(Message)))
            sent = Counter(r.message_id for r in s.exec(select(Reply)) if r.status == ReplyStatus.sent)
        engine.dispose()
    q = statistics.quantiles(latencies, n=20)
    return {
        "messages": n,
        "messages_per_s": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(q[18], 1),
        "final": sum(m.status in FINAL_MESSAGE_STATES for m in messages),
        "stored": len(messages),
        "duplicates": sum(count - 1 for count in sent.values() if count > 1),
        "auto_replied": len(sent),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="messages with the stand-in generator (0 to skip)")
    parser.add_argument("--real", type=int, default=50, help="messages with the real local model (0 to skip)")
    parser.add_argument("--burst", type=int, default=5000, help="messages in the Telegram burst runs (0 to skip)")
    parser.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True, help="also the burst run with a SIGKILL")
    args = parser.parse_args()
    setup_logging("WARNING")
    fast = asyncio.run(run(args.n, followers=400, generator=InstantGenerator(), seed=1)) if args.n else None
    real = asyncio.run(run(args.real, followers=40, generator=None, seed=2)) if args.real else None
    bursts = [asyncio.run(burst(args.burst, kill)) for kill in (False, True)[: 2 if args.kill else 1]] if args.burst else []

    console = Console(file=sys.stdout, width=140)
    if fast or real:
        table = Table(title="follower pipeline, console connector, SQLite")
        for column in ("run", "messages", "messages/s", "p50 ms", "p95 ms", "final", "duplicates", "auto-replied"):
            table.add_column(column, justify="right")
        for name, r in (("stand-in generator", fast), ("SmolLM2-135M local", real)):
            if r:
                table.add_row(name, str(r["messages"]), str(r["messages_per_s"]), str(r["p50_ms"]), str(r["p95_ms"]),
                              f"{r['final']}/{r['stored']}", str(r["duplicates"]), str(r["auto_replied"]))
        console.print(table)
    if bursts:
        table = Table(title="burst through `bot run --connector telegram` (fake Bot API, stand-in generator over HTTP), SQLite")
        for column in ("run", "messages", "all stored s", "all final s", "messages/s", "peak RSS MB", "killed at s",
                       "stored before kill", "lost", "duplicated", "answered"):
            table.add_column(column, justify="right")
        for b in bursts:
            kill = b["killed_at_s"] if b["stored_before_kill"] else "-"
            table.add_row(str(b["run"]), str(b["messages"]), str(b["stored_s"]), str(b["final_s"]), str(b["messages_per_s"]),
                          str(b["peak_rss_mb"]), str(kill), str(b["stored_before_kill"] or "-"), str(b["lost"]),
                          str(b["duplicated"]), str(b["answered"]))
        console.print(table)
    summary: dict[str, float | int | str] = {}
    if fast:
        summary.update({k: fast[k] for k in ("messages_per_s", "p50_ms", "p95_ms", "final", "duplicates")})
    if real:
        summary.update({f"real_model_{k}": real[k] for k in ("messages", "messages_per_s", "p50_ms", "p95_ms", "final", "duplicates")})
    for prefix, b in zip(("burst", "burst_kill"), bursts):
        summary.update({f"{prefix}_{k}": v for k, v in b.items() if k != "run"})
    summary.update(machine_and_weights(load_settings(ROOT / "config.toml")))  # type: ignore[arg-type]
    print(json.dumps(summary))
    ok = not fast or (fast["final"] == fast["stored"] == args.n and fast["duplicates"] == 0)
    ok = ok and all(b["lost"] == 0 and b["duplicated"] == 0 and b["stored_twice"] == 0 for b in bursts)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
