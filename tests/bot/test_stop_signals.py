"""Ctrl-C and SIGTERM stop the real `bot run` at once and cleanly on every connector: the console in a
real terminal (a pty) does not wait for Enter, Telegram does not wait for its long poll to end."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG, ROOT
from fakes.slack_api import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack
from fakes.telegram_api import TOKEN, FakeTelegram

pytestmark = pytest.mark.slow  # real processes that load the real models

BOT = str(ROOT / ".venv" / "bin" / "bot")
# Far longer than stopping takes; a bot that waits for Enter or for a long poll never gets there.
EXIT_WITHIN_S = 30
READY_WITHIN_S = 300  # loading the models on a busy machine


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE_CONFIG.replace('log_level = "DEBUG"', 'log_level = "INFO"') + extra, encoding="utf-8")
    return path


class Terminal:
    """`bot run --connector console` in a pseudo-terminal of its own, as in a real shell."""

    def __init__(self, config: Path) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.output = b""
        self.proc = subprocess.Popen(
            [BOT, "run", "--connector", "console", "--config", str(config)],
            stdin=slave, stdout=slave, stderr=slave, cwd=config.parent,
            # Its own session with the pty as controlling terminal: Ctrl-C there signals the bot.
            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)

    def read_until(self, token: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while token not in self.output and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:  # the bot closed the terminal
                    break
        return token in self.output

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_console_in_a_terminal_stops_at_once(tmp_path: Path, stop: str) -> None:
    terminal = Terminal(write_config(tmp_path))
    try:
        assert terminal.read_until(b"> ", READY_WITHIN_S), terminal.output.decode(errors="replace")
        terminal.type(b"hello, half a line and no Enter")
        if stop == "ctrl-c":
            terminal.type(b"\x03")  # the terminal turns it into SIGINT for the bot
        else:
            terminal.proc.send_signal(signal.SIGTERM)
        assert terminal.proc.wait(EXIT_WITHIN_S) == 0
    finally:
        terminal.close()
    log = (tmp_path / "data" / "bot.log").read_text(encoding="utf-8")
    assert f"{'SIGINT' if stop == 'ctrl-c' else 'SIGTERM'}: stopping" in log and "bot stopped" in log
    assert "Traceback" not in log and "Traceback" not in terminal.output.decode(errors="replace")


@asynccontextmanager
async def bot(config: Path, connector: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    log = open(config.parent / "bot.log", "wb")  # noqa: SIM115
    proc = await asyncio.create_subprocess_exec(
        BOT, "run", "--connector", connector, "--config", str(config),
        env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()


async def running(config: Path) -> None:
    """Returns once the bot says it runs (every connector started)."""
    deadline = time.monotonic() + READY_WITHIN_S
    while "bot running on" not in (config.parent / "bot.log").read_text(errors="replace"):
        assert time.monotonic() < deadline, (config.parent / "bot.log").read_text(errors="replace")[-3000:]
        await asyncio.sleep(0.2)


async def stops_cleanly(proc: asyncio.subprocess.Process, config: Path, signum: signal.Signals) -> None:
    proc.send_signal(signum)
    assert await asyncio.wait_for(proc.wait(), EXIT_WITHIN_S) == 0
    log = (config.parent / "bot.log").read_text(errors="replace")
    assert f"{signum.name}: stopping" in log and "bot stopped" in log and "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize(("mode", "signum"), [("polling", signal.SIGINT), ("polling", signal.SIGTERM), ("webhook", signal.SIGINT)])
async def test_telegram_stops_without_waiting_for_the_long_poll(tmp_path: Path, mode: str, signum: signal.Signals) -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        # A poll held open far longer than stopping may take.
        toml = f'\n[telegram]\nbase_url = "{fake.base_url}"\npoll_timeout_s = 50\n'
        if mode == "webhook":
            toml += 'mode = "webhook"\nwebhook_url = "https://bot.example.com/tg"\nwebhook_listen = "127.0.0.1"\nwebhook_port = 0\n'
        config = write_config(tmp_path, toml)
        async with bot(config, "telegram", {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s3cret"}) as proc:
            await running(config)
            await fake.wait_for("getUpdates" if mode == "polling" else "setWebhook", timeout=READY_WITHIN_S)
            await stops_cleanly(proc, config, signum)
    finally:
        await fake.stop()


@pytest.mark.parametrize(("mode", "signum"), [("socket", signal.SIGINT), ("http", signal.SIGTERM)])
async def test_slack_stops_at_once(tmp_path: Path, mode: str, signum: signal.Signals) -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        http = '\nmode = "http"\nhttp_listen = "127.0.0.1"\nhttp_port = 0\n' if mode == "http" else ""
        config = write_config(tmp_path, f'\n[slack]\nbase_url = "{fake.base_url}"{http}\n')
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        async with bot(config, "slack", env) as proc:
            await running(config)
            await stops_cleanly(proc, config, signum)
    finally:
        await fake.stop()
