"""The platforms the bot knows by name (imported by the command line before anything heavy)."""

# The platforms `bot run` connects to. A draft may also be for any platform given a length limit
# in [brand] length_limits (see BrandSettings.platforms).
CONNECTOR_PLATFORMS = ("console", "telegram", "slack", "mastodon")
