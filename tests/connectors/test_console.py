from __future__ import annotations

import asyncio
import io

from collections.abc import Awaitable, Callable, Sequence

from connectors.base import Cursor, IncomingMessage, OutgoingPost
from connectors.console import ConsoleConnector


class CallbackInbox:
    """An Inbox that hands each stored message to a test function (the console has no cursor)."""

    def __init__(self, on_message: Callable[[IncomingMessage], Awaitable[None]]) -> None:
        self.on_message = on_message

    async def store(self, messages: Sequence[IncomingMessage], cursor: Cursor | None = None) -> None:
        assert cursor is None
        for message in messages:
            await self.on_message(message)

    async def cursor(self, name: str) -> str | None:
        return None


async def drive(lines: str) -> tuple[list[IncomingMessage], str]:
    """Run the connector over some typed lines, answering every message, until it closes."""
    out = io.StringIO()
    console = ConsoleConnector(owner_id="boss", stdin=io.StringIO(lines), stdout=out, prompt=False)
    seen: list[IncomingMessage] = []

    async def on_message(message: IncomingMessage) -> None:
        seen.append(message)
        await console.send_reply(message, f"echo {message.text}")

    await console.start(CallbackInbox(on_message))
    await asyncio.wait_for(console.wait_closed(), timeout=10)
    await console.stop()
    return seen, out.getvalue()


async def test_owner_and_follower_lines_become_messages() -> None:
    seen, out = await drive("hello there\n/as-follower alice do you ship?\n")
    assert [(m.user_id, m.text) for m in seen] == [("boss", "hello there"), ("alice", "do you ship?")]
    assert seen[0].chat_id == "owner" and seen[1].chat_id == "follower:alice"
    assert len({m.message_id for m in seen}) == 2
    assert all(m.platform == "console" for m in seen)
    assert out.splitlines() == ["bot: echo hello there", "bot -> alice: echo do you ship?"]


async def test_quit_stops_reading() -> None:
    seen, _ = await drive("one\n/quit\ntwo\n")
    assert [m.text for m in seen] == ["one"]


async def test_end_of_input_closes() -> None:
    seen, _ = await drive("only line")
    assert [m.text for m in seen] == ["only line"]


async def test_blank_lines_and_bad_follower_syntax_are_not_messages() -> None:
    seen, out = await drive("\n   \n/as-follower\n/as-follower bob\n")
    assert seen == []
    assert out.count("usage: /as-follower") == 2


async def test_lines_are_handled_in_order_one_at_a_time() -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdin=io.StringIO("a\nb\nc\n"), stdout=out, prompt=False)
    active = 0
    order: list[str] = []

    async def slow(message: IncomingMessage) -> None:
        nonlocal active
        active += 1
        assert active == 1
        await asyncio.sleep(0.01)
        order.append(message.text)
        active -= 1

    await console.start(CallbackInbox(slow))
    await asyncio.wait_for(console.wait_closed(), timeout=10)
    assert order == ["a", "b", "c"]


async def test_publish_and_send_text_print() -> None:
    out = io.StringIO()
    console = ConsoleConnector(stdin=io.StringIO(""), stdout=out, prompt=False)
    post_id = await console.publish(OutgoingPost(text="Autumn sale!", image_path="cake.png"))
    await console.send_text("owner", "note")
    assert post_id
    assert out.getvalue().splitlines() == ["[published] Autumn sale! [image: cake.png]", "bot: note"]
