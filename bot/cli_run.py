"""`bot run`: start the bot on a connector."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from bot.app import App
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.logs import setup_logging
from connectors.base import Connector
from connectors.console import ConsoleConnector

CONNECTORS = ("console",)

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("run", help="run the bot on a connector", description="Run the bot.")
    parser.add_argument("--connector", choices=CONNECTORS, default="console", help="where the bot listens (default: console)")
    config_option(parser)
    parser.set_defaults(handler=run)


def make_connector(name: str, settings: Settings) -> Connector:
    if name == "console":
        return ConsoleConnector(owner_id=settings.console.owner_id)
    raise ConfigError(f"unknown connector {name!r}")


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    setup_logging(settings.bot.log_level)
    connector = make_connector(args.connector, settings)
    if args.connector == "console":
        print(
            f"{settings.brand.name} assistant on the console. Type to talk to it; "
            "'/as-follower NAME TEXT' to write as a follower; /help; /quit or Ctrl-D to leave.",
            flush=True,
        )
    async with App(settings, [connector]) as app:
        await app.run()
    log.info("bot stopped")
    return 0
