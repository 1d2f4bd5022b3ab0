"""Where the console's lines come from: a pipe or terminal through the event loop, anything else read directly."""

from __future__ import annotations

import asyncio
import io
import os

from connectors.console import _lines


async def read_all(stream) -> list[str]:  # type: ignore[no-untyped-def]
    return [line async for line in _lines(stream)]


async def test_a_pipe_gives_whole_lines_however_the_bytes_arrive() -> None:
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8", closefd=True) as stream:
        reading = asyncio.create_task(read_all(stream))
        # "café" split inside its two-byte "é", a line split across writes, no newline at the end.
        for part in (b"hello caf\xc3", b"\xa9\nsecond ", b"line\n\xffbad byte\nlast"):
            os.write(write_fd, part)
            await asyncio.sleep(0.05)
        os.close(write_fd)
        lines = await asyncio.wait_for(reading, 10)
    assert lines == ["hello café\n", "second line\n", "\ufffdbad byte\n", "last"]


async def test_stopping_leaves_no_read_behind() -> None:
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8", closefd=True) as stream:
        reading = asyncio.create_task(read_all(stream))
        await asyncio.sleep(0.1)
        reading.cancel()  # what stop() and Ctrl-C do, before the owner pressed Enter
        await asyncio.gather(reading, return_exceptions=True)
        assert reading.cancelled()
        # A thread left blocked in readline would take this line (and hold the exit until it came).
        os.write(write_fd, b"typed later\n")
        await asyncio.sleep(0.1)
        assert os.read(read_fd, 100) == b"typed later\n"
    os.close(write_fd)


async def test_dev_null_and_in_memory_streams_are_read_directly() -> None:
    with open(os.devnull, encoding="utf-8") as null:  # a device epoll refuses to watch
        assert await read_all(null) == []
    assert await read_all(io.StringIO("a\nb\n")) == ["a\n", "b\n"]
