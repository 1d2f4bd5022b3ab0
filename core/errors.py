"""The project's one exception family: everything we raise on purpose derives from BotError."""

from __future__ import annotations


class BotError(Exception):
    """An error with a message that is fit to show a user as it is."""


class ConfigError(BotError):
    """The config file is missing, malformed, or has a bad value."""


class ModelError(BotError):
    """A model could not be found or loaded."""


class ConnectorError(BotError):
    """A platform call failed."""


class SettingRejected(ConnectorError):
    """The platform refused a setting (a wrong token, a missing scope, a bad webhook URL): trying
    again cannot help until the owner changes the setting, which the message names."""


class RateLimited(ConnectorError):
    """The platform asked us to slow down."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
