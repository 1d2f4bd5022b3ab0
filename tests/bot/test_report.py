"""`/report`: the owner's look back over stored messages, replies and posts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.engine import Engine

from core.config import Settings
from bot.report import ReportCommands
from storage import repo
from storage.message_states import Transition
from storage.models import MessageStatus, PostStatus, ReplyStatus
from fakes.console_app import run_console

REACHED_BY = {MessageStatus.replied: Transition.replied, MessageStatus.escalated: Transition.escalate, MessageStatus.pending: Transition.await_owner}
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def message(engine: Engine, n: int, at: datetime, intent: str, sentiment: str, status: MessageStatus) -> int:
    contact = repo.get_or_create_contact(engine, "console", f"user{n}")
    assert contact.id is not None
    stored, _ = repo.add_message(
        engine, platform="console", platform_message_id=str(n), contact_id=contact.id, text=f"text {n}", received_at=at
    )
    assert stored.id is not None
    repo.advance_message(engine, stored.id, Transition.understood, intent=intent, sentiment=sentiment)
    repo.advance_message(engine, stored.id, REACHED_BY[status])
    return stored.id


def sent_reply(engine: Engine, message_id: int, at: datetime, automatic: bool) -> None:
    reply = repo.add_reply(engine, message_id=message_id, text="thanks!")
    assert reply.id is not None
    repo.update_reply(engine, reply.id, status=ReplyStatus.sent, sent_at=at, automatic=automatic)


def published(engine: Engine, text: str, at: datetime, interactions: int | None) -> None:
    post = repo.add_post(engine, platform="console", text=text, status=PostStatus.published)
    assert post.id is not None
    repo.update_post(engine, post.id, published_at=at, scheduled_at=at)
    if interactions is not None:
        repo.add_engagement(engine, post_id=post.id, interactions=interactions)


def test_the_week_against_the_week_before(engine: Engine, settings: Settings) -> None:
    day = timedelta(days=1)
    # The week before: one message, one post.
    message(engine, 1, NOW - 10 * day, "question", "neutral", MessageStatus.replied)
    published(engine, "old news", NOW - 9 * day, 5)
    # This week: four messages, two answered (one by the bot in 2 minutes, one by the owner in an hour).
    q = message(engine, 2, NOW - 3 * day, "question", "neutral", MessageStatus.replied)
    sent_reply(engine, q, NOW - 3 * day + timedelta(minutes=2), automatic=True)
    c = message(engine, 3, NOW - 2 * day, "complaint", "negative", MessageStatus.escalated)
    sent_reply(engine, c, NOW - 2 * day + timedelta(hours=1), automatic=False)
    message(engine, 4, NOW - day, "question", "positive", MessageStatus.pending)
    message(engine, 5, NOW - timedelta(hours=1), "praise", "positive", MessageStatus.replied)
    published(engine, "Autumn sale starts today, 20% off all cakes", NOW - 2 * day, 140)
    published(engine, "Opening hours over the holidays", NOW - day, 60)
    published(engine, "Not measured yet", NOW - timedelta(hours=2), None)
    failed = repo.add_post(engine, platform="console", text="x", status=PostStatus.failed, scheduled_at=NOW - day)
    assert failed.id is not None

    report = ReportCommands(engine, settings).report(7, now=NOW)

    lines = report.splitlines()
    assert lines[0] == "Last 7 days (Mon 23 Nov to Mon 30 Nov):"
    assert lines[1] == "Messages: 4 (+3 on the period before); 1 negative (25%), 1 escalated to you"
    assert lines[2] == "  most were: question 2, praise 1, complaint 1"
    assert "Replies: 2 sent (1 automatic, 1 by you), median answer time 31 min" in report
    assert "  2 waiting for you now: /inbox" in report
    assert "Posts: 3 published (+2 on the period before), 1 failed or missed (/calendar)" in report
    assert "  200 interactions, median 100 a post" in report
    assert '  best: #2 Sat 12:00, 140 interactions: "Autumn sale starts today, 20% off all cakes"' in report
    assert "Followers" not in report  # no platform counted them


def test_followers_where_a_platform_counts_them(engine: Engine, settings: Settings) -> None:
    day = timedelta(days=1)
    repo.set_follower_count(engine, "instagram", 1180, NOW - 9 * day)
    repo.set_follower_count(engine, "instagram", 1234, NOW - day)
    repo.set_follower_count(engine, "facebook", 310, NOW - 2 * day)
    report = ReportCommands(engine, settings).report(7, now=NOW)
    assert report.splitlines()[-1] == "Followers: facebook 310 (not counted before), instagram 1,234 (+54 in these days)"


def test_an_empty_account_reports_nothing_happened(engine: Engine, settings: Settings) -> None:
    report = ReportCommands(engine, settings).report(30, now=NOW)
    assert report.splitlines()[1:] == [
        "Messages: none (0 the period before)",
        "Replies: none sent",
        "Posts: 0 published (none the period before)",
    ]


async def test_report_on_the_console_with_a_bad_argument(settings: Settings, tmp_path: Path) -> None:
    out = await run_console(settings, ["/report", "/report soon", "/report 0", "/quit"])
    assert "Last 7 days" in out
    assert "usage: /report [DAYS]" in out
    assert "from 1 to 366" in out
