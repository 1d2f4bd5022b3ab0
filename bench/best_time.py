"""Benchmark: best-time picks on a simulated audience, as a fraction of an oracle, against two baselines.

Each seed draws an audience with hidden engagement rates per hour of the week (a morning and an
evening peak, weekday factors, weekend peaks shifted later), 300 follower messages from the weeks
before (drawn from a distorted copy of the same rhythm: the model's prior), and noisy observed
engagement. Then 12 weeks of one post a day: the model picks the hour of each day (Thompson
sampling), sees the noisy engagement, refits. Scores are expected engagement of the picks over the
oracle's (which knows the hidden rates), for week 12 and overall.

The system run does the same on the first --system-seeds audiences through the bot itself: the
real scheduler, publisher and Mastodon connector against a fake Mastodon (tests/fakes/
posting_weeks.py) whose followers react by the hidden rates, a SQLite database, and a clock that
jumps ahead instead of waiting. The model picks each day's hour from the database's posting
history; engagement grows for a day or two and is fetched 24 h after publishing and again while it
grows, so the model learns a day later than in the isolated run, and from rounded counts.
Run: .venv/bin/python bench/best_time.py [--seeds 20] [--weeks 12] [--system-seeds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Small matrices: BLAS threads only fight each other (and other processes) here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brain.llama_choice import machine_and_weights  # noqa: E402
from brain.timing import EngagementModel, Observation, TimingPrior, local_slot  # noqa: E402
from core.addressing import MessageKind, ReplyAddress, Visibility  # noqa: E402
from core.config import ScheduleSettings, load_settings  # noqa: E402
from core.times import account_zone  # noqa: E402
from fakes.posting_weeks import PLATFORM, posting_weeks  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import make_engine  # noqa: E402

START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday; the system run's account is on UTC

INDUSTRY_HOUR = 12  # the "post at noon" advice of the usual best-time-to-post articles


@dataclass(frozen=True)
class Difficulty:
    peak_width_h: tuple[float, float] = (2.0, 4.0)  # sd of the morning and evening peaks, hours
    jitter: float = 0.05  # independent log-noise on each hour's hidden rate
    post_noise: float = 0.35  # log-normal sd of one post's engagement around its hour's rate


HARD = Difficulty(peak_width_h=(1.5, 3.0), jitter=0.1, post_noise=0.5)


def audience(rng: np.random.Generator, level: Difficulty) -> np.ndarray:
    """Hidden expected engagement, shape (7 weekdays, 24 hours)."""
    hours = np.arange(24)
    rates = np.zeros((7, 24))
    morning, evening = rng.uniform(7, 10), rng.uniform(17, 22)
    widths = rng.uniform(*level.peak_width_h, size=2)
    heights = rng.uniform(0.6, 1.5, size=2)
    base = rng.uniform(10, 60)
    for day in range(7):
        shift = rng.uniform(1, 2.5) if day >= 5 else 0.0
        log_rate = -1.0 + sum(
            h * np.exp(-0.5 * ((hours - (c + shift)) / w) ** 2) for c, w, h in zip((morning, evening), widths, heights)
        )
        rates[day] = base * np.exp(log_rate + rng.normal(0, 0.25) + rng.normal(0, level.jitter, size=24))
    return rates


def follower_messages(rng: np.random.Generator, rates: np.ndarray, n: int = 300) -> list[tuple[int, int]]:
    distorted = rates**0.8 * np.exp(rng.normal(0, 0.3, size=rates.shape))
    p = (distorted / distorted.sum()).ravel()
    return [divmod(int(i), 24) for i in rng.choice(168, size=n, p=p)]


def observe(rng: np.random.Generator, rate: float, noise: float) -> float:
    return float(rng.poisson(rate * rng.lognormal(-(noise**2) / 2, noise)))


def run_seed(seed: int, weeks: int, level: Difficulty = Difficulty(), prior: TimingPrior | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = audience(rng, level)
    activity = follower_messages(rng, rates)
    model = EngagementModel(prior or TimingPrior()).fit([], activity)
    history: list[Observation] = []
    earned = {name: np.zeros(weeks * 7) for name in ("model", "random", "fixed", "oracle")}
    for day in range(weeks * 7):
        weekday = day % 7
        hour = model.choose([(weekday, h) for h in range(24)], rng)
        history.append(Observation(weekday, hour, observe(rng, rates[weekday, hour], level.post_noise)))
        model.fit(history, activity)
        earned["model"][day] = rates[weekday, hour]
        earned["random"][day] = rates[weekday].mean()  # the expectation of a uniformly random hour
        earned["fixed"][day] = rates[weekday, INDUSTRY_HOUR]
        earned["oracle"][day] = rates[weekday].max()
    return earned


def run_system_seed(seed: int, weeks: int, level: Difficulty = Difficulty()) -> dict[str, np.ndarray]:
    """run_seed's audience and follower messages, through the scheduler, publisher and a fake Mastodon."""
    rng = np.random.default_rng(seed)
    rates = audience(rng, level)  # the same draws as run_seed's, in the same order
    activity = follower_messages(rng, rates)
    zone = account_zone("UTC")

    def reactions(status_id: str, created: datetime, now: datetime) -> dict[str, int]:
        weekday, hour = local_slot(created, zone)
        final = observe(np.random.default_rng([seed, int(status_id) % 2**32]), rates[weekday, hour], level.post_noise)
        grown = int(final * (1 - math.exp(-max((now - created).total_seconds(), 0.0) / 3600 / 12)))
        return {"favourites_count": grown - grown // 3, "reblogs_count": grown // 3, "replies_count": 0}

    async def days() -> list[tuple[int, int]]:
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            first_week = START - timedelta(weeks=3)
            repo.store_incoming(engine, [
                repo.NewMessage(
                    PLATFORM, f"m{n}", f"fan{n % 40}", "fan", ReplyAddress(MessageKind.mention, Visibility.public, f"fan{n % 40}", f"m{n}"),
                    "hello", first_week + timedelta(days=weekday + 7 * (n % 3), hours=hour, minutes=n % 60),
                )
                for n, (weekday, hour) in enumerate(activity)
            ])
            schedule = ScheduleSettings(best_hours=(0, 23))  # the oracle may pick any hour too
            try:
                async with posting_weeks(engine, schedule, zone, START, reactions, np.random.default_rng(seed + 10_000)) as run:
                    return [
                        local_slot(await run.post_on_day(START + timedelta(days=day), f"post {day}"), zone)
                        for day in range(weeks * 7)
                    ]
            finally:
                engine.dispose()

    picks = asyncio.run(days())
    return {
        "system": np.array([rates[weekday, hour] for weekday, hour in picks]),
        "oracle": np.array([rates[day % 7].max() for day in range(weeks * 7)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--hard", action="store_true", help="sharper peaks and noisier posts")
    parser.add_argument("--system-seeds", type=int, default=3, help="audiences also run through scheduler, publisher and fake Mastodon")
    args = parser.parse_args()
    level = HARD if args.hard else Difficulty()
    runs = [run_seed(seed, args.weeks, level) for seed in range(args.seeds)]
    began = time.perf_counter()
    system = [run_system_seed(seed, args.weeks, level) for seed in range(min(args.system_seeds, args.seeds))]
    system_s = time.perf_counter() - began

    def fraction(name: str, week: int | None, among: list[dict[str, np.ndarray]] | None = None) -> float:
        sl = slice((week - 1) * 7, week * 7) if week else slice(None)
        return float(np.mean([r[name][sl].sum() / r["oracle"][sl].sum() for r in (runs if among is None else among)]))

    same_seeds = runs[: len(system)]

    table = Table(title=f"best time: fraction of oracle engagement, {args.seeds} seeds, 1 post a day")
    table.add_column("policy")
    for col in ("week 1", f"week {args.weeks}", "all weeks"):
        table.add_column(col, justify="right")
    for name, label in (("model", "model (Thompson)"), ("random", "random hour"), ("fixed", f"fixed {INDUSTRY_HOUR}:00")):
        table.add_row(label, *(f"{fraction(name, w):.3f}" for w in (1, args.weeks, None)))
    if system:
        seeds = f"{len(system)} seeds"
        table.add_row(f"model alone, first {seeds}", *(f"{fraction('model', w, same_seeds):.3f}" for w in (1, args.weeks, None)))
        table.add_row(
            f"bot: scheduler, publisher, fake Mastodon, {seeds}",
            *(f"{fraction('system', w, system):.3f}" for w in (1, args.weeks, None)),
        )
    Console(stderr=True).print(table)
    through_bot = {
        "system_fraction_of_oracle": round(fraction("system", args.weeks, system), 4),
        "system_fraction_of_oracle_week_1": round(fraction("system", 1, system), 4),
        "system_fraction_of_oracle_all_weeks": round(fraction("system", None, system), 4),
        "model_alone_same_seeds_fraction_of_oracle": round(fraction("model", args.weeks, same_seeds), 4),
        "model_alone_same_seeds_fraction_of_oracle_all_weeks": round(fraction("model", None, same_seeds), 4),
        "system_seeds": len(system),
        "system_seconds": round(system_s, 1),
    } if system else {}
    print(json.dumps({
        "fraction_of_oracle": round(fraction("model", args.weeks), 4),
        "random_fraction_of_oracle": round(fraction("random", args.weeks), 4),
        "fixed_time_fraction_of_oracle": round(fraction("fixed", args.weeks), 4),
        "fraction_of_oracle_week_1": round(fraction("model", 1), 4),
        "fraction_of_oracle_all_weeks": round(fraction("model", None), 4),
        "seeds": args.seeds,
        "difficulty": "hard" if args.hard else "default",
        "weeks": args.weeks,
        **through_bot,
        **machine_and_weights(load_settings(ROOT / "config.toml")),
    }))


if __name__ == "__main__":
    main()
