"""`bot run`: start the bot on a connector."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable

from bot.app import App
from core.config import Settings, load_settings
from core.errors import ConfigError
from bot.logs import setup_logging
from connectors.base import Connector
from connectors.bluesky import BlueskyConnector
from connectors.console import ConsoleConnector
from connectors.mastodon import MastodonConnector
from connectors.slack import SlackConnector
from connectors.telegram import TelegramConnector

CONNECTORS = ("console", "telegram", "slack", "mastodon", "bluesky")

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("run", help="run the bot on a connector", description="Run the bot.")
    parser.add_argument("--connector", choices=CONNECTORS, default="console", help="where the bot listens (default: console)")
    config_option(parser)
    parser.set_defaults(handler=run)


def make_connector(name: str, settings: Settings) -> Connector:
    if name == "console":
        return ConsoleConnector(owner_id=settings.console.owner_id)
    if name == "bluesky":
        return BlueskyConnector(settings.bluesky)
    if name == "telegram":
        return TelegramConnector(settings.telegram)
    if name == "slack":
        return SlackConnector(settings.slack)
    if name == "mastodon":
        return MastodonConnector(settings.mastodon)
    raise ConfigError(f"unknown connector {name!r}")


def _stop_on_sigterm(app: App) -> None:
    """A service manager's SIGTERM stops receiving cleanly; stored messages wait for the next start."""
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()  # keeps the task referenced until it is done

    def stop() -> None:
        task = loop.create_task(app.stop())
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
    except (NotImplementedError, RuntimeError):  # no signal handlers on this platform or thread
        pass


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
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
    async with App(settings, [connector]) as app:
        _stop_on_sigterm(app)
        await app.run()
    log.info("bot stopped")
    return 0
