"""`bot run`: start the bot on every connector config enables, or on the one named."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.platforms import CONNECTOR_FACTORIES, CONNECTOR_PLATFORMS

if TYPE_CHECKING:
    from bot.app import App
    from connectors.base import Connector
    from core.config import Settings

CONNECTORS = CONNECTOR_PLATFORMS

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser(
        "run",
        help="run the bot on every connector [connectors] enabled lists",
        description="Run the bot on every connector [connectors] enabled lists (default: the console), or on one.",
    )
    parser.add_argument("--connector", choices=CONNECTORS, help="run on this connector alone")
    config_option(parser)
    parser.set_defaults(handler=run)


def make_connector(name: str, settings: Settings) -> Connector:
    """The connector for a platform, built by its module's factory (core/platforms.py); the
    platform's library is imported only when the bot runs on it."""
    if name not in CONNECTOR_FACTORIES:
        raise ConfigError(f"unknown connector {name!r}")
    module, _, factory = CONNECTOR_FACTORIES[name].partition(":")
    build: Callable[[Settings], Connector] = getattr(importlib.import_module(module), factory)
    return build(settings)


def make_connectors(names: list[str], settings: Settings) -> tuple[list[Connector], list[str]]:
    """Every named connector that can be built, and one line for each that cannot (a secret missing
    from the environment), naming the setting; the others run without it. None built: its error."""
    built: list[Connector] = []
    errors: list[ConfigError] = []
    for name in names:
        try:
            built.append(make_connector(name, settings))
        except ConfigError as exc:
            errors.append(exc)
    if not built:
        raise errors[0]
    return built, [f"not started: {exc}" for exc in errors]


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
    names = [args.connector] if args.connector else settings.connectors.enabled
    console = "console" in names
    # The console is the screen: the log goes to a file then.
    log_file = settings.data_dir / "bot.log" if console else None
    setup_logging(settings.bot.log_level, log_file)
    connectors, left_out = make_connectors(names, settings)
    for line in left_out:
        log.error("%s", line)  # on stderr also when the log is in a file (bot/logs.py)
    if console:
        print(
            f"{settings.brand.name} assistant on {', '.join(c.platform for c in connectors)}. On the console: type to talk to it; "
            "'/as-follower NAME TEXT' to write as a follower; /help; /quit or Ctrl-D to leave. "
            f"Log: {log_file}",
            flush=True,
        )
    from bot.app import App  # the models and platform libraries: only once the bot is to run

    async with App(settings, connectors, announce=lambda line: print(line, flush=True)) as app:
        _stop_on_signals(app)
        await app.run()
    log.info("bot stopped")
    failures = [c.failure for c in connectors if c.failure]
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0
