"""The OpenAI-compatible generator against a local fake server: retries, timeouts, local fall-back."""

from __future__ import annotations

import logging
import socket

import pytest

from core.errors import ModelError
from brain.generator import ChatMessage, FallbackGenerator, GenerationOptions, OpenAIGenerator
from fakes.generator import ScriptedGenerator
from fakes.openai_server import fake_openai_server

MESSAGES = [ChatMessage("system", "You are terse."), ChatMessage("user", "hi")]
OPTIONS = GenerationOptions(max_new_tokens=12, seed=3)


def endpoint(base_url: str, *, timeout_s: float = 2.0, max_retries: int = 2) -> OpenAIGenerator:
    return OpenAIGenerator(base_url, "tiny", "TEST_OPENAI_KEY", timeout_s, max_retries=max_retries, backoff_s=0.01)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_sends_a_chat_completion_request_and_reads_the_answer(monkeypatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test")
    with fake_openai_server() as server:
        server.script = [("ok", "  Hello there!  ")]
        assert endpoint(server.base_url).generate(MESSAGES, OPTIONS) == "Hello there!"
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["model"] == "tiny" and request["max_tokens"] == 12 and request["seed"] == 3
    assert request["messages"] == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]


def test_500s_are_retried_then_succeed() -> None:
    with fake_openai_server() as server:
        server.script = [("status", 500), ("status", 503), ("ok", "third time")]
        assert endpoint(server.base_url).generate(MESSAGES, OPTIONS) == "third time"
    assert len(server.requests) == 3


def test_retries_are_bounded() -> None:
    with fake_openai_server() as server:
        server.script = [("status", 500)] * 5
        with pytest.raises(ModelError, match="answered 500"):
            endpoint(server.base_url, max_retries=1).generate(MESSAGES, OPTIONS)
    assert len(server.requests) == 2


def test_a_client_error_is_not_retried() -> None:
    with fake_openai_server() as server:
        server.script = [("status", 400)]
        with pytest.raises(ModelError, match="answered 400"):
            endpoint(server.base_url).generate(MESSAGES, OPTIONS)
    assert len(server.requests) == 1


def test_a_timeout_is_retried() -> None:
    with fake_openai_server() as server:
        server.script = [("sleep", 1.0), ("ok", "quick now")]
        assert endpoint(server.base_url, timeout_s=0.2).generate(MESSAGES, OPTIONS) == "quick now"


def test_falls_back_to_the_local_model_on_500s_and_logs_once(caplog) -> None:
    local = ScriptedGenerator("from the local model")
    with fake_openai_server() as server:
        server.script = [("status", 500)] * 10
        generator = FallbackGenerator(endpoint(server.base_url, max_retries=1), lambda: local, retry_after_s=0)
        with caplog.at_level(logging.INFO, logger="brain.generator"):
            assert generator.generate(MESSAGES, OPTIONS) == "from the local model"
            assert generator.generate_many([MESSAGES, MESSAGES], OPTIONS) == ["from the local model"] * 2
            server.script = []  # the endpoint recovers
            assert generator.generate(MESSAGES, OPTIONS) == "ok"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is down" in warnings[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert len(local.calls) == 3


def test_falls_back_on_timeouts_and_leaves_a_dead_endpoint_alone() -> None:
    local = ScriptedGenerator("local")
    with fake_openai_server() as server:
        server.script = [("sleep", 1.0)] * 2
        generator = FallbackGenerator(endpoint(server.base_url, timeout_s=0.2, max_retries=1), lambda: local)
        assert generator.generate(MESSAGES, OPTIONS) == "local"
        assert generator.generate(MESSAGES, OPTIONS) == "local"
    # Within retry_after_s the endpoint is not asked again: two timed-out attempts, not four.
    assert len(server.requests) == 2


def test_falls_back_when_nothing_listens() -> None:
    local = ScriptedGenerator("local")
    generator = FallbackGenerator(endpoint(closed_port_url(), max_retries=0), lambda: local)
    assert generator.generate(MESSAGES, OPTIONS) == "local"
