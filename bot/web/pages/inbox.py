"""The Inbox page: drafts waiting for approval, escalations, every message with its thread; new ones appear by polling.

Every action calls the same QueueCommands function as the chat command (/approve, /edit, /reject,
/reply, /label); a plain form posts and is sent back here, htmx swaps the answer into the card.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.queue_commands import LABEL_TASKS
from bot.web.context import WebContext, context
from bot.web.page import Page
from bot.web.figure_cache import as_of_last_commit
from bot.web.templating import flash, is_htmx, render, shared_piece, with_csrf
from core.errors import BotError
from storage import inbox_reads, repo
from storage.inbox_reads import Cursor, MessageFilter
from storage.message_states import MessageStatus

WHO = "web"  # stored as approved_by, like "telegram:42" from a chat
POLL_S = 3
PAGE_SIZE = 25  # entries a section shows at once


SECTIONS = ("drafts", "escalations", "messages")  # each paged on its own: ?drafts_after=ID, ?messages_before=ID...


def _filter(request: Request) -> MessageFilter:
    q = request.query_params
    return MessageFilter(q.get("platform", ""), q.get("intent", ""), q.get("sentiment", ""), q.get("status", ""))


def _id(request: Request, name: str) -> int:
    try:
        return max(0, int(request.query_params.get(name, "0")))
    except ValueError:
        return 0


def _cursors(request: Request) -> dict[str, Cursor]:
    return {s: Cursor(_id(request, f"{s}_after"), _id(request, f"{s}_before")) for s in SECTIONS}


def _query(where: MessageFilter, cursors: dict[str, Cursor]) -> dict[str, str | int]:
    """The filter and the page of every section, as query parameters (what links and the poller keep)."""
    kept: dict[str, str | int] = {k: v for k, v in vars(where).items() if v}
    for section, cursor in cursors.items():
        if cursor.after:
            kept[f"{section}_after"] = cursor.after
        if cursor.before:
            kept[f"{section}_before"] = cursor.before
    return kept


@dataclass(frozen=True)
class Pager:
    """A section's "older" and "newer" links (plain links: they work without JavaScript)."""

    older: str
    newer: str


def _pager(where: MessageFilter, cursors: dict[str, Cursor], section: str, paged: inbox_reads.Paged[Any]) -> Pager:
    def link(cursor: Cursor) -> str:
        return "/inbox?" + urlencode(_query(where, {**cursors, section: cursor}))

    if not paged.rows:  # a page emptied meanwhile (answered in a chat, say): back to the first
        here = cursors[section]
        return Pager(link(Cursor()) if here.after else "", link(Cursor()) if here.before else "")
    ids = [row.reply.id if isinstance(row, inbox_reads.Waiting) else row.message.id for row in paged.rows]
    return Pager(link(Cursor(before=min(ids))) if paged.older else "", link(Cursor(after=max(ids))) if paged.newer else "")


def labels(ctx: WebContext) -> dict[str, list[str]]:
    """Every label a correction may give, per task."""
    return {task: list(ctx.brain.known_labels(task)) for task in LABEL_TASKS}


@dataclass(frozen=True)
class Snapshot:
    waiting: inbox_reads.Paged[inbox_reads.Waiting]
    escalated: inbox_reads.Paged[inbox_reads.Line]
    messages: inbox_reads.Paged[inbox_reads.Line]
    platforms: list[str]


def _read(ctx: WebContext, where: MessageFilter, cursors: dict[str, Cursor]) -> Snapshot:
    return Snapshot(
        inbox_reads.waiting_replies(ctx.engine, where, cursors["drafts"], PAGE_SIZE),
        inbox_reads.escalations(ctx.engine, where, cursors["escalations"], PAGE_SIZE),
        inbox_reads.messages(ctx.engine, where, cursors["messages"], PAGE_SIZE),
        inbox_reads.platforms(ctx.engine),
    )


