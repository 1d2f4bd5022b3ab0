"""The Bluesky connector on the real atproto SDK, against a local fake PDS/AppView speaking XRPC."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.publisher import Publisher
from connectors.base import OutgoingPost
from connectors.bluesky import CURSOR, BlueskyConnector
from connectors.bluesky_posts import MAX_GRAPHEMES, NotificationCursor, StrongRef, graphemes, record_key
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
from fakes.bluesky_api import BOT_DID, HANDLE, PASSWORD, FakeBluesky, actor, rate_limited

FAN = actor("did:plc:fan00000000000000000000", "fan.bsky.social")
FRIEND = actor("did:plc:friend000000000000000000", "friend.example.com")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    server = FakeBluesky()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(config_file: Path, fake: FakeBluesky) -> Settings:
    return settings_with(
        config_file,
        f"""
[policy]
auto_reply_platforms = ["bluesky"]

[bluesky]
base_url = "{fake.url}"
poll_interval_s = 0.05
{FAST_DELIVERY}
""",
    )


def connector(settings: Settings, password: str = PASSWORD) -> BlueskyConnector:
    return BlueskyConnector(settings.bluesky, env={"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": password})


class _NoInbox:
    async def store(self, messages: object, cursor: object = None) -> None:
        pass

    async def cursor(self, name: str) -> str | None:
        return str(NotificationCursor(""))


async def started(settings: Settings) -> BlueskyConnector:
    """A logged-in connector (for sending without the app)."""
    c = connector(settings)
    await c.start(_NoInbox())
    return c


def reply_of(post: dict[str, object]) -> dict[str, dict[str, str]]:
    """A reply record's root and parent strong refs (uri and cid)."""
    record = post["record"]
    assert isinstance(record, dict)
    return {k: {"uri": ref["uri"], "cid": ref["cid"]} for k, ref in record["reply"].items() if k in ("root", "parent")}


async def test_a_mention_is_answered_under_it_as_the_root_of_its_thread(settings: Settings, fake: FakeBluesky) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")  # polling has begun: what comes now is new
        note = fake.mention("hi there! 👋🏽", author=FAN)
        await fake.wait_for("com.atproto.repo.createRecord")
        [stored] = await wait_status(app, MessageStatus.replied)
    [answer] = fake.ours()
    ref = {"uri": note["uri"], "cid": note["cid"]}
    assert reply_of(answer) == {"root": ref, "parent": ref}
    assert stored.platform_message_id == note["uri"] and stored.text == "hi there! 👋🏽"
    assert stored.kind == "mention" and stored.visibility == "public" and stored.chat_id == FAN["did"]
    assert StrongRef.parse(stored.reply_to_id) == StrongRef(note["uri"], note["cid"])


async def test_a_reply_deep_in_a_thread_keeps_the_thread_root(settings: Settings, fake: FakeBluesky) -> None:
    c = connector(settings)
    async with running(settings, c) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        root = fake.posts[await c.publish(OutgoingPost(text="Fresh bread at 8!"))]
        middle = fake.post("which bread?", author=FRIEND, reply_to=root)
        question = fake.notify(fake.post("hi there!", author=FAN, reply_to=middle), reason="reply")
        await fake.wait_for("com.atproto.repo.createRecord", 2)
        [stored] = await wait_status(app, MessageStatus.replied)
    answer = fake.ours()[-1]
    assert reply_of(answer) == {
        "root": {"uri": root["uri"], "cid": root["cid"]},
        "parent": {"uri": question["uri"], "cid": question["cid"]},
    }
    assert stored.kind == "comment" and stored.thread_id == f"{root['uri']} {root['cid']}"


async def test_quotes_are_messages_and_our_own_posts_and_likes_are_not(settings: Settings, fake: FakeBluesky) -> None:
    c = connector(settings)
    async with running(settings, c) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        ours = fake.posts[await c.publish(OutgoingPost(text="New cakes today"))]
        fake.notify(fake.post("talking to myself", author=fake.ours()[0]["author"], reply_to=ours), reason="reply")
        fake.notify(None, reason="like")
        fake.notify(None, reason="follow")
        fake.notify(None, reason="some-future-reason")
        quote = fake.notify(fake.post("hi there!", author=FAN, quote=ours), reason="quote")
        await fake.wait_for("com.atproto.repo.createRecord", 2)
        [stored] = await wait_status(app, MessageStatus.replied)
        assert app.engine is not None
        cursor = NotificationCursor.parse(repo.get_cursor(app.engine, CURSOR) or "")
    assert stored.platform_message_id == quote["uri"] and stored.kind == "mention"
    assert len(stored_messages(app)) == 1
    assert cursor.indexed_at == quote["indexedAt"] and cursor.uris == (quote["uri"],)


