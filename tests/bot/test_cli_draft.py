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


@pytest.mark.models
async def test_draft_post_says_plainly_when_fewer_variants_than_asked(tmp_path, capsys) -> None:
    import argparse

    from bot.cli_draft import FEWER_VARIANTS, _draft_one_post
    from brain.service import Brain
    from core.config import load_settings
    from fakes.generator import ScriptedGenerator
    from tests.conftest import BASE_CONFIG

    # A brand writing in German, with no shop link: two wordings of its plan, no third.
    config = tmp_path / "config.toml"
    config.write_text(
        BASE_CONFIG.replace('allowed_links = ["https://example.com/shop"]', 'allowed_links = []\nlanguage = "de"\nhashtags = []')
        .replace("We are open Monday to Saturday, 8:00 to 18:00.", "Wir liefern im Umkreis von 10 km."),
        encoding="utf-8",
    )
    settings = load_settings(config)
    args = argparse.Namespace(topic="Lieferung", n=3, json=False)
    async with Brain(settings, generator=ScriptedGenerator("Hello")) as brain:
        await _draft_one_post(brain, "Lieferung", "x", args, several=False)
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"2 of 3 variants: {FEWER_VARIANTS}"
        ranked = [line for line in lines if line.split(". [score ", 1)[0].isdigit()]
        assert len(ranked) == 2 and ranked[0].startswith("1. [score ") and ranked[1].startswith("2. [score ")
        await _draft_one_post(brain, "Lieferung", "x", argparse.Namespace(topic="Lieferung", n=3, json=True), several=False)
        payload = json.loads(capsys.readouterr().out)
        assert payload["asked"] == 3 and len(payload["variants"]) == 2
