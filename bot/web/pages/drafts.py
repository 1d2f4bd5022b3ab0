"""The Drafts page: a topic in, ranked variants per platform out (each with its checks); edit, then save,
schedule at a time or the best time, or add to the queue.

Drafting is the same path as `/draft` and `bot draft-post` (PostCommands.draft_variants, the
brain's post drafting); it can take a while on a small machine, so the form posts through htmx
with an indicator (and, without JavaScript, as a plain form that shows the whole page).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.post_commands import OPEN
from bot.web.calendar_view import monday_of
from bot.web.context import WebContext, context
from bot.web.page import Page
from bot.web.pages.calendar import calendar_url
from bot.web.templating import flash, is_htmx, render
from bot.when import WHEN_HELP, account_zone, as_utc, show as show_time
from brain.posts import PostDraft
from core.errors import BotError
from storage import repo
from storage.models import PostStatus

MAX_TOPIC = 500


def _values(ctx: WebContext, request: Request, **extra: object) -> dict[str, object]:
    zone = account_zone(ctx.settings.bot.timezone)
    brand = ctx.settings.brand
    # The console is the terminal `bot run` was started in: a platform to post to only when it runs.
    shown = [p for p in brand.platforms() if p != "console" or p in ctx.connectors]
    return {
        "title": "Drafts",
        "platforms": shown,
        "connected": sorted(ctx.connectors),
        "limits": {p: brand.length_limit(p) for p in brand.platforms()},
        "drafts": repo.posts_with_status(ctx.engine, [PostStatus.draft]),
        "when_help": WHEN_HELP,
        "open_states": [s.value for s in OPEN],
        "retry_states": [PostStatus.failed.value, PostStatus.missed.value],
        "local": lambda at: show_time(at, zone) if at else "",
        "back": "/drafts",
        "topic": "",
        "chosen": [],
        "variants": [],
        **extra,
    }


async def show(request: Request) -> Response:
    ctx = context(request)
    return render(request, "drafts.html", _values(ctx, request))


async def variants(request: Request) -> Response:
    """Ranked variants of a post about the topic, for each platform asked for."""
    ctx = context(request)
    form = await request.form()
    topic = str(form.get("topic", "")).strip()
    chosen = [str(p) for p in form.getlist("platform")]
    problem = ""
    drafted: list[tuple[str, list[PostDraft]]] = []
    if not topic:
        problem = "write a topic first, e.g. \"our autumn sale ends Friday\""
    elif len(topic) > MAX_TOPIC:
        problem = f"a topic of at most {MAX_TOPIC} characters, please; this one has {len(topic)}"
    elif not chosen:
        problem = "pick at least one platform"
    else:
        try:
            for name in chosen:
                platform = ctx.settings.brand.known_platform(name)
                drafted.append((platform, await ctx.posts.draft_variants(topic, platform)))
        except BotError as error:
            problem = str(error)
    values = _values(ctx, request, topic=topic, chosen=chosen, variants=drafted, problem=problem)
    if is_htmx(request):
        return render(request, "drafts_variants.html", {**values, "partial": True})
    return render(request, "drafts.html", values, status_code=400 if problem else 200)


async def save(request: Request) -> Response:
    """A variant (as edited) becomes a post: a draft, or scheduled at once."""
    ctx = context(request)
    zone = account_zone(ctx.settings.bot.timezone)
    form = await request.form()
    text = str(form.get("text", "")).strip()
    action = str(form.get("action", "draft"))
    try:
        if not text:
            raise BotError("the post has no text")
        if action == "at" and not str(form.get("when", "")).strip():
            raise BotError(f"say when to publish it: {WHEN_HELP}")
        platform = ctx.settings.brand.known_platform(str(form.get("platform", "")))
        post = ctx.posts.save_draft(platform, text)
        assert post.id is not None
        if action == "draft":
            notes = ctx.posts.not_publishable_notes([post])
            flash(request, f"draft #{post.id} saved for {platform}" + "".join(f"; {n}" for n in notes), problem=bool(notes))
            return RedirectResponse("/drafts", status_code=303)
        if action == "queue":
            at, why = ctx.posts.queue_post(post.id)
        else:
            when = "best" if action == "best" else str(form.get("when", "")).strip()
            try:
                at, why = ctx.posts.schedule_post(post.id, when)
            except BotError as error:
                flash(request, f"draft #{post.id} saved, but not scheduled: {error}", problem=True)
                return RedirectResponse("/drafts", status_code=303)
        flash(request, f"post #{post.id} scheduled for {show_time(at, zone)}" + (f": {why}" if why else ""))
        return RedirectResponse(calendar_url("week", monday_of(as_utc(at).astimezone(zone).date()), platform), status_code=303)
    except BotError as error:
        flash(request, str(error), problem=True)
        return RedirectResponse("/drafts", status_code=303)


async def edit(request: Request) -> Response:
    """New text for a saved draft."""
    ctx = context(request)
    form = await request.form()
    post_id = int(request.path_params["post_id"])
    try:
        ctx.posts.edit_text(post_id, str(form.get("text", "")).strip())
        flash(request, f"draft #{post_id} saved")
    except BotError as error:
        flash(request, str(error), problem=True)
    return RedirectResponse(f"/drafts#post-{post_id}", status_code=303)


page = Page(
    "Drafts",
    "/drafts",
    [
        Route("/drafts", show, methods=["GET"]),
        Route("/drafts/variants", variants, methods=["POST"]),
        Route("/drafts/save", save, methods=["POST"]),
        Route("/drafts/{post_id:int}/edit", edit, methods=["POST"]),
    ],
)
