"""The dashboard's server inside `bot run`: one port for the pages and the connectors' webhooks,
a port in use, an open address without a password, and `bot web set-password`."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.app import App
from bot.cli import main
from bot.web.passwords import PasswordStore
from bot.web.server import WebServer, check_listen
from connectors.console import ConsoleConnector
from core.config import Settings, load_settings
from core.errors import ConfigError
from fakes.console_app import stand_in_brain
from tests.web.conftest import PASSWORD


class WebhookConsole(ConsoleConnector):
    """The console, plus one webhook route: a stand-in for a platform that pushes to us."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.deliveries: list[bytes] = []

    def webhook_routes(self) -> Sequence[Route]:
        async def deliver(request: Request) -> PlainTextResponse:
            self.deliveries.append(await request.body())
            return PlainTextResponse("stored")

        return [Route("/webhooks/console", deliver, methods=["POST"])]


async def test_bot_serves_dashboard_and_webhooks_on_one_port(settings: Settings) -> None:
    read_end, write_end = os.pipe()
    connector = WebhookConsole(owner_id="owner", stdin=os.fdopen(read_end, "r"), stdout=io.StringIO(), prompt=False)
    async with App(settings, [connector], brain=stand_in_brain(settings)) as app:
        running = asyncio.create_task(app.run())
        try:
            while app.web is None or app.web._task is None:  # the server starts once the connectors did
                assert not running.done(), running
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient(base_url=app.web.url) as client:
                webhook = await client.post("/webhooks/console", content=b'{"entry": 1}')  # no sign-in, no CSRF token
                assert webhook.status_code == 200 and webhook.text == "stored"
                assert connector.deliveries == [b'{"entry": 1}']
                assert (await client.get("/inbox")).headers["location"] == "/signin?next=%2Finbox"
                assert (await client.get("/signin")).status_code == 200
        finally:
            os.close(write_end)  # the end of console input: the bot finishes and stops
            await asyncio.wait_for(running, 30)


async def test_a_port_in_use_is_one_line_and_nothing_stops(caplog: pytest.LogCaptureFixture) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with caplog.at_level(logging.ERROR):
            server = WebServer(PlainTextResponse("x"), "127.0.0.1", port)
            assert await server.start() is False
            await server.stop()
    finally:
        taken.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.web.server"]
    assert lines == [f"dashboard not started: 127.0.0.1:{port} is already in use; set another [web] port in config.toml. The bot runs on without it, on chat."]


async def test_answers_never_wait_for_the_browsers_acks() -> None:
    """Nagle's algorithm is off on every connection (TCP_NODELAY): with it on, a small answer's body
    waited for the delayed ACK of its headers, 40 ms more for each answer on a kept-alive connection."""
    server = WebServer(PlainTextResponse("x"), "127.0.0.1", 0)
    assert await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/")).text == "x"  # the connection stays open for the next request
            [connection] = server._server.server_state.connections
            accepted = connection.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        await server.stop()


def _with_web(config_file: Path, web: str) -> Path:
    config_file.write_text(config_file.read_text(encoding="utf-8").replace("[web]\n", f"[web]\n{web}\n"), encoding="utf-8")
    return config_file


def test_open_address_without_password_refuses_to_start(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _with_web(config_file, 'listen = "0.0.0.0"')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: [web] listen = '0.0.0.0' is reachable from other machines and no dashboard password is set: "
        "run `bot web set-password` first (or listen on 127.0.0.1)"
    ]
    settings = load_settings(path)
    PasswordStore(settings.data_dir, PasswordHasher.from_parameters(profiles.CHEAPEST)).set(PASSWORD)
    check_listen(settings)  # with a password it starts



def _listening(settings: Settings, listen: str) -> Settings:
    return settings.model_copy(update={"web": settings.web.model_copy(update={"listen": listen})})


def test_loopback_without_password_starts(settings: Settings) -> None:
    for loopback in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_listen(_listening(settings, loopback))
    for open_to_others in ("0.0.0.0", "::", "192.0.2.7", "example.org"):
        with pytest.raises(ConfigError):
            check_listen(_listening(settings, open_to_others))


def test_set_password_command(config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["web", "set-password", "--config", str(config_file)]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["web", "set-password", "--config", str(config_file)]) == 0
    store = PasswordStore(load_settings(config_file).data_dir)
    assert store.verify(PASSWORD) and not store.verify(PASSWORD + "x")
    stored = store.path.read_text(encoding="utf-8")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


async def test_the_dashboard_address_is_told_once_it_listens_and_never_for_a_taken_port(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """`bot run` prints the address the server listens on; a taken port gets the one log line instead, and chat goes on."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    told: dict[str, list[str]] = {}
    try:
        for case, port in (("free", 0), ("taken", taken.getsockname()[1])):
            settings.web.port = port
            told[case] = lines = []

            def announce(line: str, lines: list[str] = lines) -> None:
                url = line.split()[1]
                with socket.create_connection((url.rsplit(":", 2)[1].strip("/"), int(url.rsplit(":", 1)[1]))):
                    lines.append(line)  # told while the server already accepts connections

            out = io.StringIO()
            console = ConsoleConnector("owner", stdin=io.StringIO("/drafts\n"), stdout=out, prompt=False)
            with caplog.at_level(logging.ERROR):
                async with App(settings, [console], brain=stand_in_brain(settings), announce=announce) as app:
                    await app.run()
            assert "no drafts" in out.getvalue()  # the chat works either way
    finally:
        taken.close()
    [free] = told["free"]
    assert free.startswith("Dashboard: http://127.0.0.1:") and not free.startswith("Dashboard: http://127.0.0.1:0 ")
    assert told["taken"] == []
    assert any("is already in use; set another [web] port" in r.getMessage() for r in caplog.records)
