"""`bot run`: start the bot on a connector."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.platforms import CONNECTOR_PLATFORMS

if TYPE_CHECKING:
    from bot.app import App
    from connectors.base import Connector
    from core.config import Settings

CONNECTORS = CONNECTOR_PLATFORMS

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("run", help="run the bot on a connector", description="Run the bot.")
    parser.add_argument("--connector", choices=CONNECTORS, default="console", help="where the bot listens (default: console)")
    config_option(parser)
    parser.set_defaults(handler=run)


def make_connector(name: str, settings: Settings) -> Connector:
    # Each platform's library is imported only when the bot runs on it.
    if name == "console":
        from connectors.console import ConsoleConnector

        return ConsoleConnector(owner_id=settings.console.owner_id)
    if name == "bluesky":
        from connectors.bluesky import BlueskyConnector

        return BlueskyConnector(settings.bluesky)
    if name == "telegram":
        from connectors.telegram import TelegramConnector

        return TelegramConnector(settings.telegram)
    if name == "slack":
        from connectors.slack import SlackConnector

        return SlackConnector(settings.slack)
    if name == "mastodon":
        from connectors.mastodon import MastodonConnector

        return MastodonConnector(settings.mastodon)
    if name == "facebook":
        from connectors.facebook import FacebookConnector

        return FacebookConnector(settings.facebook)
    if name == "instagram":
        from connectors.instagram import InstagramConnector

        return InstagramConnector(settings.instagram)
    raise ConfigError(f"unknown connector {name!r}")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stop_on_signals(app: App) -> None:
    """Ctrl-C (SIGINT) and a service manager's SIGTERM stop receiving at once and cleanly: what is
    stored waits for the next start. A second signal while stopping ends the process at once."""
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()  # keeps the task referenced until it is done

    def stop(signum: signal.Signals) -> None:
        if stopping:  # pressed twice: the owner does not want to wait; the database is consistent at any point
            os._exit(128 + signum)
        log.info("%s: stopping", signum.name)
        task = loop.create_task(app.stop())
        stopping.add(task)

    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop, signum)
        except (NotImplementedError, RuntimeError):  # no signal handlers on this platform or thread
            pass


async def run(args: argparse.Namespace) -> int:
    from bot.logs import setup_logging
    from core.config import load_settings

    settings = load_settings(args.config)
    from bot.web.server import check_listen

    check_listen(settings)  # an open dashboard without a password: refused before any model loads
    console = args.connector == "console"
    log_file = settings.data_dir / "bot.log" if console else None
    setup_logging(settings.bot.log_level, log_file)
    connector = make_connector(args.connector, settings)
    if console:
        print(
            f"{settings.brand.name} assistant on the console. Type to talk to it; "
            "'/as-follower NAME TEXT' to write as a follower; /help; /quit or Ctrl-D to leave. "
            f"Log: {log_file}",
            flush=True,
        )
    if settings.web.enabled:
        host = f"[{settings.web.listen}]" if ":" in settings.web.listen else settings.web.listen
        where = f"http://{host}:{settings.web.port}" if settings.web.port else f"a free port of {host} (the log says which)"
        print(f"Dashboard: {where} (password: `bot web set-password`)", flush=True)
    from bot.app import App  # the models and platform libraries: only once the bot is to run

    async with App(settings, [connector]) as app:
        _stop_on_signals(app)
        await app.run()
    log.info("bot stopped")
    if connector.failure:
        print(connector.failure, file=sys.stderr)
        return 1
    return 0
