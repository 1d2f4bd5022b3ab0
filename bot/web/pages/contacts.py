"""The Contacts page: who wrote, their messages, sentiment over time, whether they asked to stop (and undoing it), and forgetting them."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.erasure import forget_contact
from bot.web.context import context
from bot.web.page import Page
from bot.web.templating import flash, render
from core.errors import BotError
from core.times import account_zone
from storage import inbox_reads, repo
from storage.models import Contact

SENTIMENTS = ("negative", "neutral", "positive")  # bottom to top in the chart


@dataclass(frozen=True)
class Day:
    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Bar:
    """One stacked piece of the sentiment chart, in SVG units."""

    x: float
    y: float
    width: float
    height: float
    sentiment: str
    title: str


def sentiment_days(rows: list[tuple[datetime, str]], zone_name: str) -> list[Day]:
    zone = account_zone(zone_name)
    per_day: dict[date, Counter[str]] = {}
    for at, sentiment in rows:
        aware = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        per_day.setdefault(aware.astimezone(zone).date(), Counter())[sentiment] += 1
    return [Day(day, dict(counts)) for day, counts in sorted(per_day.items())]


def chart(days: list[Day], width: float = 600, height: float = 120) -> list[Bar]:
    """Stacked bars per day (the last 60 days with messages), heights by message count."""
    days = days[-60:]
    if not days:
        return []
    top = max(d.total for d in days)
    step = min(width / len(days), 40.0)  # a few days are a few narrow bars, not one wide block
    bars: list[Bar] = []
    for i, d in enumerate(days):
        y = height
        for sentiment in [*SENTIMENTS, *sorted(set(d.counts) - set(SENTIMENTS))]:
            n = d.counts.get(sentiment, 0)
            if not n:
                continue
            h = height * n / top
            y -= h
            bars.append(Bar(i * step + step * 0.1, y, step * 0.8, h, sentiment, f"{d.day}: {n} {sentiment}"))
    return bars


async def show_list(request: Request) -> Response:
    ctx = context(request)
    platform = request.query_params.get("platform", "")
    name = request.query_params.get("q", "").strip()
    rows = await asyncio.to_thread(inbox_reads.contacts, ctx.engine, platform=platform, name=name)  # off the event loop
    platforms = await asyncio.to_thread(inbox_reads.platforms, ctx.engine)
    return render(
        request,
        "contacts.html",
        {"title": "Contacts", "rows": rows, "platform": platform, "q": name, "platforms": platforms},
    )


def _contact(request: Request) -> Contact | None:
    try:
        contact_id = int(request.path_params["contact_id"])
    except ValueError:
        return None
    return repo.get_contact(context(request).engine, contact_id)


def _missing(request: Request) -> Response:
    return render(request, "not_found.html", {"title": "Not found", "what": "That contact"}, status_code=404)


async def show_contact(request: Request) -> Response:
    ctx = context(request)
    contact = _contact(request)
    if contact is None or contact.id is None:
        return _missing(request)
    entries = await asyncio.to_thread(inbox_reads.thread, ctx.engine, contact.id)
    days = sentiment_days(await asyncio.to_thread(inbox_reads.sentiments, ctx.engine, contact.id), ctx.settings.bot.timezone)
    return render(
        request,
        "contact.html",
        {
            "title": contact.display_name or contact.platform_user_id,
            "contact": contact,
            "entries": entries,
            "days": days,
            "bars": chart(days),
            "offensive_at": ctx.settings.policy.offensive_min_confidence,
        },
    )


async def confirm_forget(request: Request) -> Response:
    ctx = context(request)
    contact = _contact(request)
    if contact is None or contact.id is None:
        return _missing(request)
    entries = inbox_reads.thread(ctx.engine, contact.id, limit=100_000)
    replies = sum(len(e.replies) for e in entries)
    return render(request, "forget.html", {"title": "Forget", "contact": contact, "messages": len(entries), "replies": replies})


async def forget(request: Request) -> Response:
    """The same erasure as `bot forget PLATFORM USER_ID`, once the owner confirmed it."""
    ctx = context(request)
    contact = _contact(request)
    if contact is None:
        return _missing(request)
    form = await request.form()
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/contacts/{contact.id}/forget", status_code=303)
    erased = forget_contact(ctx.engine, contact.platform, contact.platform_user_id)
    flash(request, erased.summary()[:1].upper() + erased.summary()[1:] + ".")
    return RedirectResponse("/contacts", status_code=303)


async def resubscribe(request: Request) -> Response:
    """Undo the contact's stop, by the same function as `/resubscribe` in a chat."""
    ctx = context(request)
    contact = _contact(request)
    if contact is None or contact.id is None:
        return _missing(request)
    try:
        flash(request, ctx.contacts.resubscribe(contact.id))
    except BotError as error:
        flash(request, str(error), problem=True)
    return RedirectResponse(f"/contacts/{contact.id}", status_code=303)


page = Page(
    "Contacts",
    "/contacts",
    [
        Route("/contacts", show_list, methods=["GET"]),
        Route("/contacts/{contact_id}", show_contact, methods=["GET"]),
        Route("/contacts/{contact_id}/forget", confirm_forget, methods=["GET"]),
        Route("/contacts/{contact_id}/forget", forget, methods=["POST"]),
        Route("/contacts/{contact_id}/resubscribe", resubscribe, methods=["POST"]),
    ],
)
