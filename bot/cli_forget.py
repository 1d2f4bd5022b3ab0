"""`bot forget`: erase a contact and everything they wrote (the right to erasure)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.text import counted


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
    from core.config import load_settings
    from storage import repo  # the database layer: not needed for --help
    from storage.db import make_engine

    settings = load_settings(args.config)
    engine = make_engine(settings.database_url)
    try:
        counts = repo.delete_contact(engine, args.platform, args.user_id)
    finally:
        engine.dispose()
    if not counts["contacts"]:
        print(f"no contact {args.user_id} on {args.platform}; nothing deleted")
        return 1
    print(
        f"deleted {args.platform} contact {args.user_id}: {counted(counts['messages'], 'message')}, "
        f"{counted(counts['replies'], 'reply', 'replies')}, {counted(counts['corrections'], 'label correction')}, "
        f"1 contact ({counted(sum(counts.values()), 'row')})"
    )
    return 0
