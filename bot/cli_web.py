"""`bot web set-password`: the owner's password for the dashboard."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from core.errors import BotError


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser("web", help="the web dashboard", description="The web dashboard served by `bot run`.")
    web = parser.add_subparsers(dest="web_command", metavar="WEB_COMMAND", required=True)
    setpw = web.add_parser(
        "set-password",
        help="set the dashboard's password (signs every browser out)",
        description="Ask for the dashboard's password (twice on a terminal; one line from standard input "
        "otherwise) and store a slow hash of it (argon2) in the data folder.",
    )
    config_option(setpw)
    setpw.set_defaults(handler=set_password)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New dashboard password: ")
    if getpass.getpass("Again: ") != first:
        raise BotError("the two passwords differ; nothing changed")
    return first


def set_password(args: argparse.Namespace) -> int:
    from bot.web.passwords import PasswordStore
    from core.config import load_settings

    settings = load_settings(args.config)
    store = PasswordStore(settings.data_dir)
    store.set(_read_password())
    print(f"dashboard password set ({store.path}); browsers signed in before must sign in again")
    return 0
