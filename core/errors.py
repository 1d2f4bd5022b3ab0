"""The project's one exception family: everything we raise on purpose derives from BotError."""

from __future__ import annotations


class BotError(Exception):
    """An error with a message that is fit to show a user as it is."""


class UsageError(BotError):
    """A command given too few or wrong arguments: the message is its usage line, shown as it is."""


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


class OutsideMessagingWindow(ConnectorError):
    """The platform lets the account answer a private message only for a while after the person's
    last message (Messenger's and Instagram's 24 hours), and that time has passed: the reply waits
    for the owner, who can answer in the platform's own inbox or when the person writes again."""
