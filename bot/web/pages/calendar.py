"""The Calendar page: a week (over the best-time model's heatmap, with its pick) or a month of posts; reschedule, cancel, retry.

Every action calls the same PostCommands function as the chat's /reschedule, /cancel, /retry and
/queue; a plain form posts and is sent back to the calendar with one line on what happened.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.posting_history import posting_history
from bot.post_commands import OPEN
from bot.web.calendar_view import SHOWN, build_month, build_week, heat_levels, month_grid_range, monday_of, week_range
from bot.web.context import WebContext, context
from bot.web.figure_cache import figure_cache
from bot.web.page import Page
from bot.web.templating import flash, render
from bot.when import WHEN_HELP, account_zone, as_utc, show as show_time
from core.errors import BotError
from storage import insights, repo
from storage.models import PostStatus, utcnow


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def platforms(ctx: WebContext) -> list[str]:
    """Where posts go out: the running connectors' platforms."""
    return sorted(ctx.connectors)


def _platform(request: Request, ctx: WebContext) -> str:
    names = platforms(ctx)
    asked = request.query_params.get("platform", "")
    return asked if asked in names else (names[0] if names else "")


def calendar_url(view: str, start: date, platform: str) -> str:
    return "/calendar?" + urlencode({"view": view, "start": start.isoformat(), "platform": platform})


async def show(request: Request) -> Response:
    ctx = context(request)
    zone = account_zone(ctx.settings.bot.timezone)
    now = utcnow()
    today = now.astimezone(zone).date()
    view = "month" if request.query_params.get("view") == "month" else "week"
    platform = _platform(request, ctx)
    values: dict[str, object] = {
        "title": "Calendar",
        "view": view,
        "platform": platform,
        "platforms": platforms(ctx),
        "zone": zone.key,
        "when_help": WHEN_HELP,
        "open_states": [s.value for s in OPEN],
        "retry_states": [PostStatus.failed.value, PostStatus.missed.value],
        "drafts": repo.posts_with_status(ctx.engine, [PostStatus.draft]),
        "local": lambda at: show_time(at, zone) if at else "",
        "clock": lambda at: as_utc(at).astimezone(zone).strftime("%H:%M") if at else "",
        "calendar_url": calendar_url,
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "today": today,
    }
    if view == "month":
        first = _day(request.query_params.get("start"), today).replace(day=1)
        _, _, start, end = month_grid_range(first, zone)
        month = build_month(first, zone, insights.posts_between(ctx.engine, start, end, SHOWN), today)
        values.update(month=month, this_month=today.replace(day=1))
        return render(request, "calendar_month.html", values)
    monday = monday_of(_day(request.query_params.get("start"), today))
    start, end = week_range(monday, zone)
    heat, pick, why = None, None, ""
    if platform:
        # Fitting the model on a long history takes a while: once per week shown and state of the
        # data, in a worker thread (so the pick also stays put while nothing changes).
        version = insights.data_version(ctx.engine)
        key = ("best-time", platform, monday, zone.key, version, now.replace(minute=0, second=0, microsecond=0))
        heat, pick, why = await figure_cache(request).get(key, lambda: best_times(ctx, platform, start, end, now))
    week = build_week(monday, zone, insights.posts_between(ctx.engine, start, end, SHOWN), heat, pick, now)
    values.update(week=week, pick=pick, why=why, this_week=monday_of(today))
    return render(request, "calendar_week.html", values)


def best_times(
    ctx: WebContext, platform: str, start: datetime, end: datetime, now: datetime
) -> tuple[list[list[tuple[int, float | None]]], datetime | None, str]:
    """The model's heatmap for the platform, and its pick in [start, end) with why (None when the week is over)."""
    history = posting_history(ctx.engine, platform)
    model = ctx.brain.timing_model(history)
    heat = heat_levels(model.predict, measured=model.n_posts > 0)
    if end <= now + timedelta(minutes=5):
        return heat, None, ""
    try:
        pick, why = ctx.brain.best_slot(history, max(start, now + timedelta(minutes=5)), end)
    except BotError as error:  # no free hour left in this week
        return heat, None, str(error)
    return heat, pick, why


def _back(form_value: object) -> str:
    """Where a form came from, only ever a calendar or drafts page of ours."""
    back = form_value if isinstance(form_value, str) else ""
    return back if back.startswith(("/calendar", "/drafts")) and "//" not in back else "/calendar"


async def act(request: Request) -> Response:
    """POST /calendar/posts/{id}/{action}: schedule (at the owner's time, the best time, the next
    queue slot), retry now or cancel one post."""
    ctx = context(request)
    zone = account_zone(ctx.settings.bot.timezone)
    post_id = int(request.path_params["post_id"])
    action = request.path_params["action"]
    form = await request.form()
    try:
        if action == "schedule":
            when = str(form.get("when", "")).strip()
            if form.get("best"):
                when = "best"
            at, why = ctx.posts.schedule_post(post_id, when)
            text = f"post #{post_id} scheduled for {show_time(at, zone)}" + (f": {why}" if why else "")
        elif action == "queue":
            at, why = ctx.posts.queue_post(post_id)
            text = f"post #{post_id} queued for {show_time(at, zone)}" + (f": {why}" if why else "")
        elif action == "retry":
            ctx.posts.retry_post(post_id)
            text = f"post #{post_id} will be published again now"
        elif action == "cancel":
            ctx.posts.cancel_post(post_id)
            text = f"post #{post_id} cancelled"
        else:
            return Response("no such action", status_code=404)
        flash(request, text)
    except BotError as error:
        flash(request, str(error), problem=True)
    return RedirectResponse(_back(form.get("back")), status_code=303)


page = Page(
    "Calendar",
    "/calendar",
    [
        Route("/calendar", show, methods=["GET"]),
        Route("/calendar/posts/{post_id:int}/{action:str}", act, methods=["POST"]),
    ],
)
