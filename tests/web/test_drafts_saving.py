"""Saving a drafted (and edited) post from the Drafts page: as a draft, at a time, at the best time, in the queue."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from bot.when import account_zone, as_utc, parse_when
from core.config import Settings
from storage import repo
from storage.models import PostStatus, utcnow
from tests.web.conftest import form_with_csrf


async def test_save_edit_and_schedule_a_post(signed_in: httpx.AsyncClient, engine: Engine, settings: Settings) -> None:
    zone = account_zone(settings.bot.timezone)
    saved = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "console", "text": "<i>Fresh</i> bread", "action": "draft"}))
    assert saved.status_code == 303 and saved.headers["location"] == "/drafts"
    [draft] = repo.posts_with_status(engine, [PostStatus.draft])
    page = await signed_in.get("/drafts")
    assert f"draft #{draft.id} saved for console" in page.text and "&lt;i&gt;Fresh&lt;/i&gt; bread" in page.text

    edited = await signed_in.post(f"/drafts/{draft.id}/edit", data=await form_with_csrf(signed_in, {"text": "Fresh rye bread"}))
    assert edited.status_code == 303 and repo.get_post(engine, draft.id).text == "Fresh rye bread"  # type: ignore[arg-type, union-attr]

    at = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "console", "text": "Sale Friday", "action": "at", "when": "tomorrow 9:30"}))
    assert at.status_code == 303 and at.headers["location"].startswith("/calendar?view=week")
    post = repo.list_posts(engine)[-1]
    assert post.status == PostStatus.scheduled and as_utc(post.scheduled_at) == parse_when("tomorrow 9:30", zone, utcnow())  # type: ignore[arg-type]
    assert f"post #{post.id} scheduled for" in (await signed_in.get(at.headers["location"])).text

    best = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "console", "text": "Best one", "action": "best"}))
    assert best.status_code == 303
    post = repo.list_posts(engine)[-1]
    assert post.text == "Best one" and post.status == PostStatus.scheduled and as_utc(post.scheduled_at) > utcnow()  # type: ignore[arg-type]


async def test_refusals_keep_the_owner_informed(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    too_long = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "bluesky", "text": "x" * 400, "action": "draft"}))
    assert too_long.status_code == 303
    assert "bluesky allows 300 characters; this text has 400" in (await signed_in.get("/drafts")).text
    no_when = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "console", "text": "hi", "action": "at"}))
    assert no_when.status_code == 303 and "say when to publish it" in (await signed_in.get("/drafts")).text
    queue = await signed_in.post("/drafts/save", data=await form_with_csrf(signed_in, {"platform": "console", "text": "queued", "action": "queue"}))
    assert queue.status_code == 303 and "no queue slots for console" in (await signed_in.get("/drafts")).text
    assert [p.text for p in repo.posts_with_status(engine, [PostStatus.draft])] == ["queued"]  # kept as a draft
    forged = await signed_in.post("/drafts/save", data={"platform": "console", "text": "x", "action": "draft", "csrf_token": "no"})
    assert forged.status_code == 403
    assert (await signed_in.post("/drafts/variants", data={"topic": "x", "platform": "console"})).status_code == 403
