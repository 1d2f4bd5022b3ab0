"""The command-line entry point: `bot <command>` (also `python -m bot <command>`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from bot import cli_classify, cli_draft, cli_forget, cli_run, cli_timing, cli_web
from core.errors import BotError

DEFAULT_CONFIG = os.environ.get("BOT_CONFIG", "config.toml")


def config_option(parser: argparse.ArgumentParser) -> None:
    """Every command that reads settings takes --config the same way."""
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="path to config.toml (default: $BOT_CONFIG or ./config.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot", description="A self-hosted social-media assistant."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Each command module adds its own subparser and sets `handler`; listed here explicitly.
    for module in (cli_run, cli_forget, cli_classify, cli_draft, cli_timing, cli_web):
        module.add_parser(sub, config_option)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
