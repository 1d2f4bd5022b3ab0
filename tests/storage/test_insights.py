"""Figures over a date range: counts, medians and local days computed in SQL, with no query per row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.web_data import generate
from storage import insights, repo
from storage.insights import FollowerFigure
from storage.message_states import Transition
from storage.models import MessageStatus, PostStatus, ReplyStatus

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def message(engine: Engine, n: int, at: datetime, intent: str, sentiment: str, escalate: bool = False) -> int:
    contact = repo.get_or_create_contact(engine, "telegram", f"user{n}")
    assert contact.id is not None
    stored, _ = repo.add_message(
        engine, platform="telegram", platform_message_id=str(n), contact_id=contact.id, text=f"text {n}", received_at=at
    )
    assert stored.id is not None
    repo.advance_message(engine, stored.id, Transition.understood, intent=intent, sentiment=sentiment)
    if escalate:
        repo.advance_message(engine, stored.id, Transition.escalate)
    return stored.id


def answer(engine: Engine, message_id: int, at: datetime, automatic: bool) -> None:
    reply = repo.add_reply(engine, message_id=message_id, text="thanks")
    assert reply.id is not None
    repo.update_reply(engine, reply.id, status=ReplyStatus.sent, sent_at=at, automatic=automatic)


def publish(engine: Engine, platform: str, at: datetime, *interactions: int) -> int:
    post = repo.add_post(engine, platform=platform, text=f"post at {at:%H}", status=PostStatus.published)
    assert post.id is not None
    repo.update_post(engine, post.id, published_at=at, scheduled_at=at)
    for n in interactions:
        repo.add_engagement(engine, post_id=post.id, interactions=n)
    return post.id


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_period_counts_medians_and_the_best_post(engine: Engine) -> None:
    day = timedelta(days=1)
    for n, minutes in enumerate([2, 4, 60, 200]):
        m = message(engine, n, NOW - 3 * day, "question", "neutral")
        answer(engine, m, NOW - 3 * day + timedelta(minutes=minutes), automatic=minutes < 10)
    message(engine, 10, NOW - day, "complaint", "negative", escalate=True)
    message(engine, 11, NOW - 20 * day, "praise", "positive")  # before the range
    publish(engine, "mastodon", NOW - 2 * day, 10, 30)  # the latest sample counts: 30
    publish(engine, "bluesky", NOW - day, 80)
    publish(engine, "bluesky", NOW - day + timedelta(hours=1))  # not measured yet
    repo.add_post(engine, platform="bluesky", text="x", status=PostStatus.missed, scheduled_at=NOW - day)

    figures = insights.period(engine, NOW - 7 * day, NOW)

    assert figures.messages == 5 and figures.escalated == 1
    assert figures.by_intent == {"question": 4, "complaint": 1}
    assert figures.by_sentiment == {"neutral": 4, "negative": 1}
    assert (figures.automatic_replies, figures.owner_replies) == (2, 2)
    assert figures.median_answer_minutes is not None and abs(figures.median_answer_minutes - 32) < 0.01
    assert (figures.published, figures.failed_posts, figures.measured_posts) == (3, 1, 2)
    assert figures.interactions == 110 and figures.median_interactions == 55
    assert figures.best_post is not None and figures.best_post.interactions == 80 and figures.best_post.platform == "bluesky"


def test_days_are_local_and_a_dst_change_lands_on_the_right_day(engine: Engine) -> None:
    # Berlin leaves summer time on Sun 25 Oct 2026 at 01:00 UTC: 22:30 UTC is 00:30 local before it, 23:30 after.
    message(engine, 1, datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc), "question", "neutral")  # Sun 25, 00:30
    message(engine, 2, datetime(2026, 10, 25, 22, 30, tzinfo=timezone.utc), "question", "positive")  # Sun 25, 23:30
    message(engine, 3, datetime(2026, 10, 25, 23, 30, tzinfo=timezone.utc), "order", "positive")  # Mon 26, 00:30
    start = datetime(2026, 10, 23, 22, 0, tzinfo=timezone.utc)  # Sat 24 Oct, local midnight
    end = datetime(2026, 10, 26, 23, 0, tzinfo=timezone.utc)  # Tue 27 Oct, local midnight

    figures = insights.daily(engine, start, end, BERLIN)

    assert figures.days == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
    assert figures.by_intent == {"question": [0, 2, 0], "order": [0, 0, 1]}
    assert figures.by_sentiment == {"neutral": [0, 1, 0], "positive": [0, 1, 1]}
    assert insights.offset_segments(BERLIN, start, end)[1] == (datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc), 60)


def test_daily_replies_escalations_and_median_answer_time(engine: Engine) -> None:
    start = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)  # Tue 24 Nov, Berlin midnight
    first = start + timedelta(hours=9)
    for n, minutes in enumerate([1, 3, 10]):
        answer(engine, message(engine, n, first, "question", "neutral"), first + timedelta(minutes=minutes), automatic=n < 2)
    message(engine, 9, first + timedelta(days=1), "complaint", "negative", escalate=True)

    figures = insights.daily(engine, start, start + timedelta(days=2), BERLIN)

    assert figures.automatic_replies == [2, 0] and figures.owner_replies == [1, 0] and figures.escalated == [0, 1]
    assert figures.median_answer_minutes[1] is None
    assert figures.median_answer_minutes[0] is not None and abs(figures.median_answer_minutes[0] - 3) < 0.01


def test_engagement_by_platform_and_by_local_hour_of_the_week(engine: Engine) -> None:
    monday_18 = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)  # 18:00 in Berlin
    publish(engine, "mastodon", monday_18, 40)
    publish(engine, "mastodon", monday_18 + timedelta(days=7), 60)
    publish(engine, "bluesky", monday_18 + timedelta(days=2), 5)
    publish(engine, "bluesky", monday_18 + timedelta(days=3))
    start, end = monday_18 - timedelta(days=1), monday_18 + timedelta(days=8)

    hours = insights.engagement_by_hour(engine, start, end, BERLIN)
    platforms = insights.platform_engagement(engine, start, end)

    assert hours.mean[0][18] == 50 and hours.posts[0][18] == 2
    assert hours.mean[2][18] == 5 and hours.mean[3][18] is None  # Thursday's post has no engagement yet
    assert [(p.platform, p.published, p.measured, p.interactions) for p in platforms] == [
        ("bluesky", 2, 1, 5), ("mastodon", 2, 2, 100)
    ]
    assert platforms[1].mean_interactions == 50
    posts = insights.post_engagement(engine, start, end)
    assert [p.interactions for p in posts] == [40, 5, None, 60]


def test_calendar_posts_by_when_they_went_out_else_when_they_were_due(engine: Engine) -> None:
    start = datetime(2026, 11, 23, tzinfo=timezone.utc)
    due = repo.add_post(engine, platform="telegram", text="due", status=PostStatus.scheduled, scheduled_at=start + timedelta(days=1))
    late = publish(engine, "telegram", start + timedelta(days=8))  # due in the week, went out the week after
    repo.update_post(engine, late, scheduled_at=start + timedelta(days=2))
    cancelled = repo.add_post(engine, platform="telegram", text="c", status=PostStatus.cancelled, scheduled_at=start)

    week = insights.posts_between(engine, start, start + timedelta(days=7))
    shown = insights.posts_between(engine, start, start + timedelta(days=7), [PostStatus.scheduled, PostStatus.published])

    assert [p.id for p in week] == [cancelled.id, due.id]
    assert [p.id for p in shown] == [due.id]


def test_the_number_of_queries_does_not_grow_with_the_rows(engine: Engine) -> None:
    def queries(messages: int) -> int:
        generate(engine, messages=messages, posts=messages // 10, now=NOW, days=30, seed=messages)
        with counted_queries(engine) as statements:
            insights.period(engine, NOW - timedelta(days=30), NOW)
            insights.daily(engine, NOW - timedelta(days=30), NOW, BERLIN)
            insights.engagement_by_hour(engine, NOW - timedelta(days=30), NOW, BERLIN)
            insights.platform_engagement(engine, NOW - timedelta(days=30), NOW)
        return len(statements)

    few = queries(100)
    with engine.begin() as connection:
        for table in ("engagementsample", "reply", "post", "message", "contact"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    assert queries(2000) == few


def test_waiting_messages_are_counted(engine: Engine) -> None:
    message(engine, 1, NOW, "complaint", "negative", escalate=True)
    message(engine, 2, NOW, "question", "neutral")
    assert insights.count_messages(engine, [MessageStatus.pending, MessageStatus.escalated]) == 1


def test_the_data_version_moves_with_what_the_figures_read(engine: Engine) -> None:
    versions = [insights.data_version(engine)]
    m = message(engine, 1, NOW, "question", "neutral")  # a new message
    versions.append(insights.data_version(engine))
    answer(engine, m, NOW, automatic=True)  # a sent reply
    versions.append(insights.data_version(engine))
    post = repo.add_post(engine, platform="x", text="t", status=PostStatus.scheduled, scheduled_at=NOW)
    versions.append(insights.data_version(engine))
    assert post.id is not None
    repo.update_post(engine, post.id, scheduled_at=NOW + timedelta(hours=1))  # moved
    versions.append(insights.data_version(engine))
    repo.update_post(engine, post.id, status=PostStatus.failed)
    versions.append(insights.data_version(engine))
    repo.add_engagement(engine, post_id=post.id, interactions=3)
    versions.append(insights.data_version(engine))
    waiting = message(engine, 2, NOW, "question", "neutral")
    repo.advance_message(engine, waiting, Transition.await_owner)
    draft = repo.add_reply(engine, message_id=waiting, text="draft")
    versions.append(insights.data_version(engine))
    assert draft.id is not None
    repo.update_reply(engine, draft.id, status=ReplyStatus.rejected)  # the owner's /reject
    repo.advance_message(engine, waiting, Transition.ignore)
    versions.append(insights.data_version(engine))
    repo.set_follower_count(engine, "instagram", 120, NOW)  # followers counted
    versions.append(insights.data_version(engine))
    assert len(set(versions)) == len(versions)
    assert insights.data_version(engine) == versions[-1]  # and stands still while nothing changes


def test_followers_at_the_end_of_a_period_and_the_change_since_it_began(engine: Engine) -> None:
    repo.set_follower_count(engine, "instagram", 100, NOW - timedelta(days=10))
    repo.set_follower_count(engine, "instagram", 120, NOW - timedelta(days=3))
    repo.set_follower_count(engine, "instagram", 125, NOW - timedelta(days=3) + timedelta(hours=1))  # later that day: replaces
    repo.set_follower_count(engine, "facebook", 40, NOW - timedelta(days=1))
    week = insights.period(engine, NOW - timedelta(days=7), NOW)
    assert week.followers == [FollowerFigure("facebook", 40, None), FollowerFigure("instagram", 125, 25)]
    before = insights.period(engine, NOW - timedelta(days=14), NOW - timedelta(days=7))
    assert before.followers == [FollowerFigure("instagram", 100, None)]
    assert insights.period(engine, NOW - timedelta(days=30), NOW - timedelta(days=20)).followers == []
    assert repo.follower_counts(engine, "instagram") == [((NOW - timedelta(days=10)).date(), 100), ((NOW - timedelta(days=3)).date(), 125)]


def test_an_answered_escalation_still_counts_as_escalated(engine: Engine) -> None:
    """The owner answering an escalated message must not lower /report's or the analytics' escalations."""
    start = datetime(2026, 11, 23, 23, 0, tzinfo=timezone.utc)
    m = message(engine, 1, start + timedelta(hours=9), "complaint", "negative", escalate=True)
    repo.advance_message(engine, m, Transition.replied)

    assert insights.period(engine, start, start + timedelta(days=2)).escalated == 1
    assert insights.daily(engine, start, start + timedelta(days=2), BERLIN).escalated == [1, 0]
