"""bench/web.py end to end on a small database and two clients, so the benchmark never rots."""

from __future__ import annotations

import argparse

import pytest

from bench import web

pytestmark = pytest.mark.slow  # starts `bot run` with its models


async def test_the_web_bench_runs_and_reports_every_page() -> None:
    figures = await web.run(argparse.Namespace(messages=400, posts=40, clients=2, seconds=0.5))
    assert figures["messages"] == 400 and figures["posts"] == 40
    for page in ("baseline", "inbox", "inbox_changing", "inbox_poll", "analytics", "analytics_chart"):
        assert figures[f"{page}_errors"] == 0, page
        assert figures[f"{page}_requests_per_s"] > 0 and figures[f"{page}_p95_ms"] >= figures[f"{page}_p50_ms"] > 0, page
    assert figures["inbox_drawn_ms"] > 0 and not any(k.startswith("before_") for k in figures)  # no --before
    assert figures["cpu_cores"] and figures["cpu_model"]
