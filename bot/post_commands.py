"""The owner's post commands: draft, list, schedule at a time or the best time, queue, calendar, cancel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot import words
from bot.commands import Command, CommandContext, no_args
from bot.post_media import image_note
from core.config import Settings
from core.errors import BotError
from core.text import counted
from bot.scheduler import PostScheduler
from bot.posting_history import posting_history
from bot.when import BadTime, WHEN_HELP, account_zone, as_utc, parse_when, show
from brain.posts import PostDraft
from brain.service import Brain
from storage import repo
from storage.models import Post, PostStatus, utcnow

log = logging.getLogger(__name__)

# After this many posts the model's picks rest mostly on their engagement (bench/best_time.py, a
# post a day: 77% of the oracle in week 1 from the followers' hours, 85% by week 3, 90% by week 12).
LEARNED_AFTER_POSTS = 20
# Posts in these states can be (re)scheduled or cancelled; a post being published or already
# out can not.
OPEN = (PostStatus.draft, PostStatus.scheduled, PostStatus.failed, PostStatus.missed, PostStatus.cancelled)


class PostCommands:
    """Posts from draft to calendar. Times are read and shown in the account's time zone."""

    def __init__(self, engine: Engine, brain: Brain, scheduler: PostScheduler, settings: Settings) -> None:
        self.engine = engine
        self.brain = brain
        self.scheduler = scheduler
        self.settings = settings
        self.zone = account_zone(settings.bot.timezone)

    def commands(self) -> Sequence[Command]:
        return [
            Command(
                "draft", "/draft [@platform] TOPIC", "draft a post about TOPIC with the model", self.draft, words.topic
            ),
            Command("compose", "/compose [@platform] TEXT", "save your own text as a draft post", self.compose),
            Command("drafts", "/drafts", "list draft posts", self.drafts, no_args),
            Command(
                "schedule",
                "/schedule ID WHEN|best",
                f"schedule a post; WHEN is {WHEN_HELP}",
                self.schedule,
                self.schedule_words,
            ),
            Command("reschedule", "/reschedule ID WHEN|best", "move a scheduled, failed or missed post", self.schedule),
            Command("queue", "/queue ID", "put a post in the next free queue slot ([schedule.slots])", self.queue),
            Command("retry", "/retry ID", "publish a failed or missed post again now", self.retry),
            Command("cancel", "/cancel ID", "cancel a post", self.cancel),
            Command("calendar", "/calendar", "posts of the coming week, and those that need you", self.calendar, no_args),
            Command(
                "besttime", "/besttime [@platform]", "the best time to post this week, and why", self.besttime, no_args
            ),
        ]

    def schedule_words(self, text: str) -> str:
        """'schedule it for the best time': 'it' is the newest draft."""
        drafts = repo.posts_with_status(self.engine, [PostStatus.draft])
        if not drafts:
            raise BotError("there is no draft to schedule; ask me to draft a post first")
        newest = max(drafts, key=lambda p: p.id or 0)
        return f"{newest.id} {words.when(text, self.zone, utcnow())}"

    # -- drafts --------------------------------------------------------------------------------

    def _platform_and_rest(self, ctx: CommandContext) -> tuple[str, str]:
        """'@x TEXT' -> ("x", "TEXT"), refusing a platform with no name we know; without '@', this chat's platform."""
        first, _, rest = ctx.args.partition(" ")
        if first.startswith("@") and len(first) > 1:
            return self.settings.brand.known_platform(first), rest.strip()
        return ctx.connector.platform, ctx.args

    async def draft_variants(self, topic: str, platform: str) -> list[PostDraft]:
        """The model's variants of a post about `topic`, best first, each with its checks and notes."""
        return [v for v in await self.brain.draft_post(topic, platform, n=3) if v.text.strip()]

    def save_draft(self, platform: str, text: str) -> Post:
        """The owner's text as a draft post, refused when it does not fit the platform."""
        self.settings.brand.check_length(platform, text)
        return repo.add_post(self.engine, platform=platform, text=text)

    def edit_text(self, post_id: int, text: str) -> Post:
        """New text for a post not yet out, refused when it does not fit its platform."""
        post = self.open_post(post_id)
        if not text.strip():
            raise BotError("a post needs some text")
        self.settings.brand.check_length(post.platform, text)
        return repo.update_post(self.engine, post_id, text=text)

    async def draft(self, ctx: CommandContext) -> str:
        platform, topic = self._platform_and_rest(ctx)
        if not topic:
            return "usage: /draft [@platform] TOPIC"
        variants = await self.draft_variants(topic, platform)
        if not variants:
            return "the model returned nothing; try another topic, or /compose your own text"
        best = variants[0]  # ranked best first
        saved = self._saved(repo.add_post(self.engine, platform=platform, text=best.text.strip()))
        if best.check_failures:
            saved += f"\n(check: {'; '.join(best.check_failures)}; edit it with /compose if needed)"
        saved += "".join(f"\nnote: {note}" for note in best.notes)
        return saved

    async def compose(self, ctx: CommandContext) -> str:
        platform, text = self._platform_and_rest(ctx)
        if not text:
            return "usage: /compose [@platform] TEXT"
        return self._saved(self.save_draft(platform, text))

    def _saved(self, post: Post) -> str:
        return f"draft #{post.id} for {post.platform}: {post.text}\n/schedule {post.id} best, /schedule {post.id} WHEN or /queue {post.id}"

    async def drafts(self, ctx: CommandContext) -> str:
        posts = repo.posts_with_status(self.engine, [PostStatus.draft])
        return "\n".join(f"#{p.id} {p.platform}: {p.text}{image_note(p)}" for p in posts) or "no drafts; /draft TOPIC makes one"

    # -- scheduling ----------------------------------------------------------------------------

    def _open_post(self, args: str) -> tuple[Post, str]:
        word, _, rest = args.partition(" ")
        number = word.removeprefix("#")
        if not number.isdigit():
            raise BotError(f"no post {word!r}; /drafts and /calendar list them")
        return self.open_post(int(number)), rest.strip()

    def open_post(self, post_id: int) -> Post:
        """A post that may still be (re)scheduled or cancelled."""
        post = repo.get_post(self.engine, post_id)
        if post is None:
            raise BotError(f"no post '{post_id}'; /drafts and /calendar list them")
        if post.status not in OPEN:
            raise BotError(f"post #{post.id} is {post.status.value}; it cannot be changed now")
        return post

    def schedule_post(self, post_id: int, when: str) -> tuple[datetime, str]:
        """Schedule an open post at `when` (the owner's words, see WHEN_HELP) or at the best time
        ("best"); returns the time and, for the best time, why."""
        post = self.open_post(post_id)
        now = utcnow()
        if when.lower() == "best":
            window = timedelta(days=self.settings.schedule.best_window_days)
            history = posting_history(self.engine, post.platform)
            at, why = self.brain.best_slot(history, now + timedelta(minutes=5), now + window, post.content_type)
        elif when:
            at, why = parse_when(when, self.zone, now), ""
            if at <= now:
                raise BadTime(f"{show(at, self.zone)} has already passed")
        else:
            raise BadTime(f"usage: /schedule ID WHEN|best; WHEN is {WHEN_HELP}")
        self.scheduler.schedule(post_id, at)
        return at, why

    def queue_post(self, post_id: int) -> tuple[datetime, str]:
        """Put an open post in the platform's next free queue slot; returns the time and why."""
        post = self.open_post(post_id)
        history = posting_history(self.engine, post.platform)
        at, why = self.brain.next_free_slot(post.platform, history, utcnow(), post.content_type)
        self.scheduler.schedule(post_id, at)
        return at, why

    def retry_post(self, post_id: int) -> datetime:
        """Publish a failed or missed post now (the scheduler takes it at once)."""
        post = self.open_post(post_id)
        if post.status not in (PostStatus.failed, PostStatus.missed):
            raise BotError(f"post #{post_id} is {post.status.value}; only a failed or missed post is retried")
        at = utcnow()
        self.scheduler.schedule(post_id, at)
        return at

    def cancel_post(self, post_id: int) -> None:
        self.open_post(post_id)
        self.scheduler.cancel(post_id)

    async def schedule(self, ctx: CommandContext) -> str:
        post, when = self._open_post(ctx.args)
        assert post.id is not None
        at, why = self.schedule_post(post.id, when)
        return f"post #{post.id} scheduled for {show(at, self.zone)}" + (f"\n{why}" if why else "")

    async def queue(self, ctx: CommandContext) -> str:
        post, _ = self._open_post(ctx.args)
        assert post.id is not None
        at, why = self.queue_post(post.id)
        return f"post #{post.id} queued for {show(at, self.zone)}" + (f"\n{why}" if why else "")

    async def retry(self, ctx: CommandContext) -> str:
        post, _ = self._open_post(ctx.args)
        assert post.id is not None
        self.retry_post(post.id)
        return f"post #{post.id} will be published again now"

    async def cancel(self, ctx: CommandContext) -> str:
        post, _ = self._open_post(ctx.args)
        assert post.id is not None
        self.cancel_post(post.id)
        return f"post #{post.id} cancelled"

    async def calendar(self, ctx: CommandContext) -> str:
        now = utcnow()
        lines: list[str] = []
        for post in repo.posts_with_status(self.engine, [PostStatus.scheduled, PostStatus.publishing]):
            if post.scheduled_at and as_utc(post.scheduled_at) <= now + timedelta(days=7):
                lines.append(f"{show(post.scheduled_at, self.zone)}  #{post.id} {post.platform}: {post.text[:60]}{image_note(post)}")
        attention = repo.posts_with_status(self.engine, [PostStatus.missed, PostStatus.failed])
        lines += [f"needs you: #{p.id} {p.status.value}: {p.error or ''}" for p in attention]
        return "\n".join(lines) or "nothing scheduled for the coming week"

    async def besttime(self, ctx: CommandContext) -> str:
        platform, _ = self._platform_and_rest(ctx)
        now = utcnow()
        window = timedelta(days=self.settings.schedule.best_window_days)
        history = posting_history(self.engine, platform)
        at, why = self.brain.best_slot(history, now, now + window)
        posts, messages = len(history.published), len(history.follower_activity)
        waiting = len(repo.posts_with_status(self.engine, [PostStatus.published], platform=platform)) - posts
        basis = f"it rests on {posts} of your own posts on {platform} (their engagement)"
        if waiting > 0:
            basis += f"; {counted(waiting, 'more post')} whose engagement is not in yet"
        if posts < LEARNED_AFTER_POSTS:
            basis += f" and on when your followers write ({counted(messages, 'message')}); it learns from every post"
        return f"best time on {platform}: {show(at, self.zone)}\n{why}\n{basis}"

