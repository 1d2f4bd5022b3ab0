"""`/report`: how the last days went (messages, replies, posts), against the days before."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot import words
from bot.commands import Command, CommandContext
from core.config import Settings
from core.errors import BotError
from bot.when import account_zone, as_utc
from storage import repo
from storage.models import MessageStatus, PostStatus, utcnow

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """What happened between start and end (UTC)."""

    start: datetime
    end: datetime
    messages: int
    by_intent: dict[str, int]
    by_sentiment: dict[str, int]
    by_status: dict[str, int]
    automatic_replies: int
    owner_replies: int
    answer_minutes: list[float]
    published: list[tuple[int, str, datetime, int | None]]  # id, text, when, interactions (None: not fetched)
    failed_posts: int


def gather(engine: Engine, start: datetime, end: datetime, engagement: dict[int | None, int]) -> Period:
    """engagement: each published post's latest interactions, by post id."""
    replies = repo.sent_replies(engine, start, end)
    posts = repo.posts_between(engine, start, end)
    by_status = repo.message_counts(engine, start, end, "status")
    return Period(
        start=start,
        end=end,
        messages=sum(by_status.values()),
        by_intent=repo.message_counts(engine, start, end, "intent"),
        by_sentiment=repo.message_counts(engine, start, end, "sentiment"),
        by_status=by_status,
        automatic_replies=sum(1 for r, _ in replies if r.automatic),
        owner_replies=sum(1 for r, _ in replies if not r.automatic),
        answer_minutes=[
            (as_utc(r.sent_at) - as_utc(received)).total_seconds() / 60 for r, received in replies if r.sent_at
        ],
        published=[
            (p.id, p.text, as_utc(p.published_at), engagement.get(p.id))
            for p in posts
            if p.status == PostStatus.published and p.id is not None and p.published_at is not None
        ],
        failed_posts=sum(1 for p in posts if p.status in (PostStatus.failed, PostStatus.missed)),
    )


def _change(now: int, before: int) -> str:
    return f"{now - before:+d} on the period before" if before else "none the period before"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


def render(now: Period, before: Period, zone: ZoneInfo, waiting: int) -> str:
    days = round((now.end - now.start) / timedelta(days=1))
    first, last = now.start.astimezone(zone), (now.end - timedelta(seconds=1)).astimezone(zone)
    lines = [f"Last {days} day{'s' if days != 1 else ''} ({first:%a %d %b} to {last:%a %d %b}):"]
    if now.messages:
        negative = now.by_sentiment.get("negative", 0)
        escalated = now.by_status.get(MessageStatus.escalated.value, 0)
        lines.append(
            f"Messages: {now.messages} ({_change(now.messages, before.messages)}); "
            f"{negative} negative ({negative / now.messages:.0%}), {escalated} escalated to you"
        )
        top = sorted(((n, k) for k, n in now.by_intent.items() if k), reverse=True)[:5]
        if top:
            lines.append("  most were: " + ", ".join(f"{k} {n}" for n, k in top))
    else:
        lines.append(f"Messages: none ({before.messages} the period before)")
    sent = now.automatic_replies + now.owner_replies
    if sent:
        median = _minutes(statistics.median(now.answer_minutes)) if now.answer_minutes else "?"
        lines.append(
            f"Replies: {sent} sent ({now.automatic_replies} automatic, {now.owner_replies} by you), "
            f"median answer time {median}"
        )
    else:
        lines.append("Replies: none sent")
    if waiting:
        lines.append(f"  {waiting} waiting for you now: /inbox")
    fetched = [(i, t, w, n) for i, t, w, n in now.published if n is not None]
    posts = f"Posts: {len(now.published)} published ({_change(len(now.published), len(before.published))})"
    if now.failed_posts:
        posts += f", {now.failed_posts} failed or missed (/calendar)"
    lines.append(posts)
    if fetched:
        total = sum(n for *_, n in fetched)
        lines.append(f"  {total} interactions, median {statistics.median(n for *_, n in fetched):.0f} a post")
        post_id, text, when, n = max(fetched, key=lambda row: row[3])
        lines.append(f'  best: #{post_id} {when.astimezone(zone):%a %H:%M}, {n} interactions: "{_short(text)}"')
    return "\n".join(lines)


class ReportCommands:
    """The owner's look back: `/report [DAYS]`."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.zone = account_zone(settings.bot.timezone)

    def commands(self) -> Sequence[Command]:
        summary = "how the last DAYS (default 7) went, against the days before"
        return [Command("report", "/report [DAYS]", summary, self.report_command, words.days)]

    def report(self, days: int = 7, now: datetime | None = None) -> str:
        if not 1 <= days <= MAX_DAYS:
            raise BotError(f"/report takes a number of days from 1 to {MAX_DAYS}")
        end = now or utcnow()
        span = timedelta(days=days)
        waiting = len(
            repo.list_messages(self.engine, status=[MessageStatus.pending, MessageStatus.escalated], limit=10_000)
        )
        engagement = {post.id: n for post, n in repo.published_engagement(self.engine)}
        recent = gather(self.engine, end - span, end, engagement)
        earlier = gather(self.engine, end - 2 * span, end - span, engagement)
        return render(recent, earlier, self.zone, waiting)

    async def report_command(self, ctx: CommandContext) -> str:
        word = ctx.args.split()[0] if ctx.args.split() else "7"
        if not word.isdigit():
            raise BotError("usage: /report [DAYS], e.g. /report 30")
        return self.report(int(word))
