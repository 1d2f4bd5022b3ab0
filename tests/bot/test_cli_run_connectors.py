"""`bot run --connector telegram|slack`: the connectors are built from config, missing secrets named."""

from __future__ import annotations

import pytest

from bot.cli_run import make_connector
from core.config import Settings
from core.errors import ConfigError
from connectors.mastodon import MastodonConnector
from connectors.slack import SlackConnector
from connectors.telegram import TelegramConnector


@pytest.mark.parametrize(
    ("connector", "message"),
    [
        ("telegram", "telegram: set the bot token in the environment variable TELEGRAM_BOT_TOKEN"),
        ("slack", r"slack: set the bot token \(xoxb-...\) in the environment variable SLACK_BOT_TOKEN"),
        (
            "mastodon",
            r"mastodon: set the access token in the environment variable MASTODON_ACCESS_TOKEN \(mastodon.access_token_env\)",
        ),
    ],
)
def test_missing_token_names_the_variable(
    settings: Settings, connector: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "MASTODON_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=f"^{message}$"):
        make_connector(connector, settings)


def test_connectors_are_built_from_the_environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:abc")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert isinstance(make_connector("telegram", settings), TelegramConnector)
    assert isinstance(make_connector("slack", settings), SlackConnector)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "token")
    assert isinstance(make_connector("mastodon", settings), MastodonConnector)


def test_slack_socket_mode_needs_the_app_token(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        make_connector("slack", settings)
