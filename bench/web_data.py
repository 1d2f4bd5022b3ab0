"""A large, plausible account for bench/web.py: followers' messages with labels and replies, a year of posts with engagement.

Rows go in through SQLAlchemy Core as multi-row INSERTs in one transaction (100,000 messages in
seconds), into a database made by `storage.db.make_engine`, so the schema and indexes are the
bot's own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from storage.message_states import MessageStatus
from storage.models import Contact, EngagementSample, Message, Post, PostStatus, Reply, ReplyStatus

PLATFORMS = ("telegram", "mastodon", "bluesky", "slack")
INTENTS = ("question", "order", "complaint", "praise", "opening_hours", "delivery", "greeting", "spam")
SENTIMENTS = ("positive", "neutral", "negative")
TEXTS = (
    "What time do you open on Saturday?",
    "Do you deliver? How much does it cost?",
    "Your cinnamon rolls are the best in town, thank you!",
    "Is the autumn sale still on? I want two cakes.",
    "My order arrived late and the box was crushed.",
    "Can I pay by card in the shop?",
    "<script>alert('hi')</script> free followers here",
    "Where can I order a birthday cake online?",
)
POST_TEXTS = (
    "Fresh sourdough out of the oven at 8:00.",
    "Our autumn sale: 20% off all cakes until Friday.",
    "New this week: pumpkin cinnamon rolls.",
    "Opening hours over the holidays: see our shop page.",
)
# Final states, roughly as a small shop's inbox ends up.
STATUS_WEIGHTS = {
    MessageStatus.replied: 70,
    MessageStatus.ignored: 14,
    MessageStatus.pending: 6,
    MessageStatus.escalated: 8,
    MessageStatus.failed: 2,
}
CHUNK = 5_000


@dataclass(frozen=True)
class Generated:
    contacts: int
    messages: int
    replies: int
    posts: int
    samples: int


def _chunks(engine: Engine, table: type, rows: list[dict[str, object]]) -> None:
    with engine.begin() as connection:
        for i in range(0, len(rows), CHUNK):
            connection.execute(insert(table), rows[i : i + CHUNK])


def generate(engine: Engine, *, messages: int, posts: int, now: datetime, days: int = 365, seed: int = 1) -> Generated:
    """Fill an empty database: `messages` follower messages and `posts` posts over the `days` before `now`
    (and a few weeks of scheduled posts after it); times in UTC."""
    rng = random.Random(seed)
    span = timedelta(days=days).total_seconds()
    n_contacts = max(1, messages // 20)
    contacts = [
        {"id": i + 1, "platform": PLATFORMS[i % len(PLATFORMS)], "platform_user_id": f"user{i}",
         "display_name": f"Follower {i}", "opted_out": i % 97 == 0, "created_at": now - timedelta(days=days)}
        for i in range(n_contacts)
    ]
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    message_rows: list[dict[str, object]] = []
    reply_rows: list[dict[str, object]] = []
    for i in range(messages):
        contact = contacts[rng.randrange(n_contacts)]
        # Followers write more in the day than at night: a rough daily rhythm.
        received = now - timedelta(seconds=rng.random() * span)
        received = received.replace(hour=int(min(23, max(0, rng.gauss(14, 4)))))
        if received >= now:
            received -= timedelta(days=1)
        status = rng.choices(statuses, weights)[0]
        message_rows.append({
            "id": i + 1, "platform": contact["platform"], "platform_message_id": f"m{i}", "contact_id": contact["id"],
            "kind": "private", "visibility": "direct", "chat_id": str(contact["platform_user_id"]), "reply_to_id": f"m{i}",
            "thread_id": "", "text": rng.choice(TEXTS), "received_at": received, "status": status,
            "intent": rng.choice(INTENTS), "intent_confidence": 0.5 + rng.random() / 2,
            "sentiment": rng.choice(SENTIMENTS), "sentiment_confidence": 0.5 + rng.random() / 2,
            "offensive_probability": rng.random() / 5, "language": "en",
            "status_reason": "complaint" if status == MessageStatus.escalated else None,
            "escalated_at": received if status == MessageStatus.escalated else None,
        })
        if status == MessageStatus.replied:
            automatic = rng.random() < 0.7
            sent = received + timedelta(minutes=rng.expovariate(1 / (3 if automatic else 90)))
            reply_rows.append({
                "message_id": i + 1, "text": "Thanks for writing!", "status": ReplyStatus.sent, "created_at": received,
                "sent_at": sent, "platform_reply_id": f"r{i}", "automatic": automatic,
                "approved_by": None if automatic else "telegram:42", "approved_at": None if automatic else sent,
            })
        elif status == MessageStatus.pending:
            reply_rows.append({
                "message_id": i + 1, "text": "Thanks! We open at 8:00.", "status": ReplyStatus.pending, "created_at": received,
                "sent_at": None, "platform_reply_id": None, "automatic": False, "approved_by": None, "approved_at": None,
            })
    post_rows: list[dict[str, object]] = []
    sample_rows: list[dict[str, object]] = []
    upcoming = max(1, posts // 50)  # the coming weeks' scheduled posts
    for i in range(posts):
        platform = PLATFORMS[i % 3]
        if i < upcoming:
            at = now + timedelta(hours=rng.randrange(1, 24 * 28))
            status, published = PostStatus.scheduled, None
        else:
            at = now - timedelta(seconds=rng.random() * span)
            at = at.replace(minute=0, second=0, microsecond=0)
            status = rng.choices([PostStatus.published, PostStatus.failed, PostStatus.missed], [95, 3, 2])[0]
            published = at if status == PostStatus.published else None
        post_rows.append({
            "id": i + 1, "platform": platform, "text": rng.choice(POST_TEXTS), "status": status,
            "created_at": at - timedelta(days=1), "scheduled_at": at, "published_at": published,
            "platform_post_id": f"p{i}" if published else None,
            "error": "the platform said 400: text too long" if status == PostStatus.failed else None,
            "content_type": "", "attempts": 1 if published else 0,
        })
        if published is not None:
            # Evening posts do better: something for the hour-of-week chart to show.
            base = 20 + 30 * (17 <= at.hour <= 20) + 15 * (at.weekday() >= 5)
            for k in range(2):
                sample_rows.append({
                    "post_id": i + 1, "fetched_at": at + timedelta(hours=1 + 23 * k),
                    "interactions": max(0, int(rng.gauss(base * (1 + k), base / 3))), "counts": "{}",
                })
    _chunks(engine, Contact, contacts)
    _chunks(engine, Message, message_rows)
    _chunks(engine, Reply, reply_rows)
    _chunks(engine, Post, post_rows)
    _chunks(engine, EngagementSample, sample_rows)
    return Generated(len(contacts), len(message_rows), len(reply_rows), len(post_rows), len(sample_rows))
