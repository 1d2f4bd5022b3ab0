"""Figures over a date range, each one SQL aggregate: what `/report` and the dashboard's analytics show.

Days and hours are the account's local ones: a stored UTC time is shifted by the zone's offset in
SQL (a CASE over the offset's changes within the range, so a DST change lands on the right day).
The date arithmetic is SQLite's (strftime, julianday), the project's database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from core.times import as_utc
from storage.message_states import MessageStatus
from storage.models import EngagementSample, FollowerCount, LabelCorrection, Message, Post, PostStatus, Reply, ReplyStatus

# Messages not yet through the pipeline (usually none or a few): the count moves when one is
# labelled and when it lands in its state.
VERSIONED_STATES = (MessageStatus.received, MessageStatus.understood)


@dataclass(frozen=True)
class PostFigure:
    """A published post and its latest engagement (None: not fetched yet)."""

    post_id: int
    platform: str
    text: str
    published_at: datetime
    interactions: int | None


@dataclass(frozen=True)
class FollowerFigure:
    """An account's followers at the end of a period, as its platform last said, and the change
    since the period began (None: not counted before it)."""

    platform: str
    followers: int
    change: int | None


@dataclass(frozen=True)
class PeriodFigures:
    """What happened in [start, end): messages, replies, posts. `/report` and the analytics page show these."""

    start: datetime
    end: datetime
    by_intent: dict[str, int]
    by_sentiment: dict[str, int]
    by_status: dict[str, int]
    escalated: int  # handed to the owner, whether or not answered since
    automatic_replies: int  # sent by the policy without the owner
    owner_replies: int  # approved, edited or written by the owner
    median_answer_minutes: float | None
    published: int
    failed_posts: int  # failed or missed
    measured_posts: int  # published posts whose engagement was fetched
    interactions: int
    median_interactions: float | None
    best_post: PostFigure | None
    followers: list[FollowerFigure] = field(default_factory=list)  # per platform that reports it

    @property
    def messages(self) -> int:
        return sum(self.by_status.values())



@dataclass(frozen=True)
class DailyFigures:
    """Per local day of a range: messages by intent and sentiment, who answered, answer time."""

    days: list[date]
    by_intent: dict[str, list[int]] = field(default_factory=dict)
    by_sentiment: dict[str, list[int]] = field(default_factory=dict)
    automatic_replies: list[int] = field(default_factory=list)
    owner_replies: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    median_answer_minutes: list[float | None] = field(default_factory=list)


@dataclass(frozen=True)
class PlatformFigures:
    platform: str
    published: int
    measured: int
    interactions: int

    @property
    def mean_interactions(self) -> float | None:
        return self.interactions / self.measured if self.measured else None


@dataclass(frozen=True)
class HourOfWeek:
    """Mean interactions of published posts by local weekday (0=Monday) and hour; None where no post went out."""

    mean: list[list[float | None]]
    posts: list[list[int]]


def offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(from, UTC offset in minutes) pieces covering [start, end), a new piece at each offset change."""
    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    start, end = as_utc(start), as_utc(end)
    segments = [(start, offset(start))]
    day = start
    while day < end:
        step = min(day + timedelta(days=1), end)
        if offset(step) != segments[-1][1]:
            hour = day
            while offset(hour) == segments[-1][1]:  # the change lies within this day: find its hour
                hour += timedelta(minutes=15)
            segments.append((hour, offset(hour)))
        day = step
    return segments


def local_time(column: Any, fmt: str, zone: ZoneInfo, start: datetime, end: datetime) -> ColumnElement[str]:
    """strftime(fmt) of a stored UTC time in the zone's local time, for times within [start, end)."""
    segments = offset_segments(zone, start, end)
    shifted = [func.strftime(fmt, column, f"{minutes:+d} minutes") for _, minutes in segments]
    if len(segments) == 1:
        return shifted[0]
    whens = [(column < segments[i + 1][0], shifted[i]) for i in range(len(segments) - 1)]
    return case(*whens, else_=shifted[-1])


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def _moment_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """A post's moment (when it went out, else when it was due) in [start, end); either index serves."""
    return or_(
        _in(col(Post.published_at), start, end),
        and_(col(Post.published_at).is_(None), _in(col(Post.scheduled_at), start, end)),
    )


