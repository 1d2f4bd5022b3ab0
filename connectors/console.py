"""Console connector: the owner types at a terminal and can speak as simulated followers."""

from __future__ import annotations

import asyncio
import codecs
import itertools
import logging
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from connectors.base import Connector, IncomingMessage, Inbox, OutgoingPost
from core.addressing import MessageKind, ReplyAddress, Visibility
from core.config import Settings

log = logging.getLogger(__name__)

FOLLOWER_PREFIX = "/as-follower"
QUIT_COMMANDS = {"/quit", "/exit"}
OWNER_CHAT = "owner"
FOLLOWER_CHAT = "follower:"  # + the simulated follower's name
USAGE_AS_FOLLOWER = "usage: /as-follower <name> <message text>"


class ConsoleConnector(Connector):
    """Reads lines from a text stream, one at a time, and prints what the bot says.

    Each line is stored before the next is read (store first, then read on: reading on is how a
    console acknowledges). The bot works through them in order, so piped input behaves like typed input.
    """

    platform = "console"

    def __init__(
        self,
        owner_id: str = "owner",
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        prompt: bool | None = None,
        session: str | None = None,
    ) -> None:
        self.owner_id = owner_id
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._prompt = self._in.isatty() if prompt is None else prompt
        self._ids = itertools.count(1)
        # Ids must not repeat across runs, or a new line would look like a redelivered old one.
        self._session = session or format(time.time_ns(), "x")
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def start(self, inbox: Inbox) -> None:
        self._closed.clear()
        self._task = asyncio.create_task(self._read_loop(inbox), name="console-reader")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _read_loop(self, inbox: Inbox) -> None:
        lines = _lines(self._in)
        try:
            while True:
                if self._prompt:
                    self._write("> ", end="")
                line = await anext(lines, None)
                if line is None:  # end of input: Ctrl-D or the pipe closed
                    break
                text = line.rstrip("\r\n")
                if text.strip() in QUIT_COMMANDS:
                    break
                message = self._parse(text)
                if message is None:
                    continue
                await self._store(inbox, message)
        finally:
            await lines.aclose()
            self._closed.set()

    async def _store(self, inbox: Inbox, message: IncomingMessage) -> None:
        """Store the line, trying again while the database fails: a typed line is not dropped."""
        while True:
            try:
                await inbox.store([message])
                return
            except Exception:
                log.exception("storing console line %s failed; trying again in 1 s", message.message_id)
                await asyncio.sleep(1)

    def _parse(self, text: str) -> IncomingMessage | None:
        message_id = f"console-{self._session}-{next(self._ids)}"
        if text.startswith(FOLLOWER_PREFIX + " ") or text.strip() == FOLLOWER_PREFIX:
            parts = text.split(maxsplit=2)
            if len(parts) < 3:
                self._write(USAGE_AS_FOLLOWER)
                return None
            _, name, body = parts
            return IncomingMessage(
                platform=self.platform,
                message_id=message_id,
                user_id=name,
                user_name=name,
                text=body,
                reply_to=_private(FOLLOWER_CHAT + name, message_id),
            )
        if not text.strip():
            return None
        return IncomingMessage(
            platform=self.platform,
            message_id=message_id,
            user_id=self.owner_id,
            user_name=self.owner_id,
            text=text,
            reply_to=_private(OWNER_CHAT, message_id),
        )

    def _write(self, text: str, end: str = "\n") -> None:
        self._out.write(text + end)
        self._out.flush()

    async def send_reply(self, to: ReplyAddress, text: str) -> str:
        if to.chat_id == OWNER_CHAT:
            self._write(f"bot: {text}")
        else:
            self._write(f"bot -> {to.chat_id.removeprefix(FOLLOWER_CHAT)}: {text}")
        return f"console-out-{next(self._ids)}"

    async def send_text(self, chat_id: str, text: str) -> str:
        self._write(f"bot: {text}" if chat_id == OWNER_CHAT else f"bot -> {chat_id}: {text}")
        return f"console-out-{next(self._ids)}"

    async def publish(self, post: OutgoingPost) -> str:
        image = f" [image: {post.image_path}]" if post.image_path else ""
        self._write(f"[published] {post.text}{image}")
        return f"console-post-{next(self._ids)}"


def _private(chat_id: str, message_id: str) -> ReplyAddress:
    """Everything typed at the console is a conversation between one person and the bot."""
    return ReplyAddress(MessageKind.private, Visibility.direct, chat_id, message_id)


async def _lines(stream: TextIO) -> AsyncIterator[str]:
    """The stream's lines: through the event loop where it can watch the stream (a terminal, a
    pipe, a socket), else read on the executor (a regular file, /dev/null, a StringIO: reading
    them never waits)."""
    loop = asyncio.get_running_loop()
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
        watchable = stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    except (AttributeError, OSError, ValueError):  # a StringIO in tests, a closed stdin
        watchable = False
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    if watchable:
        try:
            loop.add_reader(fd, _read_chunk, loop, fd, chunks)
        except OSError:  # a device epoll cannot watch, such as /dev/null (EPERM)
            watchable = False
    if not watchable:
        while line := await loop.run_in_executor(None, stream.readline):
            yield line
        return
    try:
        async for line in _fd_lines(chunks):
            yield line
    finally:
        loop.remove_reader(fd)


def _read_chunk(loop: asyncio.AbstractEventLoop, fd: int, chunks: asyncio.Queue[bytes]) -> None:
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return
    except OSError:  # the terminal went away
        chunk = b""
    if not chunk:
        loop.remove_reader(fd)
    chunks.put_nowait(chunk)


async def _fd_lines(chunks: asyncio.Queue[bytes]) -> AsyncIterator[str]:
    """Lines from the chunks a terminal or pipe gave, read when the event loop saw input: no thread
    sits blocked in a read, so Ctrl-C or stop() ends the bot at once instead of waiting for the
    next Enter. Bytes that are not UTF-8 become U+FFFD rather than stopping the console."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        chunk = await chunks.get()
        pending += decoder.decode(chunk, final=not chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
        if not chunk:
            if pending:
                yield pending
            return


def from_settings(settings: Settings) -> ConsoleConnector:
    """The console connector as `bot run` builds it (core/platforms.py)."""
    return ConsoleConnector(owner_id=settings.console.owner_id)
