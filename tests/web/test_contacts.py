"""The Contacts page through httpx: the list, one contact's messages and sentiment, stop state, forgetting."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from storage import repo
from storage.message_states import Transition
from tests.web.conftest import form_with_csrf
from tests.web.test_inbox import drafted, follower_message


async def test_list_and_search(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    follower_message(engine, "hello", user="ann", name="Ann Baker")
    follower_message(engine, "hi", user="bob", name="Bob Miller")
    page = (await signed_in.get("/contacts")).text
    assert "Ann Baker" in page and "Bob Miller" in page
    page = (await signed_in.get("/contacts", params={"q": "mill"})).text
    assert "Bob Miller" in page and "Ann Baker" not in page


async def test_contact_page_shows_messages_sentiment_and_stop(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    follower_message(engine, "great bread", sentiment="positive")
    follower_message(engine, "stale today", sentiment="negative")
    message = follower_message(engine, "stop writing to me", intent="unsubscribe", status=Transition.ignore, reason="asked to stop")
    repo.set_opted_out(engine, message.contact_id)
    page = (await signed_in.get(f"/contacts/{message.contact_id}")).text
    assert "great bread" in page and "stale today" in page and "Why: asked to stop" in page
    assert "asked to stop" in page and "sends this contact nothing on its own" in page
    assert page.count('class="s-positive"') == 1 and page.count('class="s-negative"') == 1  # the day's stacked bars
    assert (await signed_in.get("/contacts/999")).status_code == 404


async def test_forget_asks_first_then_erases_like_bot_forget(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    message, _ = drafted(engine, "my address is 1 Main St", "Thanks!")
    other = follower_message(engine, "keep me", user="bob", name="Bob")
    repo.add_correction(engine, text=message.text, task="intent", label="question", message_id=message.id)
    confirm = await signed_in.get(f"/contacts/{message.contact_id}/forget")
    assert "cannot be undone" in confirm.text and "bot forget console ann" in confirm.text
    unconfirmed = await signed_in.post(f"/contacts/{message.contact_id}/forget", data=await form_with_csrf(signed_in))
    assert unconfirmed.status_code == 303 and repo.get_contact(engine, message.contact_id) is not None
    done = await signed_in.post(
        f"/contacts/{message.contact_id}/forget", data=await form_with_csrf(signed_in, {"confirm": "yes"}), follow_redirects=True
    )
    assert "Deleted console contact ann: 1 message, 1 reply, 1 label correction, 1 contact (4 rows)." in done.text
    assert repo.get_contact(engine, message.contact_id) is None and repo.get_message(engine, message.id or 0) is None
    assert repo.get_message(engine, other.id or 0) is not None


async def test_undo_a_stop_with_the_chat_commands_function(signed_in: httpx.AsyncClient, engine: Engine) -> None:
    message = follower_message(engine, "stop writing to me", intent="unsubscribe", status=Transition.ignore, reason="asked to stop")
    repo.set_opted_out(engine, message.contact_id)
    page = (await signed_in.get(f"/contacts/{message.contact_id}")).text
    assert f'action="/contacts/{message.contact_id}/resubscribe"' in page and "/resubscribe console ann" in page
    refused = await signed_in.post(f"/contacts/{message.contact_id}/resubscribe")  # no CSRF token
    assert refused.status_code == 403 and repo.get_contact(engine, message.contact_id).opted_out  # type: ignore[union-attr]
    done = await signed_in.post(
        f"/contacts/{message.contact_id}/resubscribe", data=await form_with_csrf(signed_in), follow_redirects=True
    )
    assert "Ann on console gets automatic replies again (their stop is undone)." in done.text
    assert "This contact has not asked to stop." in done.text and "/resubscribe" not in done.text
    assert not repo.get_contact(engine, message.contact_id).opted_out  # type: ignore[union-attr]
    again = await signed_in.post(
        f"/contacts/{message.contact_id}/resubscribe", data=await form_with_csrf(signed_in), follow_redirects=True
    )
    assert "Ann on console had not asked to stop: nothing changed." in again.text
    assert (await signed_in.post("/contacts/999/resubscribe", data=await form_with_csrf(signed_in))).status_code == 404
