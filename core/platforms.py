"""The platforms the bot knows by name (imported by the command line before anything heavy)."""

# The platforms `bot run` connects to, each with the function that builds its connector from the
# settings ("module:function"), imported only when the bot runs on it. A new platform is one entry here.
CONNECTOR_FACTORIES: dict[str, str] = {
    "console": "connectors.console:from_settings",
    "telegram": "connectors.telegram:from_settings",
    "slack": "connectors.slack:from_settings",
    "mastodon": "connectors.mastodon:from_settings",
    "bluesky": "connectors.bluesky:from_settings",
}

# A draft may also be for any platform given a length limit in [brand] length_limits (see BrandSettings.platforms).
CONNECTOR_PLATFORMS = tuple(CONNECTOR_FACTORIES)
