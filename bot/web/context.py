"""What the dashboard's pages reach: the same engine, command sets and brain as the chat commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.app import App
    from bot.contact_commands import ContactCommands
    from bot.post_commands import PostCommands
    from bot.queue_commands import QueueCommands
    from bot.report import ReportCommands
    from brain.service import Brain
    from connectors.base import Connector
    from core.config import Settings


@dataclass(frozen=True)
class WebContext:
    """The running bot's parts a page may use. Pages call the command sets' functions (the ones
    the chat commands call), never a copy of their rules."""

    settings: Settings
    engine: Engine
    queue: QueueCommands
    posts: PostCommands
    reports: ReportCommands
    contacts: ContactCommands
    brain: Brain
    connectors: Mapping[str, Connector]

    @classmethod
    def from_app(cls, app: App) -> WebContext:
        assert app.engine is not None and app.queue is not None and app.posts is not None and app.reports is not None
        assert app.contacts is not None
        return cls(app.settings, app.engine, app.queue, app.posts, app.reports, app.contacts, app.brain, app.connectors)


def context(request: Request) -> WebContext:
    """The context of the app serving this request (set by create_app)."""
    ctx: WebContext = request.app.state.ctx
    return ctx