def _body(ctx: WebContext, where: MessageFilter, cursors: dict[str, Cursor]) -> str:
    """Everything below the navigation, the same for every session (forms carry CSRF_SLOT)."""
    now = _read(ctx, where, cursors)
    messages = now.messages.rows
    # New messages come in on top of the newest page only; an older page stays as it is.
    newest = not cursors["messages"].after and not cursors["messages"].before
    after = (messages[0].message.id if messages else 0) if newest else None
    values = {
        "where": where,
        "waiting": now.waiting.rows,
        "escalated": now.escalated.rows,
        "messages": messages,
        "pagers": {s: _pager(where, cursors, s, p) for s, p in zip(SECTIONS, (now.waiting, now.escalated, now.messages))},
        "platforms": now.platforms,
        "labels": labels(ctx),
        "statuses": list(MessageStatus),
        "poll": _poll_url(where, cursors, after),
        "poll_s": POLL_S,
        "offensive_at": ctx.settings.policy.offensive_min_confidence,
    }
    return shared_piece("inbox_body.html", values, ctx.settings.bot.timezone)


async def show(request: Request) -> Response:
    ctx = context(request)
    where = _filter(request)
    cursors = _cursors(request)
    # Drawn once per filter, pages and commit to the database, whoever asks (20 open tabs ask for the same
    # page): a commit of any kind (a new message, an answer, an erasure, a renamed contact) draws it again.
    # The reads wait on the database: in a thread, so the bot's receiving goes on meanwhile.
    shown_as = (ctx.settings.bot.timezone, ctx.settings.policy.offensive_min_confidence)
    key = ("inbox", where, tuple(cursors.items()), shown_as)
    body = await as_of_last_commit(request, key, lambda: _body(ctx, where, cursors))
    return render(request, "inbox.html", {"title": "Inbox", "body": with_csrf(body, request)})


def _poll_url(where: MessageFilter, cursors: dict[str, Cursor], after: int | None) -> str:
    """`after`: the newest message shown (None on an older page of messages: no new ones are asked for)."""
    kept = _query(where, cursors)
    if after is not None:
        kept["after"] = after
    return "/inbox/updates?" + urlencode(kept)


@dataclass(frozen=True)
class Changes:
    new_waiting: list[inbox_reads.Waiting]
    new_escalated: list[inbox_reads.Line]
    gone: list[str]
    new_messages: list[inbox_reads.Line]


async def _changes(request: Request, where: MessageFilter, cursors: dict[str, Cursor], shown: set[str], after: int | None) -> Changes:
    """Only ids are read to compare with the page, once per commit to the database for every tab that
    asks (20 owners' tabs poll); whole rows only for what is new."""
    ctx = context(request)
    drafts, escalated = cursors["drafts"], cursors["escalations"]
    current: set[str] = await as_of_last_commit(
        request, ("inbox-waiting-ids", where, drafts, escalated),
        lambda: inbox_reads.waiting_ids(ctx.engine, where, drafts, escalated, PAGE_SIZE),
    )
    newer: list[inbox_reads.Line] = [] if after is None else await as_of_last_commit(
        request, ("inbox-newer", where, after), lambda: inbox_reads.newer_messages(ctx.engine, where, after)
    )
    new = current - shown
    if not new:
        return Changes([], [], sorted(shown - current), newer)
    return Changes(
        await asyncio.to_thread(inbox_reads.waiting_by_id, ctx.engine, sorted(int(i[1:]) for i in new if i.startswith("r"))),
        await asyncio.to_thread(inbox_reads.escalations_by_id, ctx.engine, sorted(int(i[1:]) for i in new if i.startswith("m"))),
        sorted(shown - current),
        newer,
    )


async def updates(request: Request) -> Response:
    """What changed since the page was drawn: new messages (on the newest page), new drafts and
    escalations on the pages shown, and those no longer waiting (answered elsewhere, in a chat say).
    204 when nothing did.

    The poller sends `shown` for each waiting card on the page (a hidden field in the card), so a
    card the owner just answered here (its place taken by the answer) is neither removed nor
    added again, and one whose action failed comes back."""
    ctx = context(request)
    where = _filter(request)
    cursors = _cursors(request)
    after = _id(request, "after") if "after" in request.query_params else None
    shown = {s for s in request.query_params.getlist("shown") if re.fullmatch(r"[rm]\d+", s)}
    changes = await _changes(request, where, cursors, shown, after)
    if not (changes.new_messages or changes.new_waiting or changes.new_escalated or changes.gone):
        return Response(status_code=204)
    newest = changes.new_messages[0].message.id if changes.new_messages else after
    return render(
        request,
        "inbox_updates.html",
        {
            "new_waiting": changes.new_waiting,
            "new_escalated": changes.new_escalated,
            "gone": changes.gone,
            "new_messages": changes.new_messages,
            "labels": labels(ctx),
            "poll": _poll_url(where, cursors, newest),
            "poll_s": POLL_S,
            "offensive_at": ctx.settings.policy.offensive_min_confidence,
        },
    )


