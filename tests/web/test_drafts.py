"""The Drafts page through httpx: ranked variants per platform with their checks, then save, schedule or queue."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from storage import repo
from storage.models import PostStatus, utcnow
from tests.web.conftest import csrf_headers, form_with_csrf

import pytest

pytestmark = pytest.mark.models  # drafting reads the facts with the real sentence encoder


async def test_variants_per_platform_with_their_checks(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/drafts")
    assert page.status_code == 200 and 'hx-post="/drafts/variants"' in page.text and 'hx-indicator="#drafting"' in page.text

    headers = {**await csrf_headers(signed_in), "HX-Request": "true"}
    answer = await signed_in.post(
        "/drafts/variants", data={"topic": "fresh <b>bread</b> today", "platform": ["console", "mastodon"]}, headers=headers
    )

    assert answer.status_code == 200 and "<html" not in answer.text  # a fragment for htmx to swap in
    assert "console:" in answer.text and "mastodon:" in answer.text and "best first" in answer.text
    assert "Passes the checks" in answer.text or "Checks failed" in answer.text
    assert "<b>bread</b>" not in answer.text
    assert answer.text.count('action="/drafts/save"') >= 2


async def test_without_javascript_the_whole_page_comes_back(signed_in: httpx.AsyncClient) -> None:
    answer = await signed_in.post("/drafts/variants", data=await form_with_csrf(signed_in, {"topic": "opening hours", "platform": "console"}))
    assert answer.status_code == 200 and "<html" in answer.text and "console: " in answer.text
    empty = await signed_in.post("/drafts/variants", data=await form_with_csrf(signed_in, {"topic": " ", "platform": "console"}))
    assert empty.status_code == 400 and "write a topic first" in empty.text
    unknown = await signed_in.post("/drafts/variants", data=await form_with_csrf(signed_in, {"topic": "x", "platform": "myspace"}))
    assert "unknown platform" in unknown.text
