"""The Inbox page through httpx: what waits, the actions (the chat commands' functions), filters, updates, escaping."""

from __future__ import annotations

import html
import io
import re
from datetime import datetime, timezone

import httpx
from sqlalchemy.engine import Engine

from bot.web.context import WebContext
from storage import repo
from storage.message_states import MessageStatus, Transition
from storage.models import Message, Reply, ReplyStatus
from tests.web.conftest import csrf_headers, form_with_csrf

SCRIPT = "<script>alert('pwned')</script>"


def follower_message(
    engine: Engine, text: str, *, user: str = "ann", name: str = "Ann", intent: str = "question",
    sentiment: str = "neutral", status: Transition | None = None, reason: str = "", platform: str = "console",
) -> Message:
    contact = repo.get_or_create_contact(engine, platform, user, name)
    assert contact.id is not None
    count = len(repo.list_messages(engine, limit=10_000))
    message, _ = repo.add_message(
        engine, platform=platform, platform_message_id=f"m{count + 1}", contact_id=contact.id, text=text,
        chat_id=f"follower:{user}",
    )
    assert message.id is not None
    message = repo.advance_message(
        engine, message.id, Transition.understood, intent=intent, intent_confidence=0.91, sentiment=sentiment,
        sentiment_confidence=0.8, offensive_probability=0.03, language="en",
    )
    if status is not None:
        message = repo.advance_message(engine, message.id, status, status_reason=reason or None)
    return message


def drafted(engine: Engine, text: str, draft: str, **kw: object) -> tuple[Message, Reply]:
    message = follower_message(engine, text, status=Transition.await_owner, reason="question is not auto-answered", **kw)  # type: ignore[arg-type]
    assert message.id is not None
    return message, repo.add_reply(engine, message_id=message.id, text=draft, check_failures="numbers not in the facts")


