from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Every test starts `bot` as a real process, which imports torch first: seconds each.
pytestmark = pytest.mark.slow

BOT = ROOT / ".venv" / "bin" / "bot"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_module_help_lists_commands() -> None:
    result = run(sys.executable, "-m", "bot", "--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "COMMAND" in result.stdout


def test_console_script_run_help() -> None:
    result = run(str(BOT), "run", "--help")
    assert result.returncode == 0
    assert "--connector" in result.stdout and "--config" in result.stdout and "console" in result.stdout


def test_missing_config_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run(sys.executable, "-m", "bot", "run", "--connector", "console", "--config", str(tmp_path / "x.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'x.toml'}: config file not found"


def test_malformed_config_names_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[brand]\nname = 'x'\n[generator]\ntemperature = 'hot'\n")
    result = run(sys.executable, "-m", "bot", "run", "--config", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "generator.temperature" in result.stderr and str(path) in result.stderr


def test_unknown_connector_is_refused() -> None:
    result = run(sys.executable, "-m", "bot", "run", "--connector", "carrier-pigeon")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_forget_erases_a_contact_and_counts_rows(config_file, settings) -> None:
    from storage import repo
    from storage.db import make_engine
    from storage.models import ReplyStatus

    engine = make_engine(settings.database_url)
    ann = repo.get_or_create_contact(engine, "telegram", "99", "Ann")
    bob = repo.get_or_create_contact(engine, "telegram", "100", "Bob")
    for n in range(3):
        m, _ = repo.add_message(engine, platform="telegram", platform_message_id=f"a{n}", contact_id=ann.id, text="my secret address")
        repo.add_reply(engine, message_id=m.id, text="ok", status=ReplyStatus.sent)
    repo.add_correction(engine, text="my secret address", task="intent", label="other", message_id=m.id)
    repo.add_message(engine, platform="telegram", platform_message_id="b1", contact_id=bob.id, text="hi")
    engine.dispose()

    result = run(str(BOT), "forget", "telegram", "99", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    assert "3 messages, 3 replies, 1 label correction, 1 contact (8 rows)" in result.stdout

    engine = make_engine(settings.database_url)
    assert repo.find_contact(engine, "telegram", "99") is None
    assert len(repo.list_messages(engine)) == 1  # Bob's message stays
    engine.dispose()
    assert b"my secret address" not in (settings.data_dir / "bot.db").read_bytes()

    again = run(str(BOT), "forget", "telegram", "99", "--config", str(config_file))
    assert again.returncode == 1 and "nothing deleted" in again.stdout


@pytest.mark.models
def test_console_logs_go_to_a_file_not_into_the_chat(config_file: Path) -> None:
    result = run(str(BOT), "run", "--connector", "console", "--config", str(config_file), stdin="/help\n/quit\n")
    assert result.returncode == 0, result.stderr[-2000:]
    log = (config_file.parent / "data" / "bot.log").read_text(encoding="utf-8")
    assert " INFO " in log and "head:" in log  # the config's DEBUG level, in the file
    assert " INFO " not in result.stderr and " DEBUG " not in result.stderr and " INFO " not in result.stdout
    assert "/draft" in result.stdout  # the chat itself is still on the terminal


def test_forget_on_a_platform_it_does_not_know_names_those_it_does(config_file, capsys) -> None:
    from bot.cli import main

    assert main(["forget", "nosuch", "123", "--config", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown platform 'nosuch' (known: bluesky, console, facebook, instagram, mastodon, slack, telegram)\n"
