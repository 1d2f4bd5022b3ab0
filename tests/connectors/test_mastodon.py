"""The Mastodon connector on the real Mastodon.py, against a local fake Mastodon server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.publisher import Publisher
from connectors.base import OutgoingPost
from connectors.mastodon import CURSOR, MastodonConnector
from core.addressing import MessageKind, ReplyAddress, Visibility
from core.config import Settings
from core.errors import ConfigError, ConnectorError
from storage import repo
from storage.models import MessageStatus, PostStatus, utcnow
from fakes.app import (
    FAST_DELIVERY,
    TINY_PNG,
    running,
    settings_with,
    stored_messages,
    wait_failed_send,
    wait_status,
    wait_stored,
)
from fakes.mastodon_api import BOT_ACCT, BOT_ID, MAX_CHARACTERS, TOKEN, FakeMastodon, account, rate_limited

OWNER = "boss@example.social"
FAN = account("2001", "fan@other.social")


@pytest.fixture
async def fake() -> AsyncIterator[FakeMastodon]:
    server = FakeMastodon()
    await server.start()
    yield server
    await server.stop()


def mastodon_settings(config_file: Path, fake: FakeMastodon) -> Settings:
    text = config_file.read_text(encoding="utf-8").replace("[owners]\n", f'[owners]\nmastodon = ["{OWNER}"]\n')
    config_file.write_text(text, encoding="utf-8")
    return settings_with(
        config_file,
        f"""
[policy]
auto_reply_platforms = ["mastodon"]

