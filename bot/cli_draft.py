"""`bot draft-reply` and `bot draft-post`: draft with the configured models, without running the bot."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from core.errors import BotError

if TYPE_CHECKING:
    from brain.service import Brain
    from core.config import Settings

# Why draft-post can offer fewer variants than asked for (brain/posts.py draft_posts).
FEWER_VARIANTS = "no other wording of the facts and the topic differs and passes the checks"
# The platform a reply is drafted for when none is given: the one every install has.
DEFAULT_REPLY_PLATFORM = "console"


def add_parser(sub: argparse._SubParsersAction, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    reply = sub.add_parser(
        "draft-reply",
        help="draft a reply to a follower's message, and what the bot would do with it",
        description="Understand a follower's message, decide as the bot would (sent automatically, waits "
        "for the owner, escalated or ignored, with the reason) and draft the reply.",
    )
    reply.add_argument("text", help="the follower's message ('-' reads one message per line from stdin)")
    reply.add_argument(
        "--platform",
        default=DEFAULT_REPLY_PLATFORM,
        help=f"the platform the message came on: its length limit and [policy] auto_reply_platforms apply (default: {DEFAULT_REPLY_PLATFORM})",
    )
    reply.add_argument("--json", action="store_true", help="print one JSON object per message instead of text")
    config_option(reply)
    reply.set_defaults(handler=draft_reply)

    post = sub.add_parser(
        "draft-post",
        help="draft post variants about a topic, best first",
        description="Draft N post variants for a platform, ranked by closeness to the brand's best posts.",
    )
    post.add_argument("topic", help="what the post is about ('-' reads one topic per line from stdin)")
    post.add_argument(
        "--platform",
        required=True,
        help="the platform the post is for, or several with commas (e.g. mastodon,bluesky): each its own length limit",
    )
    post.add_argument("-n", type=_count, default=3, help="how many variants (default: 3)")
    post.add_argument("--json", action="store_true", help="print one JSON object per topic instead of text")
    config_option(post)
    post.set_defaults(handler=draft_post)


def _count(value: str) -> int:
    n = int(value) if value.strip().isdigit() else 0
    if not 1 <= n <= 16:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 16, not {value!r}")
    return n


def inputs(arg: str, what: str) -> Iterator[str]:
    """The one argument, or with '-' each non-blank line of stdin, read as it comes (the models
    load once for all of them). Bytes that are not UTF-8 become U+FFFD rather than stopping the command."""
    if arg != "-":
        if not arg.strip():
            raise BotError(f"the {what} is empty")
        yield arg
        return
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    for line in stdin:
        if line.strip():
            yield line.rstrip("\r\n")


def _settings(args: argparse.Namespace) -> Settings:
    from bot.logs import setup_logging
    from core.config import load_settings

    settings = load_settings(args.config)
    # Only warnings: the command's output is the draft, not the log.
    setup_logging("WARNING")
    return settings


# What the bot does with the message, in the owner's words.
OUTCOMES: dict[str, str] = {
    "auto_reply": "sent automatically",
    "queue_for_approval": "waits for the owner's approval",
    "escalate": "escalated to the owner with a suggested reply, never sent alone",
    "ignore_spam": "ignored, no reply",
    "opt_out": "no reply, and no more automatic messages to this contact",
}


async def draft_reply(args: argparse.Namespace) -> int:
    settings = _settings(args)
    platform = settings.brand.known_platform(args.platform)
    from brain.service import Brain  # the models: only once the arguments are known to be good

    async with Brain(settings) as brain:
        for text in inputs(args.text, "message"):
            if args.text == "-" and not args.json:
                print(f"> {text}")  # which message the lines below answer
            await _draft_one_reply(brain, text, platform, as_json=args.json)
    return 0


async def _draft_one_reply(brain: Brain, text: str, platform: str, *, as_json: bool) -> None:
    from brain.draft import Draft
    from brain.policy import Action, Situation, after_draft, decide, drafts_reply

    understanding = await brain.understand(text)
    risk = await brain.assess_risk(text)
    # From the command line there is no contact history: not opted out, under every rate limit.
    decision = decide(understanding, risk, brain.settings.policy, Situation(platform=platform))
    draft = Draft(text="")
    if drafts_reply(decision.action, risk):
        draft = await brain.draft_reply(text, understanding, platform=platform)
        decision = after_draft(decision, draft.text, draft.needs_review)
    outcome = OUTCOMES[decision.action] if draft.text or decision.action is not Action.escalate else "escalated to the owner, no reply drafted"
    if as_json:
        verdict = {"action": str(decision.action), "outcome": outcome, "reason": decision.reason}
        print(json.dumps({**asdict(draft), "decision": verdict, "understanding": asdict(understanding)}, ensure_ascii=False))
        return
    u = understanding
    print(draft.text or "(no reply)")
    print(
        f"[{u.intent} {u.intent_confidence:.2f}, {u.sentiment} {u.sentiment_confidence:.2f}] "
        f"{outcome}: {decision.reason}"
    )
    for failure in draft.check_failures:
        print(f"  - {failure}")


async def draft_post(args: argparse.Namespace) -> int:
    settings = _settings(args)
    platforms = list(dict.fromkeys(settings.brand.known_platform(name) for name in args.platform.split(",") if name.strip()))
    if not platforms:
        raise BotError("name a platform with --platform")
    from brain.service import Brain

    async with Brain(settings) as brain:
        for topic in inputs(args.topic, "topic"):
            for platform in platforms:
                await _draft_one_post(brain, topic, platform, args, several=len(platforms) > 1)
    return 0


async def _draft_one_post(brain: Brain, topic: str, platform: str, args: argparse.Namespace, *, several: bool) -> None:
    variants = await brain.draft_post(topic, platform, args.n)
    if args.json:
        print(json.dumps({"topic": topic, "platform": platform, "asked": args.n, "variants": [asdict(v) for v in variants]}, ensure_ascii=False))
        return
    if args.topic == "-" or several:
        print(f"# {topic}" + (f" ({platform})" if several else ""))
    if len(variants) < args.n:
        print(f"{len(variants)} of {args.n} variants: {FEWER_VARIANTS}")
    for rank, variant in enumerate(variants, start=1):
        print(f"{rank}. [score {variant.score:.3f}, {variant.source}] {variant.text}")
        for failure in variant.check_failures:
            print(f"     - {failure}")
        for note in variant.notes:
            print(f"     note: {note}")
