"""The Analytics page through httpx: the /report figures for a date range, and charts drawn on the server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from urllib.parse import urlencode

import httpx
from sqlalchemy.engine import Engine

from bench.web_data import generate
from bot.report import ReportCommands
from core.config import Settings
from storage import insights, repo
from storage.models import PostStatus, utcnow

CHARTS = ("intents", "sentiments", "answered", "answer-time", "posts", "platforms", "hours")


async def test_the_figures_are_the_reports(signed_in: httpx.AsyncClient, engine: Engine, settings: Settings) -> None:
    now = utcnow()
    generate(engine, messages=600, posts=60, now=now, days=20, seed=3)
    post = repo.add_post(engine, platform="console", text="<script>alert('x')</script> best cake", status=PostStatus.published)
    assert post.id is not None
    repo.update_post(engine, post.id, published_at=now - timedelta(hours=3))
    repo.add_engagement(engine, post_id=post.id, interactions=10_000)
    today = now.date()  # the test config's zone is UTC
    first = today - timedelta(days=6)

    page = await signed_in.get(f"/analytics?start={first.isoformat()}&end={today.isoformat()}")

    assert page.status_code == 200
    figures = insights.period(engine, datetime.combine(first, datetime.min.time(), timezone.utc), datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone.utc))
    assert f'<div class="value">{figures.messages}</div>' in page.text
    assert f'<div class="value">{figures.published}</div>' in page.text
    assert f"{figures.automatic_replies} automatic, {figures.owner_replies} by you" in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; best cake" in page.text and "<script>alert" not in page.text
    # /report reads the same function: over the same days it says the same.
    report = ReportCommands(engine, settings).report(7, now=datetime.combine(today + timedelta(days=1), datetime.min.time(), timezone.utc))
    assert f"Messages: {figures.messages} " in report and f"{figures.automatic_replies} automatic" in report
    for name in CHARTS:
        assert f'src="/analytics/charts/{name}.png?start={first.isoformat()}&amp;end={today.isoformat()}&amp;v=' in page.text


async def test_followers_per_platform_and_their_change(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    now = utcnow()
    page = await signed_in.get("/analytics")
    assert "Followers on" not in page.text  # no platform counted them
    repo.set_follower_count(engine, "instagram", 1180, now - timedelta(days=40))
    page = await signed_in.get("/analytics?" + urlencode({"start": (now - timedelta(days=39)).date().isoformat(), "end": now.date().isoformat()}))
    assert "Followers on instagram" in page.text and "1,180" in page.text and "+0 since" in page.text
    page = await signed_in.get("/analytics?" + urlencode({"start": (now - timedelta(days=45)).date().isoformat(), "end": now.date().isoformat()}))
    assert "1,180" in page.text and "not counted before" in page.text
    repo.set_follower_count(engine, "instagram", 1234, now)  # shows at once: the cached page is drawn again
    page = await signed_in.get("/analytics")
    assert "1,234" in page.text and "+54 since" in page.text and "1,180" not in page.text


async def test_charts_are_png_images(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    generate(engine, messages=300, posts=40, now=utcnow(), days=10, seed=5)
    for name in CHARTS:
        answer = await signed_in.get(f"/analytics/charts/{name}.png")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png", name
        assert answer.content.startswith(b"\x89PNG\r\n\x1a\n"), name
    assert (await signed_in.get("/analytics/charts/nope.png")).status_code == 404
    assert (await signed_in.get("/analytics/charts/intents.png?start=2026-12-05&end=2026-12-01")).status_code == 400


async def test_an_empty_account_and_bad_ranges(signed_in: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    empty = await signed_in.get("/analytics")
    assert empty.status_code == 200 and "none the period before" in empty.text
    assert (await signed_in.get("/analytics/charts/hours.png")).status_code == 200  # says there is nothing, as an image
    for query, why in [("start=2026-13-01", "dates look like"), ("start=2026-12-05&end=2026-12-01", "starts after it ends"), ("start=2020-01-01&end=2026-01-01", "at most 366 days")]:
        answer = await signed_in.get(f"/analytics?{query}")
        assert answer.status_code == 400 and why in answer.text, query
    assert (await anonymous.get("/analytics/charts/intents.png")).status_code == 303


async def test_new_data_shows_at_once(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    first = await signed_in.get("/analytics")
    assert '<div class="value">0</div>' in first.text
    contact = repo.get_or_create_contact(engine, "console", "ann")
    assert contact.id is not None
    repo.add_message(engine, platform="console", platform_message_id="1", contact_id=contact.id, text="hi")
    again = await signed_in.get("/analytics")
    assert 'Messages</div><div class="value">1</div>' in again.text  # the cache knows the data changed