[mastodon]
api_base_url = "{fake.url}"
poll_interval_s = 0.05
{FAST_DELIVERY}
""",
    )


@pytest.fixture
def settings(config_file: Path, fake: FakeMastodon) -> Settings:
    return mastodon_settings(config_file, fake)


def connector(settings: Settings, token: str = TOKEN) -> MastodonConnector:
    return MastodonConnector(settings.mastodon, env={"MASTODON_ACCESS_TOKEN": token})


async def started(settings: Settings, fake: FakeMastodon) -> MastodonConnector:
    """A connector that has read its account and the instance (for publishing without the app)."""
    c = connector(settings)
    await c.start(_NoInbox())
    return c


class _NoInbox:
    async def store(self, messages: object, cursor: object = None) -> None:
        pass

    async def cursor(self, name: str) -> str | None:
        return "0"


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
async def test_mention_is_answered_in_its_thread_with_its_visibility(
    settings: Settings, fake: FakeMastodon, visibility: str
) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")  # polling has begun: what comes now is new
        note = fake.mention("hi there!", author=FAN, visibility=visibility)
        [call] = await fake.wait_for("statuses")
        [stored] = await wait_status(app, MessageStatus.replied)
    status = note["status"]
    assert call.params["in_reply_to_id"] == status["id"]
    # A direct message is answered directly, never in public; the others keep their reach.
    assert call.params["visibility"] == visibility
    assert call.params["status"].startswith("@fan@other.social ")  # a direct status reaches only those it names
    assert call.params["idempotency_key"]
    [reply] = fake.posted()
    assert reply["in_reply_to_id"] == status["id"] and reply["visibility"] == visibility
    assert stored.platform_message_id == status["id"] and stored.text == "hi there!"
    assert stored.chat_id == "fan@other.social"
    assert stored.kind == ("private" if visibility == "direct" else "mention")


async def test_the_streaming_api_wakes_the_poller(config_file: Path, fake: FakeMastodon) -> None:
    settings = mastodon_settings(config_file, fake)
    settings.mastodon.poll_interval_s = 60  # only a streamed notification makes it poll again in time
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        await fake.wait_for("streaming")
        fake.mention("hi there!", author=FAN)
        await fake.wait_for("statuses")
        await wait_status(app, MessageStatus.replied)
    polls = [c for c in fake.calls_to("notifications") if "min_id" in c.params]
    assert len(polls) == 2  # the first, and the one the stream asked for


async def test_polling_goes_on_while_streaming_is_down(
    settings: Settings, fake: FakeMastodon, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("streaming", 503, {"error": "streaming is down"}, times=100)
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("streaming")
        fake.mention("hi there!", author=FAN)
        await wait_status(app, MessageStatus.replied)
    assert any("mastodon streaming interrupted (ClientResponseError: 503" in r.getMessage() for r in caplog.records)


async def test_reply_to_our_post_is_a_comment_in_its_thread(settings: Settings, fake: FakeMastodon) -> None:
    c = connector(settings)
    async with running(settings, c) as app:
        await fake.wait_for("notifications")
        ours = fake.statuses[await c.publish(OutgoingPost(text="Fresh bread at 8!", idempotency_key="p1"))]
        fake.notify(fake.status("<p>@acme thanks, see you there!</p>", author=FAN, in_reply_to=ours))
        calls = await fake.wait_for("statuses", 2)
        [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.kind == "comment" and stored.thread_id == ours["id"]
    assert calls[1].params["in_reply_to_id"] == stored.platform_message_id


async def test_html_becomes_plain_text_with_links_mentions_and_emoji(settings: Settings, fake: FakeMastodon) -> None:
    content = (
        '<p><span class="h-card"><a href="https://example.social/@acme" class="u-url mention">@<span>acme</span></a>'
        '</span> is this open? &lt;3 🍰 :blobcat:</p><p>see <a href="https://example.com/shop/cakes" rel="nofollow">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com/shop/ca</span>'
        '<span class="invisible">kes</span></a><br>cc <span class="h-card"><a href="https://other.social/@bob" '
        'class="u-url mention">@<span>bob</span></a></span></p>'
    )
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        fake.notify(fake.status(content, author=FAN))
        [stored] = await wait_stored(app, 1)
    assert stored.text == "is this open? <3 🍰 :blobcat:\n\nsee https://example.com/shop/cakes\ncc @bob"


async def test_own_statuses_boosts_and_silenced_accounts_are_never_answered(settings: Settings, fake: FakeMastodon) -> None:
    blocked, muted = account("3001", "troll@bad.social"), account("3002", "noisy@loud.social")
    fake.blocked, fake.muted = [blocked], [muted]
    me = account(BOT_ID, BOT_ACCT)
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        fake.mention("hello me", author=me)
        fake.mention("hi there!", author=FAN, reblog={"id": "1"})
        fake.mention("hi there!", author=blocked)
        fake.mention("hi there!", author=muted)
        for kind in ("favourite", "reblog", "follow", "some_future_type"):
            fake.notify(None, kind=kind)
        last = fake.mention("hi there!", author=FAN)
        [call] = await fake.wait_for("statuses")
        [stored] = await wait_status(app, MessageStatus.replied)
        assert app.engine is not None
        assert repo.get_cursor(app.engine, CURSOR) == last["id"]
    assert call.params["in_reply_to_id"] == stored.platform_message_id == last["status"]["id"]
    assert len(stored_messages(app)) == 1


async def test_malformed_and_deleted_notifications_are_skipped_with_one_line(
    settings: Settings, fake: FakeMastodon, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        broken = fake.mention("hi there!", author=FAN)
        del broken["status"]["account"]
        fake.notify(None, kind="mention")  # the status was deleted before we looked
        odd = fake.mention("hi there!", author=FAN)
        odd["status"]["visibility"] = "limited"  # a visibility this connector does not know
        nameless = fake.mention("hi there!", author=account("2002", "x@y.z"))
        nameless["status"]["account"]["id"] = None
        not_a_status = fake.notify(None, kind="mention")
        not_a_status["status"] = "<p>hi</p>"
        fake.notifications.append({"id": fake.next_id(), "what": "no type at all"})
        good = fake.mention("hi there!", author=FAN)
        with caplog.at_level(logging.INFO, logger="connectors.mastodon_statuses"):
            await fake.wait_for("statuses")
            [stored] = await wait_status(app, MessageStatus.replied)
    assert stored.platform_message_id == good["status"]["id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.mastodon_statuses"]
    assert len(lines) == 5, lines
    assert f"notification {broken['id']} is malformed" in lines[0]
    assert "deleted" in lines[1]
    assert f"notification {odd['id']} is malformed" in lines[2]
    assert f"notification {nameless['id']} is malformed" in lines[3]
    assert f"notification {not_a_status['id']} is malformed" in lines[4]


async def test_first_start_leaves_history_and_a_restart_neither_skips_nor_repeats(
    settings: Settings, fake: FakeMastodon
) -> None:
    old = fake.mention("hi there!", author=FAN)  # before the bot ever ran: history
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        first = [fake.mention("hi there!", author=FAN) for _ in range(3)]
        await wait_stored(app, 3)
    while_down = [fake.mention("hi there!", author=FAN) for _ in range(45)]  # more than one page
    async with running(settings, connector(settings)) as app:
        await wait_stored(app, 48)
        polls = len(fake.calls_to("notifications"))
        await fake.wait_for("notifications", polls + 3)  # a few more polls: nothing comes twice
        stored = stored_messages(app)
    ids = sorted(m.platform_message_id for m in stored)
    assert ids == sorted(n["status"]["id"] for n in first + while_down)
    assert old["status"]["id"] not in ids
    answered = [s["in_reply_to_id"] for s in fake.posted() if s["in_reply_to_id"]]
    assert len(answered) == len(set(answered)) and set(answered) <= set(ids)  # none answered twice


async def test_direct_owner_message_is_a_command(settings: Settings, fake: FakeMastodon) -> None:
    boss = account("4001", OWNER)
    async with running(settings, connector(settings)):
        await fake.wait_for("notifications")
        fake.mention("/help", author=boss, visibility="direct")
        [call] = await fake.wait_for("statuses")
    assert call.params["visibility"] == "direct"
    assert call.params["status"].startswith(f"@{OWNER} ")


async def test_post_with_an_image_and_its_alt_text(settings: Settings, fake: FakeMastodon, tmp_path: Path) -> None:
    image = tmp_path / "bread.png"
    image.write_bytes(TINY_PNG)
    c = await started(settings, fake)
    try:
        post_id = await c.publish(
            OutgoingPost(text="Our new loaf", image_path=str(image), image_alt="A round sourdough loaf", idempotency_key="k1")
        )
    finally:
        await c.stop()
    [upload] = fake.calls_to("media")
    assert upload.params["description"] == "A round sourdough loaf"
    [media] = fake.media.values()
    assert media["_bytes"] == len(TINY_PNG) and media["_content_type"] == "image/png"
    status = fake.statuses[post_id]
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    assert status["content"] == "Our new loaf" and status["visibility"] == "public"
    assert fake.calls_to("statuses")[0].params["idempotency_key"] == "k1"


async def _publish_due(publisher: Publisher, engine: Engine) -> list[PostStatus | None]:
    now = utcnow()
    posts = await publisher.claim_due(now, not_before=now - timedelta(hours=1), limit=10)
    outcomes = [(await publisher.publish(post)).status for post in posts]
    await publisher.flush()
    return outcomes


async def test_a_scheduled_post_with_an_image_waits_for_processing_and_a_missing_image_fails_only_its_post(
    settings: Settings, fake: FakeMastodon, engine: Engine, tmp_path: Path
) -> None:
    """Through the real publisher: the row's image and alt text reach the instance; an upload
    still being processed (202, then 206) is waited for; a post whose file is gone fails alone."""
    image = tmp_path / "bread.png"
    image.write_bytes(TINY_PNG)
    fake.processing_polls = 2
    told: list[str] = []

    async def notify(platform: str, text: str) -> None:
        told.append(text)

    now = utcnow()
    with_image = repo.add_post(engine, platform="mastodon", text="Our new loaf", status=PostStatus.scheduled, scheduled_at=now)
    gone = repo.add_post(engine, platform="mastodon", text="Croissants", status=PostStatus.scheduled, scheduled_at=now)
    plain = repo.add_post(engine, platform="mastodon", text="Open at 8", status=PostStatus.scheduled, scheduled_at=now)
    repo.update_post(engine, with_image.id, media=str(image), image_alt="A round sourdough loaf")  # type: ignore[arg-type]
    repo.update_post(engine, gone.id, media=str(tmp_path / "moved.png"), image_alt="Croissants")  # type: ignore[arg-type]
    c = await started(settings, fake)
    try:
        outcomes = await _publish_due(Publisher(engine, {c.platform: c}, settings.schedule, notify), engine)
    finally:
        await c.stop()
    assert sorted(map(str, outcomes)) == ["failed", "published", "published"]
    rows = {p.text: p for p in repo.list_posts(engine)}
    [media] = fake.media.values()
    assert media["description"] == "A round sourdough loaf"
    assert len(fake.calls_to("media_get")) == 3  # 206 twice while processing, then the url
    by_text = {s["content"]: s for s in fake.posted()}
    assert set(by_text) == {"Our new loaf", "Open at 8"}
    assert [m["id"] for m in by_text["Our new loaf"]["media_attachments"]] == [media["id"]]
    assert rows["Our new loaf"].platform_post_id == by_text["Our new loaf"]["id"]
    failed = rows["Croissants"]
    assert failed.status == PostStatus.failed and f"its image {tmp_path / 'moved.png'} is missing" in (failed.error or "")
    assert told == [f"post #{gone.id} failed: {failed.error}"]


async def test_a_publish_retried_with_its_key_is_one_status(settings: Settings, fake: FakeMastodon) -> None:
    c = await started(settings, fake)
    try:
        first = await c.publish(OutgoingPost(text="Open today", idempotency_key="post-7"))
        again = await c.publish(OutgoingPost(text="Open today", idempotency_key="post-7"))  # after a crash
        other = await c.publish(OutgoingPost(text="Open today", idempotency_key="post-8"))
    finally:
        await c.stop()
    assert first == again != other
    assert len(fake.posted()) == 2


async def test_the_instance_limit_is_read_from_the_instance(settings: Settings, fake: FakeMastodon) -> None:
    c = await started(settings, fake)
    try:
        assert c.max_characters == MAX_CHARACTERS
        long_ok = "x" * 600  # over Mastodon's default 500, within this instance's 640
        await c.publish(OutgoingPost(text=long_ok, idempotency_key="a"))
        link = "https://example.com/" + "y" * 200  # Mastodon counts a link as 23 characters
        await c.publish(OutgoingPost(text="z" * 600 + " " + link, idempotency_key="b"))
        with pytest.raises(ConnectorError, match=f"641 characters; this instance allows {MAX_CHARACTERS}"):
            await c.publish(OutgoingPost(text="x" * 641, idempotency_key="c"))
    finally:
        await c.stop()
    assert len(fake.posted()) == 2


async def test_429_waits_for_the_reset_time_then_succeeds(settings: Settings, fake: FakeMastodon) -> None:
    fake.fail_next("statuses", *rate_limited(1.5))
    c = await started(settings, fake)
    try:
        post_id = await c.publish(OutgoingPost(text="Open today", idempotency_key="k"))
    finally:
        await c.stop()
    first, second = fake.calls_to("statuses")
    assert second.at - first.at >= 0.4  # waited for X-RateLimit-Reset (its Date is whole seconds), not the backoff
    assert [s["id"] for s in fake.posted()] == [post_id]


async def test_5xx_is_retried_with_the_same_key(settings: Settings, fake: FakeMastodon) -> None:
    fake.fail_next("statuses", 503, {"error": "Service Unavailable"})
    c = await started(settings, fake)
    try:
        post_id = await c.publish(OutgoingPost(text="Open today", idempotency_key="k"))
    finally:
        await c.stop()
    keys = [call.params["idempotency_key"] for call in fake.calls_to("statuses")]
    assert keys == ["k", "k"]
    assert [s["id"] for s in fake.posted()] == [post_id]


async def test_4xx_reply_is_recorded_not_retried(settings: Settings, fake: FakeMastodon) -> None:
    fake.fail_next("statuses", 422, {"error": "Validation failed: Text can't be blank"})
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        fake.mention("hi there!", author=FAN)
        reply = await wait_failed_send(app)
    assert "HTTP 422: Validation failed: Text can't be blank" in (reply.error or "")
    replies = [c for c in fake.calls_to("statuses") if c.params.get("in_reply_to_id")]
    assert len(replies) == 1  # a 4xx is not tried again
    assert not any(s["in_reply_to_id"] for s in fake.posted())


async def test_polling_survives_5xx_and_429(settings: Settings, fake: FakeMastodon) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("notifications")
        fake.fail_next("notifications", 502, {"error": "Bad Gateway"})
        fake.fail_next("notifications", *rate_limited(0.5))
        fake.mention("hi there!", author=FAN)
        await wait_status(app, MessageStatus.replied)
    assert len(stored_messages(app)) == 1


async def test_engagement_of_a_published_post(settings: Settings, fake: FakeMastodon) -> None:
    c = await started(settings, fake)
    try:
        post_id = await c.publish(OutgoingPost(text="Open today", idempotency_key="k"))
        fake.statuses[post_id].update(favourites_count=7, reblogs_count=2)
        fake.status("<p>yay</p>", author=FAN, in_reply_to=fake.statuses[post_id])
        counts = await c.fetch_engagement(post_id)
        gone = await c.fetch_engagement("999")
    finally:
        await c.stop()
    assert counts == {"favourites": 7, "boosts": 2, "replies": 1}
    assert gone is None


async def test_a_wrong_token_stops_the_connector_naming_the_setting(settings: Settings, fake: FakeMastodon) -> None:
    with pytest.raises(ConnectorError) as raised:
        async with running(settings, connector(settings, token="wrong")):
            pass
    message = str(raised.value)
    assert "\n" not in message
    assert "$MASTODON_ACCESS_TOKEN (mastodon.access_token_env)" in message and "access token is invalid" in message


def test_a_missing_token_names_the_variable(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="MASTODON_ACCESS_TOKEN"):
        MastodonConnector(settings.mastodon, env={})


async def test_a_scheduled_post_is_published_once_and_its_engagement_collected(
    settings: Settings, fake: FakeMastodon, engine: Engine
) -> None:
    """Through the real publisher: the post's key is the Idempotency-Key, and the engagement sweep's
    call stores favourites + boosts + replies."""
    told: list[str] = []

    async def notify(platform: str, text: str) -> None:
        told.append(text)

    c = await started(settings, fake)
    publisher = Publisher(engine, {c.platform: c}, settings.schedule, notify)
    now = utcnow()
    repo.add_post(engine, platform="mastodon", text="Fresh bread at 8!", status=PostStatus.scheduled, scheduled_at=now)
    try:
        [post] = await publisher.claim_due(now, not_before=now - timedelta(hours=1), limit=1)
        outcome = await publisher.publish(post)
        await publisher.flush()  # on an idempotent platform the row is written with the next group
        assert post.id is not None
        published = repo.get_post(engine, post.id)
        assert outcome.status == PostStatus.published and published is not None
        assert published.engagement_due_at is not None  # the sweep will ask this connector
        status = fake.statuses[str(published.platform_post_id)]
        status.update(favourites_count=5, reblogs_count=1)
        await publisher.collect_engagement(post.id)
    finally:
        await c.stop()
    [call] = fake.calls_to("statuses")
    assert call.params["idempotency_key"] == post.publish_key
    [(_, interactions)] = repo.published_engagement(engine, "mastodon")
    assert interactions == 6 and told == []


async def test_a_reply_sent_again_after_a_crash_is_one_status(settings: Settings, fake: FakeMastodon) -> None:
    question = fake.status("<p>@acme open on Sunday?</p>", author=FAN, visibility="direct")
    to = ReplyAddress(MessageKind.private, Visibility.direct, chat_id="fan@other.social", message_id=question["id"])
    c = await started(settings, fake)
    try:
        first = await c.send_reply(to, "No, Monday to Saturday.")
        again = await c.send_reply(to, "No, Monday to Saturday.")  # the bot died before it noted the first
        with pytest.raises(ConnectorError, match="cannot answer a group mention"):
            await c.send_reply(ReplyAddress(MessageKind.mention, Visibility.group, "fan@other.social", question["id"]), "x")
    finally:
        await c.stop()
    assert first == again
    [reply] = fake.posted()
    assert reply["visibility"] == "direct" and reply["in_reply_to_id"] == question["id"]


async def test_a_token_without_the_read_scope_names_the_setting(settings: Settings, fake: FakeMastodon) -> None:
    fake.fail_next("blocks", 403, {"error": "This action is outside the authorized scopes"})
    with pytest.raises(ConnectorError, match=r"\(mastodon.access_token_env\): HTTP 403"):
        async with running(settings, connector(settings)):
            pass
