"""The platforms the bot knows by name, and what a post must have on each (imported by the command line before anything heavy)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

# The platforms `bot run` connects to, each with the function that builds its connector from the
# settings ("module:function"), imported only when the bot runs on it. A new platform is one entry here.
CONNECTOR_FACTORIES: dict[str, str] = {
    "console": "connectors.console:from_settings",
    "telegram": "connectors.telegram:from_settings",
    "slack": "connectors.slack:from_settings",
    "mastodon": "connectors.mastodon:from_settings",
    "bluesky": "connectors.bluesky:from_settings",
    "facebook": "connectors.facebook:from_settings",
    "instagram": "connectors.instagram:from_settings",
}

# A draft may also be for any platform given a length limit in [brand] length_limits (see BrandSettings.platforms).
CONNECTOR_PLATFORMS = tuple(CONNECTOR_FACTORIES)


@dataclass(frozen=True)
class PostRules:
    """What a platform accepts as a post, checked when a post is scheduled (not when it is due)."""

    needs_image: bool = False  # a post without an image is refused (Instagram)
    max_images: int = 1  # more than one makes a carousel (Instagram) or a post with several photos (Facebook)
    images_by_url: bool = False  # the platform fetches each image itself: public https URLs only


POST_RULES: dict[str, PostRules] = {
    "instagram": PostRules(needs_image=True, max_images=10, images_by_url=True),
    "facebook": PostRules(max_images=10),
}


def post_rules(platform: str) -> PostRules:
    return POST_RULES.get(platform, PostRules())


def not_running_problem(platform: str, running: Collection[str]) -> str:
    """Why the bot cannot publish on the platform now: it does not run it ("" when it does)."""
    if platform in running:
        return ""
    how = (
        f"add {platform!r} to [connectors] enabled in config.toml with its [{platform}] settings (README), then restart the bot"
        if platform in CONNECTOR_FACTORIES
        else f"the bot has no connector for {platform}; copy the text and post it yourself"
    )
    return f"the bot does not run {platform} (it runs {', '.join(sorted(running)) or 'none'}); {how}"


def post_problem(platform: str, image_count: int, running: Collection[str]) -> str:
    """Why a post with this many images cannot go out on the platform, given the platforms the bot
    runs ("" when it can). Scheduling asks this, so a post is refused then, not failed when due."""
    if problem := not_running_problem(platform, running):
        return problem
    rules = post_rules(platform)
    if rules.needs_image and image_count == 0:
        return f"{platform} posts need an image; add one with /image ID URL"
    if image_count > rules.max_images:
        return f"{platform} takes at most {rules.max_images} image{'s' if rules.max_images > 1 else ''} a post; this one has {image_count}"
    return ""
