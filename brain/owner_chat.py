"""What the assistant says to the owner's words that ask for no command: true sentences only.

The language model's free text is never shown here: asked for ideas or an opinion, SmolLM2 wrote
"finest ingredients from the local farmers' market" for a bakery whose facts say nothing of it, and
the owner may post what the assistant says. Ideas come from the brand's own facts; anything else
gets what the bot can do (the closest command by meaning was tried as a suggestion: "tell me a joke"
came out nearest to /draft, "did anyone write to us?" too, so the whole list is more use)."""

from __future__ import annotations

from datetime import date

from core.config import BrandSettings, Fact

MAX_IDEAS = 3


def small_talk_reply(brand: BrandSettings) -> str:
    """What the assistant says to the owner's small talk: short and true."""
    return (
        f"Hello! I'm the social-media assistant of {brand.name}: I answer your followers, draft posts and "
        "schedule them. I know nothing of the weather or the news. /help lists what I can do."
    )


def _worth_a_post(brand: BrandSettings, today: date) -> list[tuple[Fact, str]]:
    """The facts a post could be about, with when they hold: what is on now and ends soonest first,
    then what starts later, then the rest in the owner's order."""
    running = sorted((f for f in brand.facts if f.until is not None and f.holds_on(today)), key=lambda f: f.until or today)
    coming = sorted((f for f in brand.facts if f.from_ is not None and f.from_ > today), key=lambda f: f.from_ or today)
    lasting = [f for f in brand.facts if f.until is None and f.holds_on(today) and f not in running]
    return (
        [(f, f" (until {f.until:%-d %B})") for f in running]
        + [(f, f" (from {f.from_:%-d %B}: say it is coming)") for f in coming]
        + [(f, "") for f in lasting]
    )


def post_ideas(brand: BrandSettings, today: date) -> str:
    """Ideas for posts, each one of the brand's facts that holds today or starts later."""
    ideas = _worth_a_post(brand, today)[:MAX_IDEAS]
    if not ideas:
        return (
            "I only post what your facts say, and [brand] facts in config.toml has none that holds now. "
            "Add some, or write your own post with /compose TEXT."
        )
    lines = [f"- {fact.text}{when}" for fact, when in ideas]
    return "\n".join(
        [
            "Ideas from your facts (I only post what they say):",
            *lines,
            "Ask me to draft one in your words, e.g. 'draft a post about ...', or write your own with /compose TEXT.",
        ]
    )


def cannot_answer(brand: BrandSettings, commands: str = "") -> str:
    """The answer to words that ask for nothing the bot does, with the list of its commands."""
    return (
        f"I can't answer that: I only say what {brand.name}'s facts say, so I answer your followers, "
        "draft posts from the facts and your words, and schedule them."
    ) + (f"\n{commands}" if commands else " /help lists what I can do.")
