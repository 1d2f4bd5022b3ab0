"""The owner asks in plain words on the console; the bot runs the command it means, or just answers."""

from __future__ import annotations

from core.config import Settings
from storage import repo
from storage.db import make_engine
from storage.models import PostStatus
from fakes.console_app import run_console


async def test_plain_words_run_the_commands_they_ask_for(settings: Settings) -> None:
    out = await run_console(
        settings,
        [
            "draft a post about our autumn sale",
            "schedule it for the best time this week",
            "what is waiting for me?",
            "how did last month go?",
            "tell me a joke",
            "/quit",
        ],
    )
    # The stand-in writes about bread: nothing of it is about the topic, so the plan's wording stands.
    assert "(/draft our autumn sale)\ndraft #1 for console: Our autumn sale! https://example.com/shop" in out
    assert "(/schedule 1 best)\npost #1 scheduled for" in out
    assert "(/inbox)\nnothing is waiting for you" in out
    assert "(/report 30)\nLast 30 days" in out
    # Chat is not taken as a command; the assistant says what it can do, never the model's free text.
    after = out.split("(/report 30)")[1]
    assert "bot: I can't answer that: I only say what Test Bakery's facts say" in after and "commands:" in after
    assert "Fresh bread today!" not in after
    [post] = repo.list_posts(make_engine(settings.database_url))
    assert post.status == PostStatus.scheduled


async def test_words_that_lack_something_say_what(settings: Settings) -> None:
    out = await run_console(settings, ["schedule it for the best time", "/quit"])
    assert "that sounds like /schedule, but there is no draft to schedule; ask me to draft a post first" in out
