"""Kill the bot with SIGKILL in the middle of a conversation, restart it, and count what was sent."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.message_states import FINAL_MESSAGE_STATES
from storage.models import Message, Reply, ReplyStatus
from tests.conftest import BASE_CONFIG, ROOT
from fakes.openai_server import fake_openai_server

pytestmark = pytest.mark.slow  # real processes killed and restarted

BOT = str(ROOT / ".venv" / "bin" / "bot")
FOLLOWERS = 24


def write_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        BASE_CONFIG
        + f"""
[generator]
backend = "openai"

[openai]
base_url = "{base_url}"
model = "fake"

[policy]
auto_reply_platforms = ["console"]
min_confidence = 0.0
max_auto_replies_per_contact_per_hour = 100
max_auto_replies_per_platform_per_minute = 1000
""".replace("log_level = \"DEBUG\"", "log_level = \"INFO\""),
        encoding="utf-8",
    )
    return path


def run_until_killed(config: Path, lines: list[str], kill_after_replies: int) -> str:
    """Start the bot, feed it lines, SIGKILL it once it has sent some replies; return its stdout."""
    proc = subprocess.Popen(
        [BOT, "run", "--connector", "console", "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("".join(line + "\n" for line in lines))
    proc.stdin.flush()  # the pipe stays open: the bot waits for more, like a live chat
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            seen.append(line)
            if sum(l.startswith("bot -> ") for l in seen) >= kill_after_replies:
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout=180), "the bot sent no replies in time"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.2)
    return "".join(seen)


def run_to_end(config: Path) -> str:
    """Restart with no new input: the bot must finish what it left half-way, then exit."""
    result = subprocess.run(
        [BOT, "run", "--connector", "console", "--config", str(config)],
        input="", capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("kill_after", [2, 9])
def test_kill_and_restart_never_double_sends_and_finishes_everything(tmp_path: Path, kill_after: int) -> None:
    with fake_openai_server(reply="Hi, thanks for saying hello!", delay_s=0.15) as server:
        config = write_config(tmp_path, server.base_url)
        lines = [f"/as-follower f{n} hello there, nice shop! 👋" for n in range(FOLLOWERS)]
        first = run_until_killed(config, lines, kill_after)
        second = run_to_end(config)

    sent_lines = re.findall(r"^bot -> (f\d+):", first + second, flags=re.MULTILINE)
    per_follower = collections.Counter(sent_lines)
    assert per_follower and max(per_follower.values()) == 1, per_follower.most_common(3)

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'bot.db'}")
    with Session(engine) as s:
        messages = list(s.exec(select(Message)))
        replies = list(s.exec(select(Reply)))
    engine.dispose()
    assert len(messages) >= kill_after
    assert all(m.status in FINAL_MESSAGE_STATES for m in messages), collections.Counter(m.status for m in messages)
    sent_per_message = collections.Counter(r.message_id for r in replies if r.status == ReplyStatus.sent)
    assert max(sent_per_message.values()) == 1
    # Everything the database calls sent was really printed, once.
    assert sum(sent_per_message.values()) <= len(sent_lines)
