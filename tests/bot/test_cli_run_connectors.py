"""`bot run --connector telegram|slack`: the connectors are built from config, missing secrets named."""

from __future__ import annotations

import pytest

from bot.cli_run import make_connector
from core.config import Settings
from core.errors import ConfigError
from connectors.bluesky import BlueskyConnector
from connectors.facebook import FacebookConnector
from connectors.instagram import InstagramConnector
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
        ("bluesky", r"bluesky: set the environment variable BLUESKY_HANDLE \(bluesky.handle_env\)"),
    ],
)
def test_missing_token_names_the_variable(
    settings: Settings, connector: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "MASTODON_ACCESS_TOKEN", "BLUESKY_HANDLE"):
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
    monkeypatch.setenv("BLUESKY_HANDLE", "acme.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    assert isinstance(make_connector("bluesky", settings), BlueskyConnector)


def test_slack_socket_mode_needs_the_app_token(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        make_connector("slack", settings)


def test_facebook_and_instagram_name_the_missing_account_then_the_token(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FACEBOOK_PAGE_TOKEN", "INSTAGRAM_ACCESS_TOKEN", "META_APP_SECRET", "META_VERIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=r"facebook: set facebook.page_id"):
        make_connector("facebook", settings)
    with pytest.raises(ConfigError, match=r"instagram: set instagram.account_id"):
        make_connector("instagram", settings)
    settings.facebook.page_id = "1001"
    settings.instagram.account_id = "17841400000000001"
    with pytest.raises(ConfigError, match=r"FACEBOOK_PAGE_TOKEN \(facebook.page_token_env\)"):
        make_connector("facebook", settings)
    monkeypatch.setenv("INSTAGRAM_ACCESS_TOKEN", "token")
    with pytest.raises(ConfigError, match=r"META_APP_SECRET \(instagram.app_secret_env\)"):
        make_connector("instagram", settings)
    monkeypatch.setenv("META_APP_SECRET", "secret")
    monkeypatch.setenv("META_VERIFY_TOKEN", "verify")
    monkeypatch.setenv("FACEBOOK_PAGE_TOKEN", "token")
    assert isinstance(make_connector("facebook", settings), FacebookConnector)
    assert isinstance(make_connector("instagram", settings), InstagramConnector)
