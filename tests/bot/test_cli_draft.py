"""`bot draft-reply` and `bot draft-post` on the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Every test starts `bot` as a real process, which imports torch first: seconds each.
pytestmark = pytest.mark.slow


def bot(*args: str, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_draft_commands_are_listed_with_their_options() -> None:
    assert "draft-reply" in bot("--help").stdout
    help_text = bot("draft-post", "--help").stdout
    assert "--platform" in help_text and "-n N" in help_text and "--json" in help_text


@pytest.mark.parametrize("bad", [["draft-post", "bread"], ["draft-post", "bread", "--platform", "x", "-n", "0"], ["draft-post", "bread", "--platform", "x", "-n", "many"]])
def test_bad_arguments_are_refused_before_loading_models(bad: list[str]) -> None:
    result = bot(*bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--platform" in result.stderr or "-n" in result.stderr


def test_empty_message_is_one_clear_error(config_file) -> None:
    result = bot("draft-reply", "  ", "--config", str(config_file))
    assert result.returncode == 2 and result.stderr.strip() == "error: the message is empty"


@pytest.mark.models
def test_spam_gets_no_reply_as_json(config_file) -> None:
    result = bot("draft-reply", "Click here to win a free iPhone!! Earn $5000 a week, DM me", "--json", "--config", str(config_file), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["understanding"]["intent"] == "spam"
    assert payload["decision"]["action"] == "ignore_spam" and payload["text"] == ""
