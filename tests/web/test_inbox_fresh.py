"""The inbox is drawn once per commit to the database for every tab, and never shown stale: any commit
(an erasure, here or by `bot forget` in another process, a renamed contact, an edited or approved draft,
a corrected label) draws it again."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bot.erasure import forget_contact
from storage import repo
from storage.db import make_engine
from storage.message_states import Transition
from tests.web.conftest import BASE_URL, CSRF_META, form_with_csrf, sign_in
from tests.web.test_inbox import drafted, follower_message


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


async def test_a_second_look_reads_nothing_until_something_is_committed(
    signed_in: httpx.AsyncClient, engine: Engine, statements: list[str]
) -> None:
    follower_message(engine, "Do you sell rye bread?", status=Transition.escalate, reason="complaint 0.9")
    first = (await signed_in.get("/inbox")).text
    statements.clear()
    again = (await signed_in.get("/inbox")).text
    assert again == first and statements == []
    follower_message(engine, "And spelt?", user="bob", name="Bob")
    assert "And spelt?" in (await signed_in.get("/inbox")).text and statements


async def test_forgetting_a_contact_here_or_in_another_process_is_never_shown_stale(
    signed_in: httpx.AsyncClient, engine: Engine
) -> None:
    message, _ = drafted(engine, "my address is 1 Main St", "Thanks!")
    follower_message(engine, "I live at 2 Side St", user="bob", name="Bob", status=Transition.escalate)
    page = (await signed_in.get("/inbox")).text
    assert "1 Main St" in page and "2 Side St" in page
    await signed_in.post(f"/contacts/{message.contact_id}/forget", data=await form_with_csrf(signed_in, {"confirm": "yes"}))
    page = (await signed_in.get("/inbox")).text
    assert "1 Main St" not in page and "2 Side St" in page
    # `bot forget` runs apart from the bot: its own engine, its own connections.
    other = make_engine(str(engine.url))
    assert forget_contact(other, "console", "bob").found
    other.dispose()
    assert "2 Side St" not in (await signed_in.get("/inbox")).text


async def test_renamed_contact_edited_draft_approval_and_label_show_at_once(
    signed_in: httpx.AsyncClient, engine: Engine
) -> None:
    message, reply = drafted(engine, "Open on Sunday?", "We are closed on Sundays.")
    assert reply.id is not None and message.id is not None
    assert "Ann" in (await signed_in.get("/inbox")).text
    with engine.begin() as connection:  # a change no page makes: any commit counts
        connection.execute(text("UPDATE contact SET display_name = 'Annabel' WHERE id = :id"), {"id": message.contact_id})
    assert "Annabel" in (await signed_in.get("/inbox")).text
    repo.update_reply(engine, reply.id, text="Closed on Sundays, open Monday at 8.")
    assert "Closed on Sundays, open Monday at 8." in (await signed_in.get("/inbox")).text
    await signed_in.post(f"/inbox/messages/{message.id}/label", data=await form_with_csrf(signed_in, {"correction": "intent:opening_hours"}))
    assert "opening_hours" in (await signed_in.get("/inbox")).text
    await signed_in.post(f"/inbox/replies/{reply.id}/send", data=await form_with_csrf(signed_in, {"text": ""}))
    page = (await signed_in.get("/inbox")).text
    assert f'id="reply-{reply.id}"' not in page and "Nothing is waiting for you." in page


async def test_every_session_gets_its_own_csrf_token_in_the_shared_page(
    signed_in: httpx.AsyncClient, web_app: Starlette, engine: Engine
) -> None:
    drafted(engine, "Open on Sunday?", "We are closed on Sundays.")
    follower_message(engine, "<csrf-slot> is what I typed", user="bob", name="Bob")
    mine = (await signed_in.get("/inbox")).text

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url=BASE_URL) as second:
        await sign_in(second)
        theirs = (await second.get("/inbox")).text
    for page in (mine, theirs):
        token = CSRF_META.search(page)
        assert token is not None
        assert page.count(f'name="csrf_token" value="{token.group(1)}"') == 2  # sign-out and the draft's form
        assert "<csrf-slot>" not in page and "&lt;csrf-slot&gt; is what I typed" in page
    assert CSRF_META.search(mine).group(1) != CSRF_META.search(theirs).group(1)  # type: ignore[union-attr]
