from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

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
