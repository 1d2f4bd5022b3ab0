"""The owner's command that gives a post its images (files or URLs; several make a carousel)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext
from core.errors import BotError
from core.platforms import post_rules
from storage import repo
from storage.models import PostStatus


class PostMediaCommands:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def commands(self) -> Sequence[Command]:
        return [
            Command(
                "image",
                "/image ID URL_OR_FILE [...]",
                "give post ID its images, in order (Instagram needs a public https URL; '-' removes them)",
                self.image,
            )
        ]

    async def image(self, ctx: CommandContext) -> str:
        first, _, rest = ctx.args.partition(" ")
        if not first.lstrip("#").isdigit() or not rest.strip():
            raise BotError("usage: /image ID URL_OR_FILE [...]")
        post = repo.get_post(self.engine, int(first.lstrip("#")))
        if post is None or post.id is None:
            raise BotError(f"there is no post {first}")
        if post.status in (PostStatus.publishing, PostStatus.published):
            raise BotError(f"post #{post.id} is {post.status}; its images cannot change")
        images = [] if rest.strip() == "-" else rest.split()
        rules = post_rules(post.platform)
        if len(images) > rules.max_images:
            raise BotError(f"{post.platform} takes at most {rules.max_images} image(s) a post")
        if rules.images_by_url and any(not i.startswith("https://") for i in images):
            # The platform fetches the image itself: a file on this machine cannot reach it.
            raise BotError(f"{post.platform} takes images by public https URL only")
        repo.update_post(self.engine, post.id, media="\n".join(images), container_id=None)
        return f"post #{post.id} has {len(images)} image(s)" if images else f"post #{post.id} has no images"
