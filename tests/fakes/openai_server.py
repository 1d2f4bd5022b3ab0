"""A local server speaking OpenAI's /v1/chat/completions (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAIServer:
    """Speaks /v1/chat/completions. `script` holds what each request gets, in turn:
    ("ok", text), ("status", code) or ("sleep", seconds); when it runs out, requests get 200 with
    `reply` after `delay_s` (a slow but healthy model server)."""

    def __init__(self, reply: str = "ok", delay_s: float = 0.0) -> None:
        self.script: list[tuple[str, object]] = []
        self.reply = reply
        self.delay_s = delay_s
        self.requests: list[dict[str, object]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if server.script:
                    kind, value = server.script.pop(0)
                else:
                    time.sleep(server.delay_s)
                    kind, value = "ok", server.reply
                if kind == "sleep":
                    time.sleep(float(value))  # type: ignore[arg-type]
                    kind, value = "ok", "too late"
                if kind == "status":
                    self._send(int(value), {"error": {"message": "boom"}})  # type: ignore[call-overload]
                    return
                self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": value}}]})

            def _send(self, code: int, payload: dict[str, object]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is what a timeout test wants

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@contextmanager
def fake_openai_server(reply: str = "ok", delay_s: float = 0.0) -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(reply, delay_s)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