def posts_between(
    engine: Engine, start: datetime, end: datetime, statuses: Iterable[PostStatus] | None = None
) -> Sequence[Post]:
    """Posts that went out (or were due) in [start, end), in time order: the calendar's posts."""
    query = select(Post).where(_moment_in(start, end))
    if statuses is not None:
        query = query.where(col(Post.status).in_(list(statuses)))
    moment = func.coalesce(col(Post.published_at), col(Post.scheduled_at))
    with Session(engine) as session:
        return session.scalars(query.order_by(moment, col(Post.id))).all()


def message_counts(
    engine: Engine, start: datetime, end: datetime, by: Literal["status", "intent", "sentiment"]
) -> dict[str, int]:
    """Messages received in [start, end), counted per value of one column ("" where it is unset)."""
    column = col(getattr(Message, by))
    query = select(column, func.count()).where(_in(col(Message.received_at), start, end)).group_by(column)
    with Session(engine) as session:
        return {str(value or ""): int(n) for value, n in session.exec(query).all()}


def _escalated_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Messages received in [start, end) that the bot escalated, answered since or not (escalated_at is never cleared)."""
    return and_(_in(col(Message.received_at), start, end), col(Message.escalated_at).is_not(None))


def count_messages(engine: Engine, statuses: Iterable[MessageStatus]) -> int:
    """How many messages are in these states now (e.g. waiting for the owner)."""
    query = select(func.count()).select_from(Message).where(col(Message.status).in_(list(statuses)))
    with Session(engine) as session:
        return int(session.execute(query).scalar_one())


def _answer_minutes() -> ColumnElement[float]:
    return (func.julianday(col(Reply.sent_at)) - func.julianday(col(Message.received_at))) * 1440.0


def _sent_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col(Reply.status) == ReplyStatus.sent, _in(col(Reply.sent_at), start, end))


def _medians(engine: Engine, value: Any, group: Any, shape: Callable[[Select[Any]], Select[Any]]) -> dict[Any, float]:
    """The median of `value` per `group` in SQL: each group's middle row (or two), found by a window.
    shape adds the joins and conditions to the select of the values."""
    ranked = shape(
        select(
            group.label("g"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
    ).subquery()
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    query = select(ranked.c.g, func.avg(ranked.c.v)).where(middle).group_by(ranked.c.g)
    with Session(engine) as session:
        return {g: float(v) for g, v in session.exec(query).all()}  # type: ignore[call-overload]


def _answered(start: datetime, end: datetime) -> Callable[[Select[Any]], Select[Any]]:
    """Replies sent in [start, end), joined to the messages they answer."""
    return lambda query: query.select_from(Reply).join(Message, col(Reply.message_id) == col(Message.id)).where(
        _sent_in(start, end)
    )


def _latest_engagement() -> Any:
    """Each post's latest engagement sample id."""
    return (
        select(EngagementSample.post_id, func.max(EngagementSample.id).label("last_id"))
        .group_by(col(EngagementSample.post_id))
        .subquery()
    )


def _published_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col(Post.status) == PostStatus.published, _in(col(Post.published_at), start, end))


def _measured(start: datetime, end: datetime) -> Callable[[Select[Any]], Select[Any]]:
    """Posts published in [start, end) that have engagement, joined to their latest sample."""
    latest = _latest_engagement()
    return lambda query: (
        query.select_from(Post)
        .join(latest, latest.c.post_id == col(Post.id))
        .join(EngagementSample, col(EngagementSample.id) == latest.c.last_id)
        .where(_published_in(start, end))
    )


def post_engagement(engine: Engine, start: datetime, end: datetime, post_id: int | None = None) -> list[PostFigure]:
    """Posts published in [start, end) (or only post_id among them), oldest first, each with its latest interactions."""
    latest = _latest_engagement()
    query = (
        select(Post.id, Post.platform, Post.text, Post.published_at, EngagementSample.interactions)
        .outerjoin(latest, latest.c.post_id == col(Post.id))
        .outerjoin(EngagementSample, col(EngagementSample.id) == latest.c.last_id)
        .where(_published_in(start, end))
        .order_by(col(Post.published_at), col(Post.id))
    )
    if post_id is not None:
        query = query.where(col(Post.id) == post_id)
    with Session(engine) as session:
        return [PostFigure(i, p, t, as_utc(at), n) for i, p, t, at, n in session.exec(query).all()]  # type: ignore[call-overload]