async def test_inbox_shows_drafts_escalations_labels_and_why(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    drafted(engine, "When do you open on Saturday?", "We open at 8:00.")
    follower_message(engine, "This is the third time my order is late!", user="bob", name="Bob", intent="complaint",
                     sentiment="negative", status=Transition.escalate, reason="complaint 0.88")
    page = (await signed_in.get("/inbox")).text
    assert "When do you open on Saturday?" in page and "We open at 8:00." in page
    assert "question 0.91" in page and "neutral 0.80" in page and "offensive 0.03" in page
    assert "Why it waits: question is not auto-answered" in page and "numbers not in the facts" in page
    assert "third time my order is late" in page and "Why it came to you: complaint 0.88" in page


async def test_approve_sends_the_draft(signed_in: httpx.AsyncClient, engine: Engine, console_out: io.StringIO) -> None:
    message, reply = drafted(engine, "Open on Sunday?", "We are closed on Sundays.")
    answer = await signed_in.post(f"/inbox/replies/{reply.id}/send", data=await form_with_csrf(signed_in, {"text": reply.text}))
    assert answer.status_code == 303
    assert "bot -> ann: We are closed on Sundays." in console_out.getvalue()
    sent = repo.get_reply(engine, reply.id or 0)
    assert sent is not None and sent.status == ReplyStatus.sent and sent.approved_by == "web"
    assert (await signed_in.get("/inbox")).text.count("Reply #") == 1  # the line about it, shown once


async def test_edit_then_send_sends_the_edit_htmx(signed_in: httpx.AsyncClient, engine: Engine, console_out: io.StringIO) -> None:
    _, reply = drafted(engine, "Do you deliver?", "Yes.")
    answer = await signed_in.post(
        f"/inbox/replies/{reply.id}/send",
        data={"text": "Yes, within 10 km for 3 EUR."},
        headers={**await csrf_headers(signed_in), "HX-Request": "true"},
    )
    assert answer.status_code == 200 and f'id="reply-{reply.id}-done"' in answer.text and "edited and sent" in answer.text
    assert console_out.getvalue().strip().endswith("bot -> ann: Yes, within 10 km for 3 EUR.")
    assert repo.get_reply(engine, reply.id or 0).text == "Yes, within 10 km for 3 EUR."  # type: ignore[union-attr]


async def test_reject_sends_nothing(signed_in: httpx.AsyncClient, engine: Engine, console_out: io.StringIO) -> None:
    message, reply = drafted(engine, "buy followers cheap", "Thanks!")
    await signed_in.post(f"/inbox/replies/{reply.id}/reject", data=await form_with_csrf(signed_in))
    assert console_out.getvalue() == ""
    assert repo.get_reply(engine, reply.id or 0).status == ReplyStatus.rejected  # type: ignore[union-attr]
    assert repo.get_message(engine, message.id or 0).status == MessageStatus.ignored  # type: ignore[union-attr]


async def test_a_second_approval_is_refused_with_a_line(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    _, reply = drafted(engine, "Hi?", "Hello!")
    form = await form_with_csrf(signed_in, {"text": "Hello!"})
    await signed_in.post(f"/inbox/replies/{reply.id}/send", data=form)
    again = await signed_in.post(f"/inbox/replies/{reply.id}/send", data=form, follow_redirects=True)
    assert f"reply #{reply.id} is sent, not pending" in again.text


async def test_reply_to_an_escalation(signed_in: httpx.AsyncClient, engine: Engine, console_out: io.StringIO) -> None:
    message = follower_message(engine, "I want a refund", intent="complaint", status=Transition.escalate, reason="complaint")
    await signed_in.post(f"/inbox/messages/{message.id}/reply", data=await form_with_csrf(signed_in, {"text": "Sorry! DM me."}))
    assert "bot -> ann: Sorry! DM me." in console_out.getvalue()
    assert repo.get_message(engine, message.id or 0).status == MessageStatus.replied  # type: ignore[union-attr]


async def test_label_correction_is_stored_like_the_chat_command(
    signed_in: httpx.AsyncClient, engine: Engine, web_context: WebContext
) -> None:
    message = follower_message(engine, "love the croissants", intent="question", sentiment="neutral")
    form = await form_with_csrf(signed_in, {"correction": "sentiment:positive"})
    await signed_in.post(f"/inbox/messages/{message.id}/label", data=form)
    corrections = repo.list_corrections(engine, "sentiment")
    assert [(c.message_id, c.text, c.label) for c in corrections] == [(message.id, "love the croissants", "positive")]
    assert repo.get_message(engine, message.id or 0).sentiment == "positive"  # type: ignore[union-attr]
    bad = await signed_in.post(f"/inbox/messages/{message.id}/label", data={"correction": "intent:nonsense"},
                               headers={**await csrf_headers(signed_in), "HX-Request": "true"})
    assert "intent has no label &#39;nonsense&#39;" in bad.text
    assert "nonsense" not in web_context.brain.known_labels("intent")


async def test_follower_script_is_shown_as_text(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    message, _ = drafted(engine, SCRIPT, SCRIPT, name=f"<b>{SCRIPT}</b>")
    for path in ("/inbox", f"/inbox/messages/{message.id}", "/inbox/updates?after=0&shown=", "/contacts"):
        page = (await signed_in.get(path)).text
        assert SCRIPT not in page and "<b>" not in page, path
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in (await signed_in.get("/inbox")).text


async def test_filters(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    follower_message(engine, "where is my cake", intent="complaint", sentiment="negative", status=Transition.escalate)
    follower_message(engine, "what time do you open", intent="question")
    page = (await signed_in.get("/inbox", params={"intent": "complaint"})).text
    assert "where is my cake" in page and "what time do you open" not in page
    page = (await signed_in.get("/inbox", params={"status": "understood"})).text
    assert "what time do you open" in page and "where is my cake" not in page.split("<h2>Messages</h2>")[1]
    page = (await signed_in.get("/inbox", params={"sentiment": "positive"})).text
    assert "No messages match the filter" in page


async def test_updates_bring_only_what_is_new(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    first, reply = drafted(engine, "first", "draft one")
    page = (await signed_in.get("/inbox")).text
    assert f'name="shown" value="r{reply.id}"' in page  # what the poller sends along
    shown = f"r{reply.id}"
    assert (await signed_in.get("/inbox/updates", params={"after": first.id, "shown": shown})).status_code == 204
    second, reply2 = drafted(engine, "second message", "draft two")
    update = await signed_in.get("/inbox/updates", params={"after": first.id, "shown": shown})
    assert update.status_code == 200
    assert "second message" in update.text and "draft two" in update.text and "draft one" not in update.text
    assert f"after={second.id}" in update.text  # the next poll starts here
    repo.update_reply(engine, reply.id or 0, status=ReplyStatus.rejected)  # answered elsewhere (a chat)
    gone = await signed_in.get("/inbox/updates", params=[("after", second.id), ("shown", f"r{reply.id}"), ("shown", f"r{reply2.id}")])
    assert f'id="reply-{reply.id}" hx-swap-oob="delete"' in gone.text and "draft two" not in gone.text
    # A card answered on this page no longer sends `shown`: it is neither removed nor added again.
    answered = await signed_in.get("/inbox/updates", params=[("after", second.id), ("shown", f"r{reply2.id}")])
    assert answered.status_code == 204


async def test_thread_page(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    message, reply = drafted(engine, "one", "draft")
    follower_message(engine, "two")
    page = await signed_in.get(f"/inbox/messages/{message.id}")
    assert page.status_code == 200 and "one" in page.text and "two" in page.text and "draft" in page.text
    assert (await signed_in.get("/inbox/messages/999")).status_code == 404
    assert (await signed_in.get("/inbox/messages/x")).status_code == 404


async def test_times_are_shown_in_the_account_time_zone(
    signed_in: httpx.AsyncClient, engine: Engine, web_context: WebContext
) -> None:
    contact = repo.get_or_create_contact(engine, "console", "ann", "Ann")
    repo.add_message(engine, platform="console", platform_message_id="m1", contact_id=contact.id or 0, text="hi",
                     received_at=datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc))
    assert "2026-12-07 12:00" in (await signed_in.get("/inbox")).text
    web_context.settings.bot.timezone = "Europe/Berlin"
    page = (await signed_in.get("/inbox")).text
    assert "2026-12-07 13:00" in page and "2026-12-07 12:00" not in page


def _links(page: str) -> dict[str, str]:
    """The pagers' links on a page, by their text ("Older drafts" -> its address)."""
    return {text: html.unescape(href) for href, text in re.findall(r'<a href="([^"]+)" rel="(?:prev|next)">([^<]+)</a>', page)}


def _shown(page: str, prefix: str) -> list[int]:
    return [int(i) for i in re.findall(rf'id="{prefix}-(\d+)"', page)]


async def test_each_section_pages_by_older_and_newer_links_that_keep_the_filter(
    signed_in: httpx.AsyncClient, engine: Engine
) -> None:
    replies = [drafted(engine, f"question number {i}", f"draft {i}")[1].id for i in range(30)]
    follower_message(engine, "a complaint, not a question", intent="complaint")
    page = (await signed_in.get("/inbox", params={"intent": "question"})).text
    assert _shown(page, "reply") == replies[:25]  # the oldest first, a page of them
    assert len(_shown(page, "message")) == 25 and "a complaint" not in page
    links = _links(page)
    assert set(links) == {"Newer drafts", "Older messages"}  # nothing older than the oldest draft, newer than the newest message
    assert all("intent=question" in link for link in links.values())

    newer = (await signed_in.get(links["Newer drafts"])).text
    assert _shown(newer, "reply") == replies[25:]
    assert set(_links(newer)) == {"Older drafts", "Older messages"}
    assert _shown((await signed_in.get(_links(newer)["Older drafts"])).text, "reply") == replies[:25]

    messages = _shown(page, "message")
    older = (await signed_in.get(links["Older messages"])).text
    rest = _shown(older, "message")
    assert len(rest) == 5 and max(rest) < min(messages) and rest == sorted(rest, reverse=True)
    assert _shown(older, "reply") == replies[:25]  # the drafts' page stays where it was
    assert set(_links(older)) == {"Newer drafts", "Newer messages"}
    assert _shown((await signed_in.get(_links(older)["Newer messages"])).text, "message") == messages
    # An older page of messages does not ask for new ones: they come in on the newest page only.
    assert "after=" not in re.search(r'<div id="poller" hx-get="([^"]+)"', older)[1]  # type: ignore[index]
    assert (await signed_in.get("/inbox", params={"messages_before": "x"})).status_code == 200  # nonsense: the first page
    for reply in replies[25:]:  # the second page of drafts answered elsewhere: the way back stays
        repo.update_reply(engine, reply or 0, status=ReplyStatus.rejected)
    emptied = (await signed_in.get(links["Newer drafts"])).text
    assert _shown(emptied, "reply") == [] and _shown((await signed_in.get(_links(emptied)["Older drafts"])).text, "reply") == replies[:25]


async def test_a_poll_keeps_to_the_page_shown(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    replies = [drafted(engine, f"question {i}", f"draft {i}")[1].id for i in range(26)]
    shown = [("shown", f"r{r}") for r in replies[:25]]
    assert (await signed_in.get("/inbox/updates", params=shown)).status_code == 204  # the 26th is on the next page
    repo.update_reply(engine, replies[0] or 0, status=ReplyStatus.rejected)  # answered in a chat
    update = (await signed_in.get("/inbox/updates", params=shown)).text
    assert f'id="reply-{replies[0]}" hx-swap-oob="delete"' in update
    assert update.count('class="card waiting"') == 1 and f'id="reply-{replies[25]}"' in update  # the next one moves up
    assert "draft 25" in update and "draft 1<" not in update
    on_next_page = [("drafts_after", replies[24]), ("shown", f"r{replies[25]}")]
    assert (await signed_in.get("/inbox/updates", params=on_next_page)).status_code == 204
