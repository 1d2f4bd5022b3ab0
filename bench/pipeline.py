"""Benchmark the follower pipeline: simulated followers through the console connector, to a final state."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from bot.app import App
from bot.config import load_settings
from bot.logs import setup_logging
from brain.generator import ChatMessage, GenerationOptions
from brain.service import Brain
from connectors.base import IncomingMessage
from connectors.console import ConsoleConnector
from storage.db import make_engine
from storage.models import FINAL_MESSAGE_STATES, Message, Reply, ReplyStatus

ROOT = Path(__file__).resolve().parent.parent

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

            async def timed(incoming: IncomingMessage) -> None:
                started = time.perf_counter()
                await app.on_message(incoming)
                latencies.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            await console.start(timed)
            await console.wait_closed()
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
    parser.add_argument("-n", type=int, default=2000, help="messages with the stand-in generator")
    parser.add_argument("--real", type=int, default=50, help="messages with the real local model (0 to skip)")
    args = parser.parse_args()
    setup_logging("WARNING")
    fast = asyncio.run(run(args.n, followers=400, generator=InstantGenerator(), seed=1))
    real = asyncio.run(run(args.real, followers=40, generator=None, seed=2)) if args.real else None

    table = Table(title="follower pipeline, console connector, SQLite")
    for column in ("run", "messages", "messages/s", "p50 ms", "p95 ms", "final", "duplicates", "auto-replied"):
        table.add_column(column, justify="right")
    for name, r in (("stand-in generator", fast), ("SmolLM2-135M local", real)):
        if r:
            table.add_row(name, str(r["messages"]), str(r["messages_per_s"]), str(r["p50_ms"]), str(r["p95_ms"]),
                          f"{r['final']}/{r['stored']}", str(r["duplicates"]), str(r["auto_replied"]))
    Console(file=sys.stdout, width=120).print(table)
    summary = {**{k: fast[k] for k in ("messages_per_s", "p50_ms", "p95_ms", "final", "duplicates")}}
    if real:
        summary.update({f"real_model_{k}": real[k] for k in ("messages", "messages_per_s", "p50_ms", "p95_ms", "final", "duplicates")})
    print(json.dumps(summary))
    return 0 if fast["final"] == fast["stored"] == args.n and fast["duplicates"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
