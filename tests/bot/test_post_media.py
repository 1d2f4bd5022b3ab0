"""/image and scheduling an Instagram post, typed by the owner on the console into a running App."""

from __future__ import annotations

from pathlib import Path

from connectors.instagram import InstagramConnector
from fakes.app import settings_with
from fakes.console_app import run_console
from fakes.graph_api import ENV, IG_ID, VERSION, FakeGraph
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus


async def test_an_instagram_post_needs_an_image_before_it_can_be_scheduled(config_file: Path, tmp_path: Path) -> None:
    graph = FakeGraph()
    await graph.start()
    settings = settings_with(config_file, f'[instagram]\nbase_url = "{graph.url}"\napi_version = "{VERSION}"\naccount_id = "{IG_ID}"\n')
    instagram = InstagramConnector(settings.instagram, env=ENV)  # the bot runs Instagram: its posts may be scheduled
    try:
        out = await run_console(settings, [
            "/compose @instagram Fresh bread this morning",
            "/schedule 1 tomorrow 18:00",
            f"/image 1 {tmp_path / 'bread.jpg'}",
            "/image 1 https://example.com/bread.jpg https://example.com/rolls.jpg",
            "/schedule 1 tomorrow 18:00",
            "/compose Closed on Monday",
            "/image 2 https://example.com/a.jpg https://example.com/b.jpg",
            "/image 9 https://example.com/a.jpg",
        ], others=[instagram])
    finally:
        await graph.stop()
    engine = make_engine(settings.database_url)
    post, plain = repo.list_posts(engine)
    assert "post #1 cannot be scheduled: instagram posts need an image; add one with /image ID URL" in out
    assert "instagram takes images by public https URL only" in out
    assert post.images == ["https://example.com/bread.jpg", "https://example.com/rolls.jpg"]
    assert post.status == PostStatus.scheduled and "post #1 scheduled for" in out
    assert "console takes at most 1 image(s) a post" in out and plain.images == []
    assert "there is no post 9" in out
    engine.dispose()
