"""`/report`: how the last days went (messages, replies, posts, followers), against the days before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot import words
from bot.commands import Command, CommandContext
from core.config import Settings
from core.errors import BotError, UsageError
from bot.when import account_zone
from storage import insights
from storage.insights import PeriodFigures
from storage.models import MessageStatus, utcnow

MAX_DAYS = 366


def _change(now: int, before: int) -> str:
    return f"{now - before:+d} on the period before" if before else "none the period before"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _minutes(value: float) -> str:
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


def render(now: PeriodFigures, before: PeriodFigures, zone: ZoneInfo, waiting: int) -> str:
    days = round((now.end - now.start) / timedelta(days=1))
    first, last = now.start.astimezone(zone), (now.end - timedelta(seconds=1)).astimezone(zone)
    lines = [f"Last {days} day{'s' if days != 1 else ''} ({first:%a %d %b} to {last:%a %d %b}):"]
    if now.messages:
        negative = now.by_sentiment.get("negative", 0)
        lines.append(
            f"Messages: {now.messages} ({_change(now.messages, before.messages)}); "
            f"{negative} negative ({negative / now.messages:.0%}), {now.escalated} escalated to you"
        )
        top = sorted(((n, k) for k, n in now.by_intent.items() if k), reverse=True)[:5]
        if top:
            lines.append("  most were: " + ", ".join(f"{k} {n}" for n, k in top))
    else:
        lines.append(f"Messages: none ({before.messages} the period before)")
    sent = now.automatic_replies + now.owner_replies
    if sent:
        median = _minutes(now.median_answer_minutes) if now.median_answer_minutes is not None else "?"
        lines.append(
            f"Replies: {sent} sent ({now.automatic_replies} automatic, {now.owner_replies} by you), "
            f"median answer time {median}"
        )
    else:
        lines.append("Replies: none sent")
    if waiting:
        lines.append(f"  {waiting} waiting for you now: /inbox")
    posts = f"Posts: {now.published} published ({_change(now.published, before.published)})"
    if now.failed_posts:
        posts += f", {now.failed_posts} failed or missed (/calendar)"
    lines.append(posts)
    if now.measured_posts and now.median_interactions is not None:
        lines.append(f"  {now.interactions} interactions, median {now.median_interactions:.0f} a post")
    if now.best_post is not None:
        best = now.best_post
        lines.append(
            f'  best: #{best.post_id} {best.published_at.astimezone(zone):%a %H:%M}, '
            f'{best.interactions} interactions: "{_short(best.text)}"'
        )
    if now.followers:
        lines.append("Followers: " + ", ".join(f"{f.platform} {f.followers:,} ({_grown(f.change)})" for f in now.followers))
    return "\n".join(lines)


def _grown(change: int | None) -> str:
    return f"{change:+,d} in these days" if change is not None else "not counted before"


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
        waiting = insights.count_messages(self.engine, [MessageStatus.pending, MessageStatus.escalated])
        recent = insights.period(self.engine, end - span, end)
        earlier = insights.period(self.engine, end - 2 * span, end - span)
        return render(recent, earlier, self.zone, waiting)

    async def report_command(self, ctx: CommandContext) -> str:
        word = ctx.args.split()[0] if ctx.args.split() else "7"
        if not word.isdecimal():
            raise UsageError("usage: /report [DAYS], e.g. /report 30")
        return self.report(int(word))
