"""`bot forget`: erase a contact and everything they wrote (the right to erasure)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser(
        "forget",
        help="delete a contact and all their messages",
        description="Delete a contact, their messages, our replies to them and label corrections on them.",
    )
    parser.add_argument("platform", help="e.g. telegram, slack, console")
    parser.add_argument("user_id", help="the contact's user id on that platform")
    config_option(parser)
    parser.set_defaults(handler=forget)


def forget(args: argparse.Namespace) -> int:
    from bot.erasure import forget_contact  # the database layer: not needed for --help
    from core.config import load_settings
    from storage.db import make_engine

    settings = load_settings(args.config)
    engine = make_engine(settings.database_url)
    try:
        erased = forget_contact(engine, args.platform.strip().lower(), args.user_id)
    finally:
        engine.dispose()
    print(erased.summary())
    return 0 if erased.found else 1
