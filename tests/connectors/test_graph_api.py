"""The Graph API client against the fake Graph server: versioned paths, Meta's errors as typed
errors, retries of transient errors and rate limits, and slowing down on the usage headers."""

from __future__ import annotations

import json
import time

import pytest

from connectors.delivery import Delivery
from connectors.graph_api import (
    GraphClient,
    GraphError,
    GraphRateLimited,
    PermissionMissing,
    TokenInvalid,
    Usage,
    classify,
)
from core.config import GraphSettings
from core.errors import ConnectorError
from fakes.graph_api import APP_SECRET, PAGE_ID, TOKEN, VERSION, FakeGraph, graph_error


@pytest.fixture
def fake(graph_fake: FakeGraph) -> FakeGraph:
    return graph_fake


def graph_settings(fake: FakeGraph, **extra: object) -> GraphSettings:
    values: dict[str, object] = dict(
        base_url=fake.url, api_version=VERSION, rate_limit_wait_s=0.05, retry_backoff_s=0.01, overall_per_s=1000.0, per_chat_per_s=1000.0
    )
    values.update(extra)
    return GraphSettings.model_validate(values)


async def test_calls_go_to_the_configured_version_with_the_token_and_its_proof(fake: FakeGraph) -> None:
    client = GraphClient(graph_settings(fake), TOKEN, APP_SECRET)
    page = await client.get(PAGE_ID, fields="id,name")
    assert page == {"id": PAGE_ID, "name": "Acme Bakery"}
    other = GraphClient(graph_settings(fake, api_version="v19.0"), TOKEN, APP_SECRET)
    with pytest.raises(GraphError, match="2500"):
        await other.get(PAGE_ID)
    wrong_secret = GraphClient(graph_settings(fake), TOKEN, "not-the-secret")
    with pytest.raises(GraphError, match="appsecret_proof"):
        await wrong_secret.get(PAGE_ID)
    await client.close(), await other.close(), await wrong_secret.close()


async def test_an_expired_token_is_its_own_error_and_is_reported(fake: FakeGraph) -> None:
    seen: list[TokenInvalid] = []
    client = GraphClient(graph_settings(fake), "revoked-token", APP_SECRET, on_token_invalid=seen.append)
    with pytest.raises(TokenInvalid) as caught:
        await client.get(PAGE_ID)
    assert caught.value.body.code == 190 and caught.value.body.subcode == 463
    assert caught.value.body.fbtrace_id == "AbCdEf123"
    assert seen == [caught.value]
    failure = classify(caught.value)
    assert failure is not None and not failure.retryable and failure.retry_after is None
    await client.close()


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
async def test_rate_limits_wait_and_try_again(fake: FakeGraph, code: int) -> None:
    settings = graph_settings(fake)
    client = GraphClient(settings, TOKEN, APP_SECRET)
    fake.fail_next("get object", 400, graph_error("(#4) Application request limit reached", code))
    with pytest.raises(GraphRateLimited) as caught:
        await client.get(PAGE_ID)
    assert caught.value.retry_after == settings.rate_limit_wait_s
    fake.fail_next("get object", 400, graph_error("(#4) Application request limit reached", code))
    delivery = Delivery("facebook", settings, classify)
    page = await delivery.send("x", "read", lambda: client.get(PAGE_ID))
    assert page["id"] == PAGE_ID and len(fake.calls_to("get object")) == 3
    await client.close()


@pytest.mark.parametrize("body", [graph_error("An unknown error occurred", 1), graph_error("Service temporarily unavailable", 2, transient=True)])
async def test_transient_errors_are_retried(fake: FakeGraph, body: dict[str, object]) -> None:
    settings = graph_settings(fake)
    client = GraphClient(settings, TOKEN, APP_SECRET)
    fake.fail_next("get object", 500, body)
    page = await Delivery("facebook", settings, classify).send("x", "read", lambda: client.get(PAGE_ID))
    assert page["id"] == PAGE_ID and len(fake.calls_to("get object")) == 2
    await client.close()


async def test_a_permission_error_names_the_missing_permission_and_is_not_retried(fake: FakeGraph) -> None:
    settings = graph_settings(fake)
    client = GraphClient(settings, TOKEN, APP_SECRET)
    fake.fail_next("post comments", 403, graph_error("(#200) Requires pages_manage_engagement permission to manage the object", 200))
    with pytest.raises(ConnectorError, match="needs the permission pages_manage_engagement") as caught:
        await Delivery("facebook", settings, classify).send("x", "reply", lambda: client.post("1_2/comments", {"message": "hi"}))
    assert isinstance(caught.value.__cause__, PermissionMissing)
    assert caught.value.__cause__.permission == "pages_manage_engagement"
    assert len(fake.calls_to("post comments")) == 1
    await client.close()


def test_usage_headers_are_read_as_the_highest_share_used() -> None:
    app = {"x-app-usage": json.dumps({"call_count": 12, "total_cputime": 81, "total_time": 40})}
    assert Usage.from_headers(app) == Usage(81.0, 0.0)
    buc = {
        "x-business-use-case-usage": json.dumps(
            {"1001": [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30, "estimated_time_to_regain_access": 3}]}
        )
    }
    assert Usage.from_headers(buc) == Usage(100.0, 180.0)
    assert Usage.from_headers({"x-app-usage": "not json"}) == Usage()


async def test_high_usage_slows_the_next_calls_down_before_the_limit(fake: FakeGraph) -> None:
    client = GraphClient(graph_settings(fake, slow_down_at_percent=50, max_slow_down_s=0.4), TOKEN, APP_SECRET)
    await client.get(PAGE_ID)
    assert client.slow_down_s == 0
    fake.usage = {"X-App-Usage": json.dumps({"call_count": 75, "total_cputime": 10, "total_time": 10})}
    await client.get(PAGE_ID)
    assert client.slow_down_s == pytest.approx(0.2)  # half way from 50 % to 100 %: half the longest wait
    started = time.monotonic()
    await client.get(PAGE_ID)
    assert time.monotonic() - started >= 0.2  # waited before asking
    fake.usage = {"X-Business-Use-Case-Usage": json.dumps({PAGE_ID: [{"call_count": 100, "estimated_time_to_regain_access": 2}]})}
    await client.get(PAGE_ID)
    assert client.slow_down_s == 120.0  # Meta said when access comes back
    await client.close()