def platform_engagement(engine: Engine, start: datetime, end: datetime) -> list[PlatformFigures]:
    """Per platform: posts published in [start, end), how many were measured, their interactions."""
    latest = _latest_engagement()
    query = (
        select(Post.platform, func.count(), func.count(EngagementSample.id), func.coalesce(func.sum(EngagementSample.interactions), 0))
        .outerjoin(latest, latest.c.post_id == col(Post.id))
        .outerjoin(EngagementSample, col(EngagementSample.id) == latest.c.last_id)
        .where(_published_in(start, end))
        .group_by(col(Post.platform))
        .order_by(col(Post.platform))
    )
    with Session(engine) as session:
        return [PlatformFigures(p, int(n), int(m), int(s)) for p, n, m, s in session.exec(query).all()]  # type: ignore[call-overload]


def engagement_by_hour(engine: Engine, start: datetime, end: datetime, zone: ZoneInfo) -> HourOfWeek:
    """Mean interactions of the measured posts published in [start, end), by local weekday and hour."""
    latest = _latest_engagement()
    slot = local_time(col(Post.published_at), "%w %H", zone, start, end)
    query = (
        select(slot, func.count(), func.avg(EngagementSample.interactions))
        .join(latest, latest.c.post_id == col(Post.id))
        .join(EngagementSample, col(EngagementSample.id) == latest.c.last_id)
        .where(_published_in(start, end))
        .group_by(slot)
    )
    mean: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    posts = [[0] * 24 for _ in range(7)]
    with Session(engine) as session:
        for key, n, average in session.exec(query).all():  # type: ignore[call-overload]
            sunday_first, hour = (int(part) for part in key.split())
            weekday = (sunday_first + 6) % 7
            mean[weekday][hour], posts[weekday][hour] = float(average), int(n)
    return HourOfWeek(mean, posts)


def followers_on(engine: Engine, day: date) -> dict[str, int]:
    """Each platform's latest follower count on or before the (UTC) day."""
    latest = (
        select(col(FollowerCount.platform), func.max(col(FollowerCount.day)).label("day"))
        .where(col(FollowerCount.day) <= day)
        .group_by(col(FollowerCount.platform))
        .subquery()
    )
    query = select(col(FollowerCount.platform), col(FollowerCount.followers)).join(
        latest, and_(latest.c.platform == col(FollowerCount.platform), latest.c.day == col(FollowerCount.day))
    )
    with Session(engine) as session:
        return {str(platform): int(n) for platform, n in session.execute(query).all()}


def follower_figures(engine: Engine, start: datetime, end: datetime) -> list[FollowerFigure]:
    """Followers at the end of [start, end) per platform, and how many more than at its start."""
    tick = timedelta(microseconds=1)
    now = followers_on(engine, (as_utc(end) - tick).date())
    before = followers_on(engine, (as_utc(start) - tick).date())
    return [FollowerFigure(p, n, n - before[p] if p in before else None) for p, n in sorted(now.items())]


def period(engine: Engine, start: datetime, end: datetime) -> PeriodFigures:
    """The figures of [start, end), each an aggregate in SQL."""
    answered = select(col(Reply.automatic), func.count()).where(_sent_in(start, end)).group_by(col(Reply.automatic))
    post_states = select(col(Post.status), func.count()).where(_moment_in(start, end)).group_by(col(Post.status))
    measured = _measured(start, end)
    totals = measured(select(func.count(), func.coalesce(func.sum(EngagementSample.interactions), 0)))
    best_id = measured(select(Post.id)).order_by(col(EngagementSample.interactions).desc(), col(Post.id)).limit(1)
    with Session(engine) as session:
        senders = {bool(automatic): int(n) for automatic, n in session.exec(answered).all()}  # type: ignore[call-overload]
        states = {str(status): int(n) for status, n in session.exec(post_states).all()}  # type: ignore[call-overload]
        n_measured, interactions = session.exec(totals).one()  # type: ignore[call-overload]
        best = session.execute(best_id).scalar()
    answer = _medians(engine, _answer_minutes(), literal(0), _answered(start, end))
    middle = _medians(engine, col(EngagementSample.interactions), literal(0), measured) if n_measured else {}
    best_post = post_engagement(engine, start, end, post_id=best)[0] if best is not None else None
    by_status = message_counts(engine, start, end, "status")
    with Session(engine) as session:
        escalated = int(session.execute(select(func.count()).select_from(Message).where(_escalated_in(start, end))).scalar_one())
    return PeriodFigures(
        start=start,
        end=end,
        by_intent=message_counts(engine, start, end, "intent"),
        by_sentiment=message_counts(engine, start, end, "sentiment"),
        by_status=by_status,
        escalated=escalated,
        automatic_replies=senders.get(True, 0),
        owner_replies=senders.get(False, 0),
        median_answer_minutes=answer.get(0),
        published=states.get(PostStatus.published.value, 0),
        failed_posts=states.get(PostStatus.failed.value, 0) + states.get(PostStatus.missed.value, 0),
        measured_posts=int(n_measured),
        interactions=int(interactions),
        median_interactions=middle.get(0),
        best_post=best_post,
        followers=follower_figures(engine, start, end),
    )


