"""`bot draft-reply` and `bot draft-post`: draft with the configured models, without running the bot."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict

from core.config import load_settings
from core.errors import BotError
from bot.logs import setup_logging
from brain.service import Brain


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    reply = sub.add_parser(
        "draft-reply",
        help="draft a reply to a follower's message",
        description="Understand a follower's message and draft the reply the bot would send, with its checks.",
    )
    reply.add_argument("text", help="the follower's message")
    reply.add_argument("--platform", default="", help="whose length limit applies (default: the brand's default)")
    reply.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    config_option(reply)
    reply.set_defaults(handler=draft_reply)

    post = sub.add_parser(
        "draft-post",
        help="draft post variants about a topic, best first",
        description="Draft N post variants for a platform, ranked by closeness to the brand's best posts.",
    )
    post.add_argument("topic", help="what the post is about")
    post.add_argument("--platform", required=True, help="the platform the post is for (sets the length limit)")
    post.add_argument("-n", type=_count, default=3, help="how many variants (default: 3)")
    post.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    config_option(post)
    post.set_defaults(handler=draft_post)


def _count(value: str) -> int:
    n = int(value) if value.strip().isdigit() else 0
    if not 1 <= n <= 16:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 16, not {value!r}")
    return n


async def _brain(config: str) -> Brain:
    settings = load_settings(config)
    # Only warnings: the command's output is the draft, not the log.
    setup_logging("WARNING")
    brain = Brain(settings)
    await brain.load()
    return brain


async def draft_reply(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise BotError("the message is empty")
    brain = await _brain(args.config)
    try:
        understanding = await brain.understand(args.text)
        draft = await brain.draft_reply(args.text, understanding, platform=args.platform)
    finally:
        brain.close()
    if args.json:
        print(json.dumps({**asdict(draft), "understanding": asdict(understanding)}, ensure_ascii=False))
    else:
        print(draft.text or "(no reply)")
        print(f"[{understanding.intent}, {understanding.sentiment}; {'needs review' if draft.needs_review else 'may be sent'}]")
        for failure in draft.check_failures:
            print(f"  - {failure}")
    return 0


async def draft_post(args: argparse.Namespace) -> int:
    if not args.topic.strip():
        raise BotError("the topic is empty")
    brain = await _brain(args.config)
    try:
        variants = await brain.draft_post(args.topic, args.platform, args.n)
    finally:
        brain.close()
    if args.json:
        print(json.dumps({"topic": args.topic, "platform": args.platform, "variants": [asdict(v) for v in variants]}, ensure_ascii=False))
    else:
        for rank, variant in enumerate(variants, start=1):
            print(f"{rank}. [score {variant.score:.3f}, {variant.source}] {variant.text}")
            for failure in variant.check_failures:
                print(f"     - {failure}")
            for note in variant.notes:
                print(f"     note: {note}")
    return 0
