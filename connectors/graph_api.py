"""One small client for Meta's Graph API on httpx: versioned paths, Meta's error format as typed
errors, and the usage headers that slow calls down before a rate limit is hit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.delivery import Failure
from core.config import GraphSettings
from core.errors import ConnectorError, OutsideMessagingWindow

log = logging.getLogger(__name__)

# Meta's error codes (developers.facebook.com/docs/graph-api/guides/error-handling).
TOKEN_CODES = frozenset({190, 102})  # the access token expired, was revoked, or the session is invalid
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})  # app, user, page, custom, business use case
TRANSIENT_CODES = frozenset({1, 2})  # unknown error, service temporarily unavailable
PERMISSION_CODES = frozenset({10, *range(200, 300)})
# Messenger's and Instagram's "sent outside of the allowed window" (code 10 with these subcodes).
OUTSIDE_WINDOW_SUBCODES = frozenset({2018278, 2534022})

_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read|publish|manage)_[a-z_]+)\b")


@dataclass(frozen=True)
class GraphErrorBody:
    """The `error` object of a failed Graph call, as Meta sends it."""

    status: int
    message: str
    code: int
    subcode: int = 0
    type: str = ""
    fbtrace_id: str = ""
    transient: bool = False

    @classmethod
    def parse(cls, status: int, body: Any) -> GraphErrorBody:
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            return cls(status, f"HTTP {status} without a Graph error: {str(body)[:200]}", 0)
        return cls(
            status=status,
            message=str(error.get("message") or ""),
            code=_int(error.get("code")),
            subcode=_int(error.get("error_subcode")),
            type=str(error.get("type") or ""),
            fbtrace_id=str(error.get("fbtrace_id") or ""),
            transient=bool(error.get("is_transient")),
        )

    def describe(self) -> str:
        sub = f"/{self.subcode}" if self.subcode else ""
        trace = f", fbtrace_id {self.fbtrace_id}" if self.fbtrace_id else ""
        return f"Graph error {self.code}{sub} ({self.type or f'HTTP {self.status}'}): {self.message}{trace}"


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class GraphError(ConnectorError):
    """A Graph API call refused, with Meta's code, subcode, type and fbtrace_id kept."""

    def __init__(self, body: GraphErrorBody, what: str = "") -> None:
        super().__init__(f"{what}: {body.describe()}" if what else body.describe())
        self.body = body

    @property
    def retryable(self) -> bool:
        return self.body.code in TRANSIENT_CODES or self.body.transient or self.body.status >= 500


class TokenInvalid(GraphError):
    """Code 190 (or 102): the token expired or was revoked; nothing works until the owner makes a new one."""


class GraphRateLimited(GraphError):
    """Codes 4, 17, 32, 613 and the business use case codes: wait `retry_after` seconds."""

    def __init__(self, body: GraphErrorBody, retry_after: float, what: str = "") -> None:
        super().__init__(body, what)
        self.retry_after = retry_after


class PermissionMissing(GraphError):
    """Code 10 or 200-299: the token lacks a permission, named in `permission` where Meta names it."""

    def __init__(self, body: GraphErrorBody, what: str = "") -> None:
        found = _PERMISSION.search(body.message)
        self.permission = found.group(1) if found else ""
        super().__init__(body, what)
        if self.permission:
            self.args = (f"{self.args[0]} (the token needs the permission {self.permission})",)


class GraphOutsideWindow(GraphError, OutsideMessagingWindow):
    """The platform refused a private reply because its messaging window has passed."""


@dataclass(frozen=True)
class Usage:
    """How much of its rate limits the app has used, from Meta's usage headers: the highest
    percentage of any counter, and how long until access comes back where Meta says."""

    percent: float = 0.0
    regain_s: float = 0.0

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Usage:
        percent = 0.0
        regain_min = 0.0
        for name in ("x-app-usage", "x-page-usage", "x-ad-account-usage", "x-business-use-case-usage"):
            raw = headers.get(name)
            if not raw:
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                log.debug("unreadable %s header: %.200s", name, raw)
                continue
            # X-Business-Use-Case-Usage: {"<business id>": [{"type": ..., "call_count": ...}, ...]}
            counters = [c for entries in value.values() if isinstance(entries, list) for c in entries] if name == "x-business-use-case-usage" else [value]
            for counter in counters:
                if not isinstance(counter, Mapping):
                    continue
                for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                    percent = max(percent, float(counter.get(key) or 0))
                regain_min = max(regain_min, float(counter.get("estimated_time_to_regain_access") or 0))
        return cls(percent, regain_min * 60)