def daily(engine: Engine, start: datetime, end: datetime, zone: ZoneInfo) -> DailyFigures:
    """Per local day of [start, end): messages by intent and by sentiment, replies by who sent
    them, escalations, and the median answer time; a GROUP BY each."""
    first = as_utc(start).astimezone(zone).date()
    last = (as_utc(end) - timedelta(microseconds=1)).astimezone(zone).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {d.isoformat(): i for i, d in enumerate(days)}
    received = local_time(col(Message.received_at), "%Y-%m-%d", zone, start, end)
    sent = local_time(col(Reply.sent_at), "%Y-%m-%d", zone, start, end)

    def series(rows: Iterable[tuple[str, Any, int]]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for day, key, n in rows:
            if day in index:
                out.setdefault(str(key if key is not None else ""), [0] * len(days))[index[day]] += int(n)
        return out

    def by_label(label: str) -> Select[Any]:
        column = col(getattr(Message, label))
        return select(received, column, func.count()).where(_in(col(Message.received_at), start, end)).group_by(received, column)

    answered = _answered(start, end)(select(sent, col(Reply.automatic), func.count())).group_by(sent, col(Reply.automatic))
    escalated = (
        select(received, literal("escalated"), func.count())
        .where(_escalated_in(start, end))
        .group_by(received)
    )
    with Session(engine) as session:
        intents = series(session.exec(by_label("intent")).all())  # type: ignore[call-overload]
        sentiments = series(session.exec(by_label("sentiment")).all())  # type: ignore[call-overload]
        senders = series((d, bool(a), n) for d, a, n in session.exec(answered).all())  # type: ignore[call-overload]
        escalations = series(session.exec(escalated).all())  # type: ignore[call-overload]
    medians = _medians(engine, _answer_minutes(), sent, _answered(start, end))
    zero = [0] * len(days)
    return DailyFigures(
        days=days,
        by_intent=intents,
        by_sentiment=sentiments,
        automatic_replies=senders.get("True", zero),
        owner_replies=senders.get("False", zero),
        escalated=escalations.get("escalated", zero),
        median_answer_minutes=[medians.get(d.isoformat()) for d in days],
    )


def _version_query() -> Select[Any]:
    def one(query: Select[Any]) -> Any:
        return query.scalar_subquery()

    return select(
        one(select(func.max(Message.id))),
        # Escalation moves a message out of these states, so this count also follows escalated_at.
        one(select(func.count()).select_from(Message).where(col(Message.status).in_(list(VERSIONED_STATES)))),
        one(select(func.max(Reply.id))),
        # A rejected draft drops its message from the owner's queue (few rows: the owner's rejections).
        one(select(func.count()).select_from(Reply).where(col(Reply.status) == ReplyStatus.rejected)),
        # Newest first through the (status, sent_at) index: max() would read every sent reply.
        one(select(Reply.sent_at).where(col(Reply.status) == ReplyStatus.sent).order_by(col(Reply.sent_at).desc()).limit(1)),
        one(select(func.max(Post.id))),
        one(select(func.max(Post.published_at))),
        one(select(func.count()).select_from(Post).where(col(Post.status).in_([PostStatus.failed, PostStatus.missed]))),
        # Scheduled times (moved, added, cancelled): the calendar's free hours.
        one(select(func.total(func.julianday(col(Post.scheduled_at)))).where(col(Post.status) == PostStatus.scheduled)),
        one(select(func.max(EngagementSample.id))),
        one(select(func.max(LabelCorrection.id))),
        one(select(func.max(FollowerCount.fetched_at))),
    )


_VERSION = _version_query()  # built once: the dashboard asks on every request


def data_version(engine: Engine) -> tuple[Any, ...]:
    """Something that changes whenever one of these figures may: new or finished messages, sent
    replies, waiting ones, posts scheduled, out or failed, engagement or followers fetched, labels corrected. A
    handful of index lookups, so a cache of the figures can ask it on every request."""
    with engine.connect() as connection:
        return tuple(connection.execute(_VERSION).one())
