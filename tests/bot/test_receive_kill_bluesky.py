"""A burst of 200 Bluesky mentions through the real `bot run`, SIGKILL while receiving it, restart: the cursor was stored with the messages, so every mention is stored once, none is skipped,
and none is answered twice (counted at the fake PDS)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import pytest

from fakes.bluesky_api import HANDLE, PASSWORD, FakeBluesky, actor
from fakes.openai_server import fake_openai_server
from tests.bot.test_receive_kill import BURST, FAST, Database, all_final, bot, kill, log_tail, write_config

pytestmark = pytest.mark.slow  # real processes killed and restarted

LIST = "app.bsky.notification.listNotifications"


def sends(fake: FakeBluesky) -> Counter[str]:
    """Replies the PDS got, per author answered."""
    parents = [fake.posts[p["record"]["reply"]["parent"]["uri"]] for p in fake.ours() if "reply" in p["record"]]
    return Counter(str(p["author"]["did"]) for p in parents)


async def test_burst_killed_while_received_loses_nothing_and_answers_once(tmp_path: Path) -> None:
    with fake_openai_server(reply="Hi, thanks for saying hello!", delay_s=0.002) as llm:
        fake = FakeBluesky()
        await fake.start()
        try:
            toml = f'[bluesky]\nbase_url = "{fake.url}"\npoll_interval_s = 0.2\n{FAST}'
            config = write_config(tmp_path, llm.base_url, toml)
            text = re.sub(r"(?m)^auto_reply_platforms = .*$", 'auto_reply_platforms = ["bluesky"]', config.read_text(encoding="utf-8"))
            config.write_text(text, encoding="utf-8")
            db = Database(tmp_path / "data" / "bot.db")
            env = {"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": PASSWORD}
            async with bot(config, "bluesky", env) as first:
                # The first start leaves older notifications unanswered: the burst comes once it polls.
                await fake.wait_for(LIST, 2, timeout=90)
                polled = len(fake.calls_to(LIST))  # nothing awaits from here to the burst: the next poll sees it
                fake.hold_call(LIST, polled + 1, 30)  # the poll that fetches the burst is answered after the kill
                for n in range(BURST):
                    fake.mention(f"hello there, nice shop! 👋 ({n})", author=actor(f"did:plc:fan{n:021d}", f"fan{n}.bsky.social"))
                await fake.wait_for(LIST, polled + 1, timeout=60)
                await kill(first)
            killed_with = len(db.rows())
            async with bot(config, "bluesky", env):
                try:
                    rows = await db.wait(all_final, 120)
                except AssertionError:
                    raise AssertionError(log_tail(config)) from None
            answered = sends(fake)
        finally:
            await fake.stop()

    assert killed_with == 0, "the kill came after the burst was stored"
    ids = [platform_id for platform_id, _, _ in rows]
    assert len(ids) == len(set(ids)) == BURST
    assert answered and max(answered.values()) == 1, answered.most_common(3)
    sent = db.sent_replies()
    assert max(sent.values()) == 1
    # The kill came before any reply: each one the PDS got is one the database calls sent (the
    # policy may leave a few greetings unanswered; that is its business, not receiving's).
    assert set(sent) == set(answered)