def appsecret_proof(token: str, app_secret: str) -> str:
    """The HMAC-SHA256 of the token with the app secret, which Meta can require with every call."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class GraphClient:
    """Calls `{base_url}/{api_version}/{path}` with one token; raises the typed GraphErrors above.

    After every answer it reads the usage headers: from `slow_down_at_percent` on, the next calls
    wait a little, up to `max_slow_down_s` at 100 %, so that the limit is not reached. A token error
    is also reported to `on_token_invalid` (the connector stops and tells the owner what to do)."""

    def __init__(
        self,
        settings: GraphSettings,
        token: str,
        app_secret: str = "",
        http: httpx.AsyncClient | None = None,
        on_token_invalid: Callable[[TokenInvalid], None] | None = None,
    ) -> None:
        self.settings = settings
        self._token = token
        self._proof = appsecret_proof(token, app_secret) if app_secret else ""
        self.http = http or httpx.AsyncClient(timeout=settings.request_timeout_s)
        self.on_token_invalid = on_token_invalid
        self.usage = Usage()

    def url(self, path: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{self.settings.api_version}/{path.lstrip('/')}"

    @property
    def slow_down_s(self) -> float:
        """How long the next call waits because of the usage last reported."""
        s = self.settings
        if self.usage.regain_s > 0:
            return max(self.usage.regain_s, s.max_slow_down_s)
        if self.usage.percent < s.slow_down_at_percent:
            return 0.0
        share = (self.usage.percent - s.slow_down_at_percent) / max(100.0 - s.slow_down_at_percent, 1.0)
        return s.max_slow_down_s * min(share, 1.0)

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self._request("GET", path, params=params)

    async def post(self, path: str, data: Mapping[str, Any] | None = None, files: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._request("POST", path, data=dict(data or {}), files=files)

    async def delete(self, path: str) -> dict[str, Any]:
        return await self._request("DELETE", path)

    async def _request(
        self, method: str, path: str, params: dict[str, Any] | None = None, data: dict[str, Any] | None = None, files: Any = None
    ) -> dict[str, Any]:
        wait = self.slow_down_s
        if wait > 0:
            log.info("graph api usage at %.0f%%: waiting %.1f s before the next call", self.usage.percent, wait)
            await asyncio.sleep(wait)
        query = {k: _plain(v) for k, v in (params or {}).items()}
        if self._proof:
            query["appsecret_proof"] = self._proof
        form = {k: _plain(v) for k, v in data.items()} if data is not None else None
        response = await self.http.request(
            method, self.url(path), params=query, data=form, files=files, headers={"Authorization": f"Bearer {self._token}"}
        )
        self.usage = Usage.from_headers(response.headers)
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:200]}
        if response.status_code >= 400 or (isinstance(body, Mapping) and "error" in body):
            raise self._error(GraphErrorBody.parse(response.status_code, body), f"{method} {path.split('?')[0]}")
        if not isinstance(body, dict):
            raise ConnectorError(f"{method} {path}: the Graph API answered {str(body)[:200]!r}")
        return body

    def _error(self, body: GraphErrorBody, what: str) -> GraphError:
        if body.code in TOKEN_CODES:
            error: GraphError = TokenInvalid(body, what)
            if self.on_token_invalid is not None:
                self.on_token_invalid(error)  # type: ignore[arg-type]
            return error
        if body.code in RATE_LIMIT_CODES:
            wait = self.usage.regain_s or self.settings.rate_limit_wait_s
            return GraphRateLimited(body, wait, what)
        if body.code == 10 and body.subcode in OUTSIDE_WINDOW_SUBCODES:
            return GraphOutsideWindow(body, what)
        if body.code in PERMISSION_CODES:
            return PermissionMissing(body, what)
        return GraphError(body, what)

    async def close(self) -> None:
        await self.http.aclose()


def _plain(value: Any) -> Any:
    """Graph takes nested values (a recipient, a message) as JSON in a form field."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def classify(exc: BaseException) -> Failure | None:
    """Graph and network errors in delivery terms (connectors.delivery.Delivery)."""
    if isinstance(exc, GraphOutsideWindow):
        return None  # raised as it is (typed): the reply waits for the owner with this reason
    if isinstance(exc, GraphRateLimited):
        return Failure(str(exc), retry_after=exc.retry_after)
    if isinstance(exc, GraphError):
        return Failure(str(exc), retryable=exc.retryable and not isinstance(exc, TokenInvalid))
    if isinstance(exc, (httpx.TransportError, httpx.HTTPStatusError)):
        return Failure(f"{type(exc).__name__}: {exc}", retryable=True)
    return None
