"""The owner's post commands: draft, list, schedule at a time or the best time, queue, calendar, cancel.

A post for several platforms ("/draft @mastodon,bluesky TOPIC") is one row per platform, each
drafted to its platform's length; the first row's id stands for them all ("/schedule 5 best" puts
each at its own platform's best time), any other row's id for that row alone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot import words
from bot.commands import Command, CommandContext, no_args
from bot.post_media import image_note
from core.config import Settings
from core.errors import BotError, UsageError
from core.platforms import not_running_problem
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
                "draft",
                "/draft [@platform,...] TOPIC",
                "draft a post about TOPIC with the model, for each platform",
                self.draft,
                words.topic,
            ),
            Command("compose", "/compose [@platform,...] TEXT", "save your own text as a draft post", self.compose),
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
        return f"{newest.group_id or newest.id} {words.when(text, self.zone, utcnow())}"

    # -- drafts --------------------------------------------------------------------------------

    def _platform_and_rest(self, ctx: CommandContext) -> tuple[str, str]:
        """'@x TEXT' -> ("x", "TEXT"), refusing a platform with no name we know; without '@', this chat's platform."""
        platforms, rest = self._platforms_and_rest(ctx)
        if len(platforms) > 1:
            raise BotError("name one platform here")
        return platforms[0], rest

    def _platforms_and_rest(self, ctx: CommandContext) -> tuple[list[str], str]:
        """'@x,y TEXT' -> (["x", "y"], "TEXT"), each a platform we know; without '@', this chat's platform."""
        first, _, rest = ctx.args.partition(" ")
        if first.startswith("@") and len(first) > 1:
            names = [name for name in first.removeprefix("@").split(",") if name.strip()]
            if not names:
                raise BotError("name a platform after '@', e.g. @mastodon,bluesky")
            platforms = [self.settings.brand.known_platform(f"@{name.strip()}") for name in names]
            return list(dict.fromkeys(platforms)), rest.strip()
        return [ctx.connector.platform], ctx.args

    def not_publishable_notes(self, posts: Sequence[Post]) -> list[str]:
        """A note for each draft whose platform the bot does not run: kept, but it cannot be scheduled here."""
        running = self.scheduler.platforms()
        return [
            f"note: #{post.id} cannot be scheduled: {problem}"
            for post in posts
            if (problem := not_running_problem(post.platform, running))
        ]

    def _refuse_unpublishable(self, posts: Sequence[Post]) -> None:
        """Refuse a whole group before any of it is scheduled when one of its platforms is not run."""
        running = self.scheduler.platforms()
        for post in posts:
            if problem := not_running_problem(post.platform, running):
                raise BotError(f"post #{post.id} cannot be scheduled: {problem}")

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
        platforms, topic = self._platforms_and_rest(ctx)
        if not topic:
            return "usage: /draft [@platform,...] TOPIC"
        best: list[tuple[str, PostDraft]] = []
        for platform in platforms:  # each drafted to its own platform's length
            variants = await self.draft_variants(topic, platform)
            if not variants:
                return "the model returned nothing; try another topic, or /compose your own text"
            best.append((platform, variants[0]))  # ranked best first
        posts = repo.add_post_group(self.engine, [(platform, draft.text.strip()) for platform, draft in best])
        lines = [self._saved_line(post) for post in posts]
        for post, (_, draft) in zip(posts, best):
            if draft.check_failures:
                which = f"#{post.id} " if len(posts) > 1 else ""
                lines.append(f"({which}check: {'; '.join(draft.check_failures)}; edit it with /compose if needed)")
        notes = dict.fromkeys(note for _, draft in best for note in draft.notes)  # the same plan's notes, once
        lines += [f"note: {note}" for note in notes]
        lines += self.not_publishable_notes(posts)
        return "\n".join([*lines[: len(posts)], self._next_steps(posts[0]), *lines[len(posts) :]])

    async def compose(self, ctx: CommandContext) -> str:
        platforms, text = self._platforms_and_rest(ctx)
        if not text:
            return "usage: /compose [@platform,...] TEXT"
        for platform in platforms:
            self.settings.brand.check_length(platform, text)
        posts = repo.add_post_group(self.engine, [(platform, text) for platform in platforms])
        return "\n".join([*(self._saved_line(post) for post in posts), self._next_steps(posts[0]), *self.not_publishable_notes(posts)])

    @staticmethod
    def _saved_line(post: Post) -> str:
        return f"draft #{post.id} for {post.platform}: {post.text}"

    @staticmethod
    def _next_steps(first: Post) -> str:
        n = first.id
        every = " (each platform at its own best time)" if first.group_id else ""
        return f"/schedule {n} best{every}, /schedule {n} WHEN or /queue {n}"

    async def drafts(self, ctx: CommandContext) -> str:
        posts = repo.posts_with_status(self.engine, [PostStatus.draft])
        return "\n".join(
            f"#{p.id} {p.platform}: {p.text}{image_note(p)}" + (f" (with #{p.group_id})" if p.group_id not in (None, p.id) else "")
            for p in posts
        ) or "no drafts; /draft TOPIC makes one"

    # -- scheduling ----------------------------------------------------------------------------

    def _open_posts(self, args: str) -> tuple[list[Post], str]:
        """The post an id names (a group's first id: every row of it that is open) and the rest of the words."""
        word, _, rest = args.partition(" ")
        number = word.removeprefix("#")
        if not number.isdecimal():
            raise BotError(f"no post {word!r}; /drafts and /calendar list them")
        post = repo.get_post(self.engine, int(number))
        if post is not None and post.group_id is not None and post.group_id == post.id:
            posts = [p for p in repo.posts_in_group(self.engine, post.group_id) if p.status in OPEN]
            if posts:
                return posts, rest.strip()
        return [self.open_post(int(number))], rest.strip()

    @staticmethod
    def _on(post: Post) -> str:
        return f"post #{post.id}" + (f" on {post.platform}" if post.group_id else "")

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
            raise UsageError(f"usage: /schedule ID WHEN|best; WHEN is {WHEN_HELP}")
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
        posts, when = self._open_posts(ctx.args)
        self._refuse_unpublishable(posts)
        lines: list[str] = []
        for post in posts:  # each platform at its own best time, from its own history
            assert post.id is not None
            at, why = self.schedule_post(post.id, when)
            lines.append(f"{self._on(post)} scheduled for {show(at, self.zone)}" + (f"\n{why}" if why else ""))
        return "\n".join(lines)

    async def queue(self, ctx: CommandContext) -> str:
        posts, _ = self._open_posts(ctx.args)
        self._refuse_unpublishable(posts)
        lines: list[str] = []
        for post in posts:
            assert post.id is not None
            at, why = self.queue_post(post.id)
            lines.append(f"{self._on(post)} queued for {show(at, self.zone)}" + (f"\n{why}" if why else ""))
        return "\n".join(lines)

    async def retry(self, ctx: CommandContext) -> str:
        posts, _ = self._open_posts(ctx.args)
        if len(posts) > 1:  # a group: those of its rows that failed or were missed
            posts = [p for p in posts if p.status in (PostStatus.failed, PostStatus.missed)] or posts[:1]
        for post in posts:
            assert post.id is not None
            self.retry_post(post.id)
        return "\n".join(f"{self._on(post)} will be published again now" for post in posts)

    async def cancel(self, ctx: CommandContext) -> str:
        posts, _ = self._open_posts(ctx.args)
        for post in posts:
            assert post.id is not None
            self.cancel_post(post.id)
        return "\n".join(f"{self._on(post)} cancelled" for post in posts)

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
        followers = repo.follower_counts(self.engine, platform)
        scaled = f", scaled to your {followers[-1][1]:,} followers now" if followers and posts else ""
        basis = f"it rests on {posts} of your own posts on {platform} (their engagement{scaled})"
        if posts < LEARNED_AFTER_POSTS and history.audience_hours:
            basis += f" and on the hours your followers are online ({platform}'s insights)"
        elif posts < LEARNED_AFTER_POSTS:
            basis += f" and on when your followers write ({counted(messages, 'message')})"
        if waiting > 0:
            basis += f"; {counted(waiting, 'more post')} whose engagement is not in yet"
        if posts < LEARNED_AFTER_POSTS:
            basis += "; it learns from every post"
        return f"best time on {platform}: {show(at, self.zone)}\n{why}\n{basis}"

