"""The owner's mistakes in the chat each get one clear line, and small talk gets no invented facts."""

from __future__ import annotations

import io

from bot.app import App
from brain.service import Brain
from connectors.console import ConsoleConnector
from core.config import Settings
from storage import repo
from storage.db import make_engine
from fakes.console_app import run_console
from fakes.generator import ScriptedGenerator

ALLOWED = "one of bluesky, console, facebook, instagram, mastodon, slack, telegram, x"


async def test_a_mistyped_platform_is_refused_naming_those_allowed(settings: Settings) -> None:
    out = await run_console(settings, ["/draft @nosuch fresh bread", "/compose @tiktok hello", "/besttime @insta", "/quit"])
    assert f"could not do that: unknown platform '@nosuch': {ALLOWED}" in out
    assert f"unknown platform '@tiktok': {ALLOWED}" in out and f"unknown platform '@insta': {ALLOWED}" in out
    assert repo.list_posts(make_engine(settings.database_url)) == []


async def test_compose_keeps_to_the_platforms_length_limit(settings: Settings) -> None:
    long_text = "Fresh sourdough every morning. " * 15  # 465 characters: X allows 280
    out = await run_console(settings, [f"/compose @x {long_text.strip()}", "/compose @X Fresh sourdough today", "/quit"])
    assert f"could not do that: x allows 280 characters; this text has {len(long_text.strip())}" in out
    [post] = repo.list_posts(make_engine(settings.database_url))
    assert (post.platform, post.text) == ("x", "Fresh sourdough today")


async def test_a_command_without_its_arguments_answers_its_usage(settings: Settings) -> None:
    out = await run_console(settings, ["/queue", "/approve", "/schedule", "/label", "/drafts", "/quit"])
    for usage in ("/queue ID", "/approve ID", "/schedule ID WHEN|best", "/label MESSAGE_ID TASK LABEL"):
        assert f"bot: usage: {usage}\n" in out
    assert "no post ''" not in out and "no drafts" in out  # a command that takes no arguments still runs


async def test_a_number_no_row_can_have_is_one_line_not_a_crash(settings: Settings) -> None:
    huge = "9" * 25  # beyond any id column
    out = await run_console(
        settings,
        [f"/approve {huge}", f"/schedule {huge} best", f"/reply {huge} hi", "/schedule ² best", "/hide ²", "/image ² a.jpg", "/report ²", "/quit"],
    )
    assert "something went wrong" not in out
    assert f"there is no reply #{huge}" in out and f"no post '{huge}'" in out
    assert f"there is no message {huge}" in out and "no post '²'" in out
    assert "which message? give its number" in out and "usage: /image" in out and "usage: /report [DAYS]" in out


async def test_an_unknown_label_is_refused_naming_the_known_ones(settings: Settings) -> None:
    out = await run_console(
        settings, ["/as-follower ann where is my parcel?", "/label 1 intent nonsense", "/label 1 intent complaint", "/quit"]
    )
    refused = next(line for line in out.splitlines() if "nonsense" in line)
    assert refused.startswith("bot: could not do that: intent has no label 'nonsense': one of ")
    assert "complaint" in refused and "greeting" in refused and "bot train" in refused
    assert "noted: message 1 is intent complaint" in out
    corrections = repo.list_corrections(make_engine(settings.database_url), "intent")
    assert [c.label for c in corrections] == ["complaint"]


async def chat(settings: Settings, lines: list[str], model_says: str) -> str:
    out = io.StringIO()
    console = ConsoleConnector("owner", stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, prompt=False)
    async with App(settings, [console], brain=Brain(settings, generator=ScriptedGenerator(model_says))) as app:
        await app.run()
    return out.getvalue()


async def test_small_talk_gets_a_short_true_reply_not_the_models_facts(settings: Settings) -> None:
    invented = "It's mostly sunny today and the sun will set at around 9pm!"
    out = await chat(settings, ["what's the weather like today?", "how are you?"], invented)
    assert invented not in out
    assert out.count("bot: Hello! I'm the social-media assistant of Test Bakery") == 2
    assert "I know nothing of the weather or the news. /help lists what I can do." in out


async def test_ideas_come_from_the_facts_never_from_the_model(settings: Settings) -> None:
    # What SmolLM2 says when asked for ideas or about the shop: claims no fact makes.
    for model_says in ("Post at 7pm every Friday: 50% off all cakes!", "We use the finest ingredients from the local farmers' market."):
        out = await chat(settings, ["give me some content ideas", "what should we post about this weekend?"], model_says)
        assert model_says not in out and "farmers" not in out and "50%" not in out
        assert out.count("bot: Ideas from your facts (I only post what they say):\n- We are open Monday to Saturday, 8:00 to 18:00.") == 2
        assert "'draft a post about ...'" in out


async def test_words_that_ask_for_nothing_the_bot_does_get_what_it_can_do(settings: Settings) -> None:
    invented = "We use the finest ingredients from the local farmers' market."
    out = await chat(settings, ["what do you think of our new logo?", "tell me about our bakery"], invented)
    assert invented not in out
    assert out.count("bot: I can't answer that: I only say what Test Bakery's facts say") == 2
    assert "/draft" in out and "/inbox" in out  # the list of commands comes with it


def test_ideas_put_what_is_on_now_first_and_say_when_it_ends() -> None:
    from datetime import date

    from brain.owner_chat import post_ideas
    from core.config import BrandSettings, Fact

    brand = BrandSettings(
        name="Test Bakery",
        facts=[
            Fact(text="We are open Monday to Saturday, 8:00 to 18:00."),
            Fact(text="Our autumn sale gives 20% off all cakes.", until=date(2026, 11, 30)),
            Fact(text="Our Christmas stollen is back: 12 EUR a loaf.", from_=date(2026, 12, 1), until=date(2026, 12, 31)),
            Fact(text="Galette des rois in January.", from_=date(2027, 1, 2)),
        ],
    )
    lines = post_ideas(brand, date(2026, 12, 4)).splitlines()
    assert lines[1:4] == [
        "- Our Christmas stollen is back: 12 EUR a loaf. (until 31 December)",
        "- Galette des rois in January. (from 2 January: say it is coming)",
        "- We are open Monday to Saturday, 8:00 to 18:00.",
    ]
    assert "autumn sale" not in "\n".join(lines)  # it ended
    assert "has none that holds now" in post_ideas(BrandSettings(name="Empty"), date(2026, 12, 4))


async def test_a_command_short_of_its_arguments_answers_its_usage_like_one_without_any(settings: Settings) -> None:
    """'/schedule 3' (no time) reads like '/schedule': a plain usage line, not 'could not do that: usage: ...'."""
    out = await run_console(settings, ["/compose Fresh bread", "/schedule 1", "/reply 1", "/report soon", "/image 1", "/resubscribe x", "/quit"])
    assert "could not do that: usage" not in out
    for usage in ("/schedule ID WHEN|best; WHEN is", "/reply MESSAGE_ID TEXT", "/report [DAYS]", "/image ID FILE_OR_URL", "/resubscribe PLATFORM USER_ID"):
        assert f"bot: usage: {usage}" in out
