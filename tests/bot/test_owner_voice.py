"""Replies the owner approved or edited become the examples for similar messages."""

from __future__ import annotations

from storage import repo
from storage.db import make_engine
from storage.models import ReplyStatus
from fakes.console_app import converse


def test_owner_replies_are_the_sent_ones_the_owner_approved(settings) -> None:
    engine = make_engine(settings.database_url)
    contact = repo.get_or_create_contact(engine, "console", "ann")
    rows = [
        ("when do you open?", "Edited: 8:00 to 18:00.", ReplyStatus.sent, "console:owner"),
        ("hello", "Hi! How can we help you today?", ReplyStatus.sent, None),  # automatic: not the owner's voice
        ("buy?", "Rejected draft", ReplyStatus.rejected, "console:owner"),
        ("hm", "Still waiting", ReplyStatus.pending, None),
        ("thanks!", "You're welcome!", ReplyStatus.sent, "telegram:42"),
    ]
    for n, (theirs, ours, status, who) in enumerate(rows):
        message, _ = repo.add_message(engine, platform="console", platform_message_id=str(n), contact_id=contact.id, text=theirs)
        reply = repo.add_reply(engine, message_id=message.id, text=ours, status=status)
        repo.update_reply(engine, reply.id, approved_by=who)
    assert repo.owner_replies(engine) == [("thanks!", "You're welcome!"), ("when do you open?", "Edited: 8:00 to 18:00.")]
    assert repo.owner_replies(engine, limit=1) == [("thanks!", "You're welcome!")]
    engine.dispose()


async def test_an_edited_reply_is_reused_for_a_similar_question(settings) -> None:
    settings.policy.auto_reply_platforms = []  # everything waits for the owner
    edit = "On Saturdays we bake from 8:00 to 18:00, come early!"
    result = await converse(
        settings,
        [
            "/as-follower ann when do you open on saturday?",
            f"/edit 1 {edit}",
            "/as-follower ben What time do you open on Saturdays?",
            "/as-follower cat do you sell gift cards?",
        ],
    )
    first, second, third = result.replies
    assert first.text == edit and first.approved_by == "console:owner"
    assert second.text == edit  # the owner's own words, for a message like the one they answered
    assert "worded by: owner's reply to a similar message" in (second.check_failures or "")
    assert third.text != edit  # not similar: the plan's own wording