def _back(request: Request) -> str:
    """Where a plain form returns: the inbox or contact page it was posted from (never elsewhere)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/inbox"
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    return path if path.startswith(("/inbox", "/contacts")) else "/inbox"


def _int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise BotError(f"no such {name}") from None


async def _answer(request: Request, done: str, *, card: str = "", error: BotError | None = None) -> Response:
    """A plain form: back to where it came from, with a line. htmx: the card replaced by that line."""
    text = str(error) if error else done
    if is_htmx(request):
        return render(request, "done_card.html", {"text": text, "problem": bool(error), "card": card})
    flash(request, text, problem=error is not None)
    return RedirectResponse(_back(request), status_code=303)


def _text(form: FormData) -> str:
    value = form.get("text")
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


async def _act(request: Request, card: str, param: str, action: Callable[[int, FormData], Awaitable[str]]) -> Response:
    """Run one owner action on the id in the path; its line (or the refusal's) is the answer."""
    form = await request.form()
    card_id = f"{card}-{request.path_params.get(param)}"
    try:
        done = await action(_int(request, param), form)
    except BotError as exc:
        return await _answer(request, "", card=card_id, error=exc)
    return await _answer(request, done, card=card_id)


async def send_reply(request: Request) -> Response:
    """Approve a draft; if its text was changed in the box, the edit is what is sent (/edit)."""
    ctx = context(request)

    async def send(reply_id: int, form: FormData) -> str:
        reply = repo.get_reply(ctx.engine, reply_id)
        text = _text(form)
        if reply is not None and text.strip() and text.strip() != reply.text.strip():
            await ctx.queue.edit_and_send(reply_id, text, WHO)
            return f"Reply #{reply_id} edited and sent."
        await ctx.queue.approve_reply(reply_id, WHO)
        return f"Reply #{reply_id} sent."

    return await _act(request, "reply", "reply_id", send)


async def reject_reply(request: Request) -> Response:
    ctx = context(request)

    async def reject(reply_id: int, form: FormData) -> str:
        ctx.queue.reject_reply(reply_id, WHO)
        return f"Reply #{reply_id} rejected; nothing was sent."

    return await _act(request, "reply", "reply_id", reject)


async def reply_to_message(request: Request) -> Response:
    ctx = context(request)

    async def reply(message_id: int, form: FormData) -> str:
        await ctx.queue.reply_to(message_id, _text(form), WHO)
        return f"Your reply to message {message_id} was sent."

    return await _act(request, "escalation", "message_id", reply)


async def correct_label(request: Request) -> Response:
    """Stored exactly like /label: a correction for `bot train --with-corrections`."""
    ctx = context(request)

    async def label(message_id: int, form: FormData) -> str:
        task, _, name = str(form.get("correction") or "").partition(":")
        ctx.queue.correct_label(message_id, task, name)
        return f"Noted: message {message_id} is {task} {name}."

    return await _act(request, "label", "message_id", label)


async def show_thread(request: Request) -> Response:
    """A message's whole thread with its contact, every message with its labels and replies."""
    ctx = context(request)
    try:
        message = repo.get_message(ctx.engine, _int(request, "message_id"))
    except BotError:
        message = None
    if message is None:
        return render(request, "not_found.html", {"title": "Not found", "what": "That message"}, status_code=404)
    entries = inbox_reads.thread(ctx.engine, message.contact_id)
    return render(
        request,
        "thread.html",
        {
            "title": "Thread",
            "contact": entries[0].contact if entries else None,
            "entries": entries,
            "focus": message.id,
            "labels": labels(ctx),
            "offensive_at": ctx.settings.policy.offensive_min_confidence,
        },
    )


page = Page(
    "Inbox",
    "/inbox",
    [
        Route("/inbox", show, methods=["GET"]),
        Route("/inbox/updates", updates, methods=["GET"]),
        Route("/inbox/messages/{message_id}", show_thread, methods=["GET"]),
        Route("/inbox/messages/{message_id}/reply", reply_to_message, methods=["POST"]),
        Route("/inbox/messages/{message_id}/label", correct_label, methods=["POST"]),
        Route("/inbox/replies/{reply_id}/send", send_reply, methods=["POST"]),
        Route("/inbox/replies/{reply_id}/reject", reject_reply, methods=["POST"]),
    ],
)