async def test_malformed_and_deleted_notifications_are_skipped_with_one_line(
    settings: Settings, fake: FakeBluesky, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        deleted = fake.mention("hi", author=FAN)
        deleted["record"] = {}  # the post was deleted before we looked
        nameless = fake.mention("hi", author=FAN)
        nameless["author"] = {"handle": "x.bsky.social"}
        odd = fake.mention("hi", author=FAN)
        odd["record"] = {**odd["record"], "reply": {"root": "not a ref"}}
        unplaced = fake.mention("hi", author=FAN)
        del unplaced["indexedAt"]
        good = fake.mention("hi there!", author=FAN)
        with caplog.at_level(logging.INFO, logger="connectors.bluesky"):
            await fake.wait_for("com.atproto.repo.createRecord")
            [stored] = await wait_status(app, MessageStatus.replied)
            polls = len(fake.calls_to("app.bsky.notification.listNotifications"))
            await fake.wait_for("app.bsky.notification.listNotifications", polls + 3)  # still on the page: said once
    assert stored.platform_message_id == good["uri"]
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.bluesky" and "notification" in r.getMessage()]
    assert len(lines) == 4, lines
    assert "no uri or indexedAt" in lines[0]
    assert f"{deleted['uri']} skipped: its post was deleted" in lines[1]
    assert f"{nameless['uri']} is malformed (it names no author)" in lines[2]
    assert f"{odd['uri']} is malformed (not a strong ref" in lines[3]


async def test_first_start_leaves_history_and_a_restart_neither_skips_nor_repeats(
    settings: Settings, fake: FakeBluesky
) -> None:
    old = fake.mention("hello?", author=FAN)  # before the bot ever ran: history
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        first = [fake.mention(f"first {i}", author=FAN) for i in range(3)]
        await wait_stored(app, 3)
    while_down = [fake.mention(f"down {i}", author=FAN) for i in range(60)]  # more than one page
    async with running(settings, connector(settings)) as app:
        await wait_stored(app, 63)
        polls = len(fake.calls_to("app.bsky.notification.listNotifications"))
        await fake.wait_for("app.bsky.notification.listNotifications", polls + 3)  # a few more polls: nothing comes twice
        stored = stored_messages(app)
    ids = sorted(m.platform_message_id for m in stored)
    assert ids == sorted(n["uri"] for n in first + while_down)
    assert old["uri"] not in ids
    parents = [reply_of(p)["parent"]["uri"] for p in fake.ours()]
    assert len(parents) == len(set(parents)) and set(parents) <= set(ids)  # none answered twice


async def test_a_post_with_a_link_a_hashtag_a_mention_and_an_image(
    settings: Settings, fake: FakeBluesky, tmp_path: Path
) -> None:
    fake.handles[FRIEND["handle"]] = FRIEND["did"]
    image = tmp_path / "bread.png"
    image.write_bytes(TINY_PNG)
    text = "🥖👩🏽‍🍳 New rye with @friend.example.com! #sourdough https://example.com/shop/rye and @nobody.bsky.social"
    c = await started(settings)
    try:
        uri = await c.publish(OutgoingPost(text=text, image_path=str(image), image_alt="A dark rye loaf on a board"))
    finally:
        await c.stop()
    record = fake.posts[uri]["record"]
    assert record["text"] == text
    data = text.encode()
    by_kind = {f["features"][0]["$type"]: f for f in record["facets"]}
    assert set(by_kind) == {"app.bsky.richtext.facet#mention", "app.bsky.richtext.facet#tag", "app.bsky.richtext.facet#link"}

    def span(kind: str) -> bytes:
        index = by_kind[kind]["index"]
        return data[index["byteStart"] : index["byteEnd"]]

    # Offsets are UTF-8 bytes: the emoji before them are 4 to 8 bytes each, not 1 or 2.
    assert span("app.bsky.richtext.facet#mention") == b"@friend.example.com"
    assert by_kind["app.bsky.richtext.facet#mention"]["features"][0]["did"] == FRIEND["did"]
    assert span("app.bsky.richtext.facet#tag") == b"#sourdough"
    assert by_kind["app.bsky.richtext.facet#tag"]["features"][0]["tag"] == "sourdough"
    assert span("app.bsky.richtext.facet#link") == b"https://example.com/shop/rye"
    assert by_kind["app.bsky.richtext.facet#link"]["features"][0]["uri"] == "https://example.com/shop/rye"
    # A handle that does not resolve is left as text.
    assert [c.params["handle"] for c in fake.calls_to("com.atproto.identity.resolveHandle")] == [
        "friend.example.com",
        "nobody.bsky.social",
    ]
    [blob] = fake.blobs.values()
    assert blob["_bytes"] == TINY_PNG
    [shown] = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert shown["alt"] == "A dark rye loaf on a board" and shown["image"]["ref"] == blob["ref"]


def test_graphemes_count_what_a_reader_sees() -> None:
    assert graphemes("abc") == 3
    assert graphemes("👍🏽") == 1  # a skin tone modifier
    assert graphemes("👩🏽‍🍳") == 1  # ZWJ sequence with a modifier
    assert graphemes("👨‍👩‍👧‍👦") == 1
    assert graphemes("🇫🇷🇩🇪") == 2  # flags: two regional indicators each
    assert graphemes("é") == 1  # e + combining accent
    assert len("👩🏽‍🍳" * 300) == 1200


async def test_over_300_graphemes_is_refused_before_sending(settings: Settings, fake: FakeBluesky) -> None:
    c = await started(settings)
    try:
        ok = "👩🏽‍🍳" * MAX_GRAPHEMES  # 1,200 code points, 300 graphemes
        await c.publish(OutgoingPost(text=ok))
        with pytest.raises(ConnectorError, match="bluesky post is 301 characters \\(graphemes\\); Bluesky allows 300"):
            await c.publish(OutgoingPost(text=ok + "!"))
        to = ReplyAddress(MessageKind.mention, Visibility.public, FAN["did"], f"at://{FAN['did']}/app.bsky.feed.post/1 bafyx")
        with pytest.raises(ConnectorError, match="bluesky reply is 301"):
            await c.send_reply(to, "x" * 301)
    finally:
        await c.stop()
    assert len(fake.ours()) == 1
    assert len(fake.calls_to("com.atproto.repo.createRecord")) == 1


async def test_429_waits_for_the_ratelimit_reset_then_succeeds(settings: Settings, fake: FakeBluesky) -> None:
    fake.fail_next("com.atproto.repo.createRecord", *rate_limited(1.0))
    c = await started(settings)
    try:
        uri = await c.publish(OutgoingPost(text="Open today"))
    finally:
        await c.stop()
    first, second = fake.calls_to("com.atproto.repo.createRecord")
    assert second.at - first.at >= 0.5  # waited for ratelimit-reset (whole seconds), not the 0.01 s backoff
    assert [p["uri"] for p in fake.ours()] == [uri]


async def test_5xx_is_retried(settings: Settings, fake: FakeBluesky) -> None:
    fake.fail_next("com.atproto.repo.createRecord", 500, {"error": "InternalServerError", "message": "Internal Server Error"})
    fake.fail_next("com.atproto.repo.createRecord", 502, {"error": "UpstreamFailure", "message": "Bad Gateway"})
    c = await started(settings)
    try:
        uri = await c.publish(OutgoingPost(text="Open today"))
    finally:
        await c.stop()
    assert len(fake.calls_to("com.atproto.repo.createRecord")) == 3
    assert [p["uri"] for p in fake.ours()] == [uri]


_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def test_a_record_key_is_a_tid_from_the_past_that_the_same_publish_key_gives_again() -> None:
    keys = [record_key(f"batch{n}-{n}") for n in range(1000)]
    assert keys[7] == record_key("batch7-7") and len(set(keys)) == 1000
    for key in keys:
        assert _TID.fullmatch(key), key
        value = 0
        for char in key:
            value = value * 32 + _TID_ALPHABET.index(char)
        made = datetime.fromtimestamp((value >> 10) / 1e6, timezone.utc)
        assert datetime(2020, 1, 1, tzinfo=timezone.utc) < made < datetime.now(timezone.utc)


@pytest.mark.parametrize(
    "taken", [(500, "InternalServerError", "Internal Server Error"), (400, "InvalidRequest", "Record already exists")]
)
async def test_a_publish_sent_again_finds_its_post_instead_of_posting_twice(
    settings: Settings, fake: FakeBluesky, taken: tuple[int, str, str]
) -> None:
    """After a crash the publisher sends the post again with the same key: createRecord under the
    same record key fails (a 500 from today's PDS, a 4xx from a later one) and the connector finds the first."""
    fake.taken_key_answer = taken
    c = await started(settings)
    try:
        first = await c.publish(OutgoingPost(text="Fresh bread at 8", idempotency_key="batch1-7"))
        again = await c.publish(OutgoingPost(text="Fresh bread at 8", idempotency_key="batch1-7"))
        other = await c.publish(OutgoingPost(text="Fresh bread at 8", idempotency_key="batch2-8"))
    finally:
        await c.stop()
    assert first == again == f"at://{BOT_DID}/app.bsky.feed.post/{record_key('batch1-7')}"
    assert other != first and [p["uri"] for p in fake.ours()] == [first, other]
    assert len(fake.calls_to("com.atproto.repo.createRecord")) == 3  # the second was refused, not retried
    assert len(fake.calls_to("com.atproto.repo.getRecord")) == 1


async def test_a_5xx_that_created_nothing_is_retried_under_the_same_key(settings: Settings, fake: FakeBluesky) -> None:
    fake.fail_next("com.atproto.repo.createRecord", 500, {"error": "InternalServerError", "message": "Internal Server Error"})
    c = await started(settings)
    try:
        uri = await c.publish(OutgoingPost(text="Open today", idempotency_key="batch3-9"))
    finally:
        await c.stop()
    tries = fake.calls_to("com.atproto.repo.createRecord")
    assert len(tries) == 2 and {t.params["rkey"] for t in tries} == {record_key("batch3-9")}
    assert [p["uri"] for p in fake.ours()] == [uri]


async def test_4xx_reply_is_recorded_not_retried(settings: Settings, fake: FakeBluesky) -> None:
    fake.fail_next("com.atproto.repo.createRecord", 400, {"error": "InvalidRequest", "message": "Record/reply/parent is invalid"})
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        fake.mention("hi there!", author=FAN)
        reply = await wait_failed_send(app)
    assert "HTTP 400: InvalidRequest: Record/reply/parent is invalid" in (reply.error or "")
    assert len(fake.calls_to("com.atproto.repo.createRecord")) == 1
    assert fake.ours() == []


async def test_polling_survives_5xx_and_429(settings: Settings, fake: FakeBluesky) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        fake.fail_next("app.bsky.notification.listNotifications", 503, {"error": "Unavailable", "message": "try later"})
        fake.fail_next("app.bsky.notification.listNotifications", *rate_limited(0.2))
        fake.mention("hi there!", author=FAN)
        await wait_status(app, MessageStatus.replied)
    assert len(stored_messages(app)) == 1


async def test_an_expired_session_is_refreshed(settings: Settings, fake: FakeBluesky) -> None:
    async with running(settings, connector(settings)) as app:
        await fake.wait_for("app.bsky.notification.listNotifications")
        fake.expire_access()  # the server calls the access token expired before its exp time
        fake.mention("hi there!", author=FAN)
        await wait_status(app, MessageStatus.replied)
    assert len(fake.calls_to("com.atproto.server.refreshSession")) == 1
    assert fake.sessions == 2  # the login and the refresh; no second login with the password
    assert len(fake.calls_to("com.atproto.server.createSession")) == 1


async def test_a_token_near_its_expiry_is_refreshed_before_the_call(config_file: Path) -> None:
    fake = FakeBluesky(access_lifetime_s=60)  # the SDK refreshes within 15 minutes of exp
    await fake.start()
    try:
        settings = settings_with(config_file, f'[bluesky]\nbase_url = "{fake.url}"\n')
        c = await started(settings)
        await c.publish(OutgoingPost(text="Open today"))
        await c.stop()
    finally:
        await fake.stop()
    assert fake.calls_to("com.atproto.server.refreshSession")
    assert len(fake.ours()) == 1


async def test_engagement_of_a_published_post(settings: Settings, fake: FakeBluesky) -> None:
    c = await started(settings)
    try:
        uri = await c.publish(OutgoingPost(text="Open today"))
        ours = fake.posts[uri]
        ours.update(likeCount=7, repostCount=2)
        fake.post("yay", author=FAN, reply_to=ours)
        fake.post("look", author=FRIEND, quote=ours)
        counts = await c.fetch_engagement(uri)
        gone = await c.fetch_engagement(f"at://{BOT_DID}/app.bsky.feed.post/3lgone")
    finally:
        await c.stop()
    assert counts == {"likes": 7, "reposts": 2, "replies": 1, "quotes": 1}
    assert gone is None


async def test_a_scheduled_post_is_published_and_its_engagement_collected(
    settings: Settings, fake: FakeBluesky, engine: Engine
) -> None:
    """Through the real publisher and the engagement sweep's call."""
    told: list[str] = []

    async def notify(platform: str, text: str) -> None:
        told.append(text)

    c = await started(settings)
    publisher = Publisher(engine, {c.platform: c}, settings.schedule, notify)
    now = utcnow()
    repo.add_post(engine, platform="bluesky", text="Fresh bread at 8! #bakery", status=PostStatus.scheduled, scheduled_at=now)
    try:
        [post] = await publisher.claim_due(now, not_before=now - timedelta(hours=1), limit=1)
        outcome = await publisher.publish(post)
        await publisher.flush()  # a platform that deduplicates by key has its row written with the next group
        assert post.id is not None
        published = repo.get_post(engine, post.id)
        assert outcome.status == PostStatus.published and published is not None
        assert published.engagement_due_at is not None  # the sweep will ask this connector
        fake.posts[str(published.platform_post_id)].update(likeCount=5, repostCount=1)
        await publisher.collect_engagement(post.id)
    finally:
        await c.stop()
    [(_, interactions)] = repo.published_engagement(engine, "bluesky")
    assert interactions == 6 and told == []


async def test_a_scheduled_post_with_an_image_carries_it_and_its_alt_text(
    settings: Settings, fake: FakeBluesky, engine: Engine, tmp_path: Path
) -> None:
    image = tmp_path / "bread.png"
    image.write_bytes(TINY_PNG)

    async def notify(platform: str, text: str) -> None:
        raise AssertionError(text)

    now = utcnow()
    post = repo.add_post(engine, platform="bluesky", text="Our new loaf", status=PostStatus.scheduled, scheduled_at=now)
    repo.update_post(engine, post.id, media=str(image), image_alt="A round sourdough loaf")  # type: ignore[arg-type]
    c = await started(settings)
    publisher = Publisher(engine, {c.platform: c}, settings.schedule, notify)
    try:
        [claimed] = await publisher.claim_due(now, not_before=now - timedelta(hours=1), limit=1)
        assert (await publisher.publish(claimed)).status == PostStatus.published
        await publisher.flush()
    finally:
        await c.stop()
    [ours] = fake.ours()
    [blob] = fake.blobs.values()
    assert ours["record"]["embed"]["$type"] == "app.bsky.embed.images"
    [shown] = ours["record"]["embed"]["images"]
    assert shown["alt"] == "A round sourdough loaf" and shown["image"]["ref"]["$link"] == blob["ref"]["$link"]
    assert blob["_bytes"] == TINY_PNG


async def test_a_wrong_password_stops_the_connector_naming_the_setting(settings: Settings, fake: FakeBluesky) -> None:
    with pytest.raises(ConnectorError) as raised:
        async with running(settings, connector(settings, password="wrong")):
            pass
    message = str(raised.value)
    assert "\n" not in message
    assert "$BLUESKY_APP_PASSWORD (bluesky.app_password_env)" in message
    assert "Invalid identifier or password" in message


def test_missing_handle_or_password_names_the_variable(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="BLUESKY_APP_PASSWORD"):
        BlueskyConnector(settings.bluesky, env={"BLUESKY_HANDLE": HANDLE})
    with pytest.raises(ConfigError, match="BLUESKY_HANDLE"):
        BlueskyConnector(settings.bluesky, env={"BLUESKY_APP_PASSWORD": PASSWORD})


async def test_an_address_that_is_not_a_bluesky_post_is_refused(settings: Settings, fake: FakeBluesky) -> None:
    c = await started(settings)
    try:
        with pytest.raises(ConnectorError, match="not a Bluesky post reference"):
            await c.send_reply(ReplyAddress(MessageKind.mention, Visibility.public, "x", "12345"), "hi")
        with pytest.raises(ConnectorError, match="cannot send private messages"):
            await c.send_text(FAN["did"], "hi")
    finally:
        await c.stop()
    assert fake.calls_to("com.atproto.repo.createRecord") == []


async def test_a_stopped_connector_starts_again(settings: Settings, fake: FakeBluesky) -> None:
    """What a retry of a failed connector does: stop() closes its HTTP client, start() opens a new one."""
    c = await started(settings)
    await c.stop()
    await c.stop()  # safe twice
    await c.start(_NoInbox())
    try:
        uri = await c.publish(OutgoingPost(text="Back again"))
    finally:
        await c.stop()
    assert [p["uri"] for p in fake.ours()] == [uri]
    assert len(fake.calls_to("com.atproto.server.createSession")) == 2
