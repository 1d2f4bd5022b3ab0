"""The Analytics page: the `/report` figures for any date range, against the range before, and charts drawn on the server.

The figures are storage.insights' SQL aggregates, the very ones `/report` shows; charts are PNG
images at their own URLs, so the page answers before they are drawn. Both are cached per range
and state of the data (bot/web/figure_cache.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.report import MAX_DAYS
from bot.web import charts
from bot.web.calendar_view import local_midnight
from bot.web.context import WebContext, context
from bot.web.figure_cache import figure_cache
from bot.web.page import Page
from bot.web.templating import render, templates
from bot.when import account_zone, show as show_time
from core.errors import BotError
from storage import insights
from storage.insights import PeriodFigures
from storage.models import MessageStatus, utcnow

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90, 365)


@dataclass(frozen=True)
class Range:
    first: date  # local days, both included
    last: date
    zone: ZoneInfo

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def before(self) -> Range:
        return Range(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.zone)

    def query(self) -> str:
        return urlencode({"start": self.first.isoformat(), "end": self.last.isoformat()})


def date_range(request: Request, zone: ZoneInfo) -> Range:
    """The range asked for (local days, `start` and `end` included); the last 30 days by default."""
    today = utcnow().astimezone(zone).date()
    q = request.query_params
    try:
        last = date.fromisoformat(q["end"]) if q.get("end") else today
        first = date.fromisoformat(q["start"]) if q.get("start") else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise BotError("dates look like 2026-12-01") from None
    if first > last:
        raise BotError("the range starts after it ends")
    if (last - first).days + 1 > MAX_DAYS:
        raise BotError(f"at most {MAX_DAYS} days at a time")
    return Range(first, last, zone)


def _figures(ctx: WebContext, span: Range) -> dict[str, Any]:
    now = insights.period(ctx.engine, span.start, span.end)
    before = insights.period(ctx.engine, span.before.start, span.before.end)
    waiting = insights.count_messages(ctx.engine, [MessageStatus.pending, MessageStatus.escalated])
    return {"now": now, "before": before, "waiting": waiting}


def change(now: float, before: float) -> str:
    """As /report says it."""
    return f"{now - before:+g} on the period before" if before else "none the period before"


async def show(request: Request) -> Response:
    ctx = context(request)
    zone = account_zone(ctx.settings.bot.timezone)
    try:
        span = date_range(request, zone)
    except BotError as error:
        span = date_range_default(zone)
        return await _page(request, ctx, span, problem=str(error), status_code=400)
    return await _page(request, ctx, span)


def date_range_default(zone: ZoneInfo) -> Range:
    today = utcnow().astimezone(zone).date()
    return Range(today - timedelta(days=DEFAULT_DAYS - 1), today, zone)


async def _page(request: Request, ctx: WebContext, span: Range, problem: str = "", status_code: int = 200) -> Response:
    version = await _version(ctx)
    cache = figure_cache(request)
    figures = await cache.get(("figures", span.first, span.last, span.zone.key, version), lambda: _figures(ctx, span))
    today = utcnow().astimezone(span.zone).date()
    # Everything below the heading is the same for every session: drawn once per range, day and
    # state of the data (the navigation and the CSRF token around it are the session's).
    key = ("analytics-body", span.first, span.last, span.zone.key, version, today)
    body = await cache.get(key, lambda: Markup(templates.get_template("analytics_body.html").render(_body(span, figures, version, today))))
    return render(request, "analytics.html", {"title": "Analytics", "body": body, "problem": problem}, status_code=status_code)


def _body(span: Range, figures: dict[str, Any], version: tuple[Any, ...], today: date) -> dict[str, Any]:
    now: PeriodFigures = figures["now"]
    top = sorted(((n, k) for k, n in now.by_intent.items() if k), reverse=True)[:5]
    presets = [(days, Range(today - timedelta(days=days - 1), today, span.zone).query()) for days in PRESETS]
    return {
        "span": span,
        "now": now,
        "before": figures["before"],
        "waiting": figures["waiting"],
        "top_intents": top,
        "presets": presets,
        "charts": CHART_TITLES,
        "version": "-".join(str(v) for v in version),
        "minutes": _minutes,
        "change": change,
        "local": lambda at: show_time(at, span.zone) if at else "",
    }


async def _version(ctx: WebContext) -> tuple[Any, ...]:
    # Under a millisecond of index lookups: asked in the event loop, a worker thread would cost more.
    return insights.data_version(ctx.engine)


def _minutes(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} min" if value < 90 else f"{value / 60:.1f} h"


CHART_TITLES = {
    "intents": "Messages by intent",
    "sentiments": "Messages by sentiment",
    "answered": "Auto-replied, approved, escalated",
    "answer-time": "Median answer time",
    "posts": "Interactions per post",
    "platforms": "Interactions by platform",
    "hours": "Interactions by hour of the week",
}


def _draw(ctx: WebContext, name: str, span: Range) -> bytes:
    if name in ("intents", "sentiments", "answered", "answer-time"):
        daily = insights.daily(ctx.engine, span.start, span.end, span.zone)
        if name == "intents":
            return charts.stacked_days(daily.days, daily.by_intent, CHART_TITLES[name])
        if name == "sentiments":
            return charts.stacked_days(daily.days, daily.by_sentiment, CHART_TITLES[name], charts.SENTIMENT_COLOURS)
        if name == "answered":
            return charts.who_answered(daily)
        return charts.answer_time(daily)
    if name == "posts":
        return charts.post_engagement(insights.post_engagement(ctx.engine, span.start, span.end))
    if name == "platforms":
        return charts.platforms(insights.platform_engagement(ctx.engine, span.start, span.end))
    return charts.hour_of_week(insights.engagement_by_hour(ctx.engine, span.start, span.end, span.zone))


async def chart(request: Request) -> Response:
    """GET /analytics/charts/{name}.png?start=&end=: one chart as a PNG image."""
    ctx = context(request)
    name = request.path_params["name"]
    if name not in CHART_TITLES:
        return Response("no such chart", status_code=404, media_type="text/plain")
    try:
        span = date_range(request, account_zone(ctx.settings.bot.timezone))
    except BotError as error:
        return Response(str(error), status_code=400, media_type="text/plain")
    version = await _version(ctx)
    png = await figure_cache(request).get(("chart", name, span.first, span.last, span.zone.key, version), lambda: _draw(ctx, name, span))
    # The URL carries the data's version, so the browser may keep the image while the data stands.
    headers = {"cache-control": "private, max-age=86400"} if request.query_params.get("v") else {}
    return Response(png, media_type="image/png", headers=headers)


page = Page(
    "Analytics",
    "/analytics",
    [
        Route("/analytics", show, methods=["GET"]),
        Route("/analytics/charts/{name:str}.png", chart, methods=["GET"]),
    ],
)
