"""The owner's command that gives a post its images (files or URLs; several make a carousel) and their description."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.commands import Command, CommandContext
from core.errors import BotError, UsageError
from core.platforms import post_rules
from storage import repo
from storage.models import Post, PostStatus

# Image files every platform with images takes.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
USAGE = "usage: /image ID FILE_OR_URL [...] [ALT TEXT], or /image ID none"


class PostMediaCommands:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def commands(self) -> Sequence[Command]:
        return [
            Command(
                "image",
                "/image ID FILE_OR_URL [...] [ALT TEXT]|none",
                "give post ID its images, in order (several make a carousel where the platform has them); "
                "the words after them describe the images for people who cannot see them",
                self.image,
            )
        ]

    async def image(self, ctx: CommandContext) -> str:
        first, _, rest = ctx.args.partition(" ")
        if not first.lstrip("#").isdecimal() or not rest.strip():
            raise UsageError(USAGE)
        post = repo.get_post(self.engine, int(first.lstrip("#")))
        if post is None or post.id is None:
            raise BotError(f"there is no post {first}")
        if post.status in (PostStatus.publishing, PostStatus.published):
            raise BotError(f"post #{post.id} is {post.status}; its images cannot change")
        if rest.strip().lower() in ("none", "-"):
            repo.update_post(self.engine, post.id, media="", image_alt="", container_id=None)
            return f"post #{post.id} has no images now"
        images, alt = split_images(rest)
        if not images:
            raise BotError(f"{rest.split()[0]!r} is not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) nor a URL; {USAGE}")
        rules = post_rules(post.platform)
        if len(images) > rules.max_images:
            raise BotError(f"{post.platform} takes at most {rules.max_images} image(s) a post")
        if rules.images_by_url and any(not i.startswith("https://") for i in images):
            # The platform fetches the image itself: a file on this machine cannot reach it.
            raise BotError(f"{post.platform} takes images by public https URL only")
        files = [_checked_file(i) for i in images if "://" not in i]
        stored = [i if "://" in i else files.pop(0) for i in images]
        repo.update_post(self.engine, post.id, media="\n".join(stored), image_alt=alt, container_id=None)
        note = "" if alt else "\nno alt text: add a description after the images, for people who cannot see them"
        return f"post #{post.id} has {len(images)} image(s)" + note


def split_images(args: str) -> tuple[list[str], str]:
    """The leading words that are image files or URLs, and the rest (the alt text)."""
    words = args.split()
    images: list[str] = []
    for word in words:
        if "://" not in word and Path(word).suffix.lower() not in IMAGE_SUFFIXES:
            break
        images.append(word)
    return images, " ".join(words[len(images) :])


def _checked_file(where: str) -> str:
    path = Path(where).expanduser()
    if not path.is_file():
        raise BotError(f"no image file {where!r}: give the path of a file on the bot's machine, or a URL")
    return str(path.resolve())


def image_note(post: Post) -> str:
    """How a post's images show in the owner's lists."""
    names = [Path(i).name for i in post.images]
    return f" [image: {', '.join(names)}]" if names else ""
