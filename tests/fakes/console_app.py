"""Running the whole App on the console over typed lines, with the real brain and a stand-in generator."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, select

from bot.app import App
from brain.service import Brain
from connectors.base import Connector, IncomingMessage
from connectors.console import ConsoleConnector
from core.config import Settings
from storage.db import make_engine
from storage.models import Contact, Message, Reply
from fakes.generator import ScriptedGenerator


def stand_in_brain(settings: Settings) -> Brain:
    """The real brain with an instant generator: drafting is not what these tests are about."""
    return Brain(settings, generator=ScriptedGenerator("Fresh bread today! We are open Monday to Saturday, 8:00 to 18:00."))


async def run_console(settings: Settings, lines: list[str], others: Sequence[Connector] = ()) -> str:
    """The owner's typed lines on the console of an App that also runs `others` (each against its fake server)."""
    out = io.StringIO()
    console = ConsoleConnector(settings.console.owner_id, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, prompt=False)
    async with App(settings, [console, *others], brain=stand_in_brain(settings)) as app:
        await app.run()
    return out.getvalue()


@dataclass
class Outcome:
    out: str
    messages: list[Message]
    replies: list[Reply]
    contacts: list[Contact]
    generator: ScriptedGenerator


async def converse(settings, lines: list[str], generator: ScriptedGenerator | None = None, extra: list[IncomingMessage] = ()) -> Outcome:
    """Run the whole app on the console over some typed lines; return what it printed and stored."""
    generator = generator or ScriptedGenerator()
    out = io.StringIO()
    console = ConsoleConnector(owner_id="owner", stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, prompt=False)
    async with App(settings, [console], brain=Brain(settings, generator=generator)) as app:
        assert app.inbox is not None
        for incoming in extra:
            await app.inbox.store([incoming])
        await asyncio.wait_for(app.run(), timeout=120)
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        outcome = Outcome(
            out.getvalue(),
            list(s.exec(select(Message).order_by(Message.id))),
            list(s.exec(select(Reply).order_by(Reply.id))),
            list(s.exec(select(Contact).order_by(Contact.id))),
            generator,
        )
    engine.dispose()
    return outcome
