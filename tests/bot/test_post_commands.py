"""The owner's post commands, typed on the console connector into a running App."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.app import App
from core.config import Settings, load_settings
from bot.when import account_zone, as_utc, local_to_utc, parse_when
from fakes.console_app import run_console, stand_in_brain
from connectors.console import ConsoleConnector
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus, utcnow

BERLIN = account_zone("Europe/Berlin")


@pytest.fixture
def berlin_settings(config_file: Path) -> Settings:
    config = config_file.read_text().replace('log_level = "DEBUG"', 'log_level = "DEBUG"\ntimezone = "Europe/Berlin"')
    config += '\n[schedule.slots]\nconsole = ["09:00", "13:00", "best"]\n'
    config_file.write_text(config)
    return load_settings(config_file)


async def test_draft_schedule_reschedule_cancel(berlin_settings: Settings) -> None:
    now = utcnow()
    out = await run_console(berlin_settings, [
        "/draft fresh bread",
        "/compose Our autumn sale ends Friday",
        "/drafts",
        "/schedule 1 tomorrow 18:00",
        "/schedule 2 best",
        "/reschedule 1 fri 10:00",
        "/schedule 2 yesterday",
        "/cancel 2",
        "/cancel 9",
        "/calendar",
    ])
    engine = make_engine(berlin_settings.database_url)
    first, second = repo.list_posts(engine)
    # "today" is a claim no fact makes, and the hours say nothing of bread: the plan's wording.
    assert first.text.startswith("Fresh bread") and "#1 console: Fresh bread" in out
    assert "#2 console: Our autumn sale ends Friday" in out
    assert first.status == PostStatus.scheduled
    assert as_utc(first.scheduled_at) == parse_when("fri 10:00", BERLIN, now)  # type: ignore[arg-type]
    assert "post #1 scheduled for Fri" in out and "10:00 CE" in out
    best = as_utc(second.scheduled_at)  # type: ignore[arg-type]
    assert now < best <= now + timedelta(days=7, hours=1) and best.astimezone(BERLIN).minute == 0
    assert 8 <= best.astimezone(BERLIN).hour <= 21  # [schedule] best_hours: no night posts
    assert "no history yet, so this is an exploratory pick" in out
    assert "cannot read 'yesterday'" in out
    assert second.status == PostStatus.cancelled and "post #2 cancelled" in out
    assert "no post '9'" in out
    calendar = out.rsplit("bot: ", 1)[1]
    assert "#1 console" in calendar and "#2" not in calendar
    with engine.connect() as connection:
        assert not inspect(connection).has_table("apscheduler_jobs")  # no job per post: APScheduler stores nothing
    engine.dispose()


async def test_queue_fills_the_next_free_slots(berlin_settings: Settings) -> None:
    now = utcnow()
    out = await run_console(berlin_settings, [f"/compose post {i}" for i in range(1, 5)] + [f"/queue {i}" for i in range(1, 5)])
    engine = make_engine(berlin_settings.database_url)
    times = [as_utc(p.scheduled_at) for p in repo.list_posts(engine)]  # type: ignore[arg-type]
    engine.dispose()
    today = now.astimezone(BERLIN).date()
    fixed = sorted(
        local_to_utc(today + timedelta(days=d), time(h), BERLIN) for d in range(3) for h in (9, 13)
    )
    upcoming = [t for t in fixed if t > now]
    at_fixed = [t for t in times if t in fixed]
    assert at_fixed == upcoming[: len(at_fixed)]  # fixed slots fill in order, none skipped
    assert now < times[0] <= upcoming[0]  # today's "best" slot may come first
    assert len(set(times)) == 4
    per_day: dict[object, int] = {}
    for t in times:
        local = t.astimezone(BERLIN)
        if (local.hour, local.minute) not in ((9, 0), (13, 0)):
            per_day[local.date()] = per_day.get(local.date(), 0) + 1
    assert all(n <= 1 for n in per_day.values())  # one "best" slot a day
    assert out.count("queued for") == 4


async def test_scheduled_through_the_chat_and_published_after_a_restart(berlin_settings: Settings) -> None:
    await run_console(berlin_settings, ["/compose see you tomorrow", "/schedule 1 in 4s"])  # the bot stops before then
    engine = make_engine(berlin_settings.database_url)
    assert repo.get_post(engine, 1).status == PostStatus.scheduled  # type: ignore[union-attr]

    read_end, write_end = os.pipe()
    out = io.StringIO()
    console = ConsoleConnector(berlin_settings.console.owner_id, stdin=os.fdopen(read_end), stdout=out, prompt=False)
    async with App(berlin_settings, [console], brain=stand_in_brain(berlin_settings)) as app:
        running = asyncio.create_task(app.run())
        for _ in range(200):
            if repo.get_post(engine, 1).status == PostStatus.published:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        os.close(write_end)  # end of input: the console closes and the app stops
        await running
    assert out.getvalue().count("[published] see you tomorrow") == 1
    engine.dispose()


async def test_draft_tells_the_owner_which_ended_facts_were_left_out(berlin_settings: Settings, config_file: Path) -> None:
    config = config_file.read_text().replace(
        'facts = ["We are open Monday to Saturday, 8:00 to 18:00."]',
        'facts = ["We are open Monday to Saturday, 8:00 to 18:00.", '
        '{ text = "Our autumn sale gives 20% off all cakes until the end of November.", until = "2020-11-30" }]',
    )
    config_file.write_text(config)
    settings = load_settings(config_file)
    out = await run_console(settings, ["/draft our autumn sale"])
    [post] = repo.list_posts(make_engine(settings.database_url))
    # The post says the sale has ended, never that it is on, and the owner is told.
    assert "20%" not in post.text and "November" not in post.text
    assert (
        "note: 'Our autumn sale gives 20% off all cakes until the end of November.' ended on 2020-11-30: left out; "
        "the post says it has ended and states what holds now instead" in out
    )
    # The stand-in's "Fresh bread today!" is left out; the best of the three variants is a wording of the plan.
    assert post.text == "Our autumn sale has ended - thank you! We are open Monday to Saturday, 8:00 to 18:00. Find out more: https://example.com/shop"


async def test_an_image_and_its_alt_text_on_a_post(berlin_settings: Settings, tmp_path: Path) -> None:
    image = tmp_path / "bread.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "notes.txt").write_text("not an image")
    out = await run_console(berlin_settings, [
        "/compose Our new loaf",
        f"/image 1 {image} A round sourdough loaf on a board",
        "/drafts",
        f"/image 1 {tmp_path / 'nope.png'} x",
        f"/image 1 {tmp_path / 'notes.txt'}",
        "/image 7 none",
    ])
    engine = make_engine(berlin_settings.database_url)
    [post] = repo.list_posts(engine)
    assert post.images == [str(image.resolve())] and post.image_alt == "A round sourdough loaf on a board"
    assert "post #1 has 1 image(s)" in out and "no alt text" not in out
    assert "#1 console: Our new loaf [image: bread.png]" in out
    assert f"no image file '{tmp_path / 'nope.png'}'" in out
    assert "notes.txt' is not an image" in out
    assert "there is no post 7" in out
    out = await run_console(berlin_settings, [f"/image 1 {image}", "/image 1 none"])
    assert "no alt text: add a description" in out and "post #1 has no images now" in out
    [post] = repo.list_posts(engine)
    assert post.images == [] and post.image_alt == ""
    engine.dispose()


async def test_a_draft_for_several_platforms_is_one_row_each_within_its_own_limit(config_file: Path) -> None:
    config = config_file.read_text() + '\n[schedule.slots]\nx = ["09:00"]\nbluesky = ["13:00"]\n'
    config_file.write_text(config)
    settings = load_settings(config_file)
    settings.brand.length_limits["x"] = 40  # shorter than the stand-in model's 66 characters
    out = await run_console(settings, [
        "/draft @x,bluesky fresh bread and our opening hours",
        "/draft @x,nosuch fresh bread and our opening hours",
        "/queue 1",
        "/cancel 2",
        "/drafts",
    ])
    engine = make_engine(settings.database_url)
    x, bluesky = repo.list_posts(engine)
    assert (x.platform, x.group_id, bluesky.platform, bluesky.group_id) == ("x", 1, "bluesky", 1)
    assert len(x.text) <= 40 < len(bluesky.text) <= 300
    assert "/schedule 1 best (each platform at its own best time)" in out
    assert "unknown platform '@nosuch'" in out and len(repo.list_posts(engine)) == 2
    # Drafted, but this bot runs only the console: the drafts say so, and "/queue 1" schedules
    # none of the group rather than posts that would fail when due; "/cancel 2" takes only Bluesky's.
    assert "note: #1 cannot be scheduled: the bot does not run x (it runs console)" in out
    assert "note: #2 cannot be scheduled: the bot does not run bluesky (it runs console); add 'bluesky' to [connectors] enabled" in out
    assert "could not do that: post #1 cannot be scheduled: the bot does not run x" in out
    assert (x.status, bluesky.status) == (PostStatus.draft, PostStatus.cancelled)
    assert "post #2 on bluesky cancelled" in out


async def test_a_post_for_a_platform_the_bot_does_not_run_is_refused_when_scheduled(settings: Settings) -> None:
    """Not accepted now and failed when due: /compose warns, /schedule and /queue refuse, saying what to enable."""
    out = await run_console(settings, ["/compose @telegram Fresh bread at 8", "/schedule 1 in 1m", "/queue 1", "/retry 1"])
    engine = make_engine(settings.database_url)
    [post] = repo.list_posts(engine)
    engine.dispose()
    enable = "add 'telegram' to [connectors] enabled in config.toml with its [telegram] settings (README), then restart the bot"
    assert f"note: #1 cannot be scheduled: the bot does not run telegram (it runs console); {enable}" in out
    assert out.count(f"could not do that: post #1 cannot be scheduled: the bot does not run telegram (it runs console); {enable}") == 2
    assert post.status == PostStatus.draft and post.scheduled_at is None


async def test_besttime_says_what_it_rests_on_in_order(settings: Settings) -> None:
    await run_console(settings, ["/as-follower ann hi!", "/compose Fresh rolls", "/quit"])
    engine = make_engine(settings.database_url)
    [post] = repo.list_posts(engine)
    assert post.id is not None
    repo.update_post(engine, post.id, status=PostStatus.published, published_at=utcnow(), platform_post_id="p1")
    engine.dispose()
    out = await run_console(settings, ["/besttime", "/quit"])
    assert (
        "it rests on 0 of your own posts on console (their engagement) and on when your followers write (1 message); "
        "1 more post whose engagement is not in yet; it learns from every post"
    ) in out
