"""The Calendar page through httpx: week and month views, the heatmap and its pick, and the post actions."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy.engine import Engine

from bot.when import account_zone, as_utc, parse_when
from core.config import Settings
from storage import repo
from storage.models import PostStatus, utcnow
from tests.web.conftest import form_with_csrf


def _post(engine: Engine, text: str, status: PostStatus, hours: float) -> int:
    post = repo.add_post(engine, platform="console", text=text, status=status, scheduled_at=utcnow() + timedelta(hours=hours))
    assert post.id is not None
    return post.id


async def test_signed_out_every_calendar_route_redirects(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/calendar?view=month")).status_code == 303
    answer = await anonymous.post("/calendar/posts/1/cancel", data={"csrf_token": "x"})
    assert answer.status_code in (303, 403)


async def test_week_shows_posts_over_the_heatmap_with_the_pick(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    soon = _post(engine, "<script>alert(1)</script> sale", PostStatus.scheduled, 2)
    failed = _post(engine, "went wrong", PostStatus.failed, -1)
    repo.update_post(engine, failed, error="the platform said 400 <b>bad</b>")
    _post(engine, "cancelled one", PostStatus.cancelled, 3)

    page = await signed_in.get("/calendar")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; sale" in page.text and "<script>alert" not in page.text
    assert "the platform said 400 &lt;b&gt;bad&lt;/b&gt;" in page.text
    assert f'id="post-{soon}"' in page.text and f'id="post-{failed}"' in page.text
    assert "cancelled one" not in page.text
    assert len(re.findall(r'<td class="heat-\d', page.text)) == 7 * 24  # the model's heatmap behind every hour
    assert len(re.findall(r'<td class="heat-\d pick"', page.text)) == 1  # one best hour, with its reason
    assert "Best time this week on console" in page.text and "exploratory pick" in page.text
    assert f'action="/calendar/posts/{failed}/retry"' in page.text  # retry only where it applies
    assert f'action="/calendar/posts/{soon}/retry"' not in page.text


async def test_month_and_other_weeks(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    _post(engine, "next month", PostStatus.scheduled, 24 * 40)
    month = await signed_in.get("/calendar?view=month")
    assert month.status_code == 200 and 'aria-current="page">Month' in month.text
    later = (utcnow() + timedelta(days=40)).date()
    ahead = await signed_in.get(f"/calendar?view=month&start={later.isoformat()}")
    assert "next month" in ahead.text
    past_week = await signed_in.get("/calendar?start=2020-01-06")
    assert past_week.status_code == 200 and "This week is over" in past_week.text
    assert (await signed_in.get("/calendar?start=not-a-date")).status_code == 200  # falls back to this week


async def test_reschedule_best_time_cancel_and_retry(signed_in: httpx.AsyncClient, engine: Engine, settings: Settings) -> None:
    zone = account_zone(settings.bot.timezone)
    moved = _post(engine, "move me", PostStatus.scheduled, 5)
    best = _post(engine, "best time", PostStatus.draft, 0)
    failed = _post(engine, "retry me", PostStatus.missed, -3)

    answer = await signed_in.post(f"/calendar/posts/{moved}/schedule", data=await form_with_csrf(signed_in, {"when": "tomorrow 18:00", "back": "/calendar?view=month"}))
    assert answer.status_code == 303 and answer.headers["location"] == "/calendar?view=month"
    assert as_utc(repo.get_post(engine, moved).scheduled_at) == parse_when("tomorrow 18:00", zone, utcnow())  # type: ignore[union-attr, arg-type]
    shown = await signed_in.get("/calendar?view=month")
    assert f"post #{moved} scheduled for" in shown.text

    await signed_in.post(f"/calendar/posts/{best}/schedule", data=await form_with_csrf(signed_in, {"best": "1"}))
    post = repo.get_post(engine, best)
    assert post is not None and post.status == PostStatus.scheduled and as_utc(post.scheduled_at) > utcnow()  # type: ignore[arg-type]
    assert "exploratory pick" in (await signed_in.get("/calendar")).text  # the reason, as /schedule ID best says it

    await signed_in.post(f"/calendar/posts/{failed}/retry", data=await form_with_csrf(signed_in))
    post = repo.get_post(engine, failed)
    assert post is not None and post.status == PostStatus.scheduled and as_utc(post.scheduled_at) <= utcnow()  # type: ignore[arg-type]

    await signed_in.post(f"/calendar/posts/{moved}/cancel", data=await form_with_csrf(signed_in))
    assert repo.get_post(engine, moved).status == PostStatus.cancelled  # type: ignore[union-attr]


async def test_bad_actions_say_why_and_change_nothing(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    draft = _post(engine, "draft", PostStatus.draft, 1)
    published = _post(engine, "out", PostStatus.published, -1)
    for path, data, why in [
        (f"/calendar/posts/{draft}/schedule", {"when": "yesterday"}, "cannot read"),
        (f"/calendar/posts/{draft}/schedule", {"when": "2020-01-01 10:00"}, "has already passed"),
        (f"/calendar/posts/{draft}/retry", {}, "only a failed or missed post is retried"),
        (f"/calendar/posts/{published}/cancel", {}, "cannot be changed now"),
        ("/calendar/posts/999/cancel", {}, "no post"),
        (f"/calendar/posts/{draft}/schedule", {"when": "in 2h", "back": "https://evil.example/"}, ""),
    ]:
        answer = await signed_in.post(path, data=await form_with_csrf(signed_in, data))
        assert answer.status_code == 303 and answer.headers["location"].startswith("/calendar"), path
        if why:
            assert why in (await signed_in.get("/calendar")).text, why
    assert repo.get_post(engine, published).status == PostStatus.published  # type: ignore[union-attr]


async def test_a_post_without_the_csrf_token_is_refused(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    post = _post(engine, "keep me", PostStatus.scheduled, 4)
    for data in ({}, {"csrf_token": "forged"}):
        answer = await signed_in.post(f"/calendar/posts/{post}/cancel", data=data)
        assert answer.status_code == 403
    assert repo.get_post(engine, post).status == PostStatus.scheduled  # type: ignore[union-attr]
