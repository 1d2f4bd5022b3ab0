"""Meta's webhooks as Starlette routes: the verification handshake, and deliveries whose
X-Hub-Signature-256 is checked against the app secret before their body is parsed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

#: Stores what one parsed delivery holds (store first: it returns after the commit).
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


def signature(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header Meta sends with a body: sha256=<HMAC-SHA256 hex>."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, header: str, app_secret: str) -> bool:
    return bool(header) and hmac.compare_digest(signature(body, app_secret), header)


def webhook_routes(platform: str, path: str, app_secret: str, verify_token: str, deliver: Deliver) -> list[Route]:
    """GET `path`: Meta's subscription handshake; POST `path`: signed deliveries, acknowledged (200)
    only once `deliver` returned, so a delivery that could not be stored is sent again by Meta."""

    async def verify(request: Request) -> Response:
        q = request.query_params
        if q.get("hub.mode") == "subscribe" and verify_token and hmac.compare_digest(q.get("hub.verify_token", ""), verify_token):
            log.info("%s webhook subscription verified", platform)
            return PlainTextResponse(q.get("hub.challenge", ""))
        log.warning("%s webhook verification refused: wrong hub.verify_token or hub.mode", platform)
        return PlainTextResponse("verification failed", status_code=403)

    async def receive(request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-hub-signature-256", "")
        if not signed(body, header, app_secret):
            # Never parsed: whoever sent it does not know the app secret.
            log.warning(
                "%s webhook delivery from %s refused: %s X-Hub-Signature-256 (%d bytes)",
                platform,
                request.client.host if request.client else "?",
                "wrong" if header else "no",
                len(body),
            )
            return PlainTextResponse("bad signature", status_code=403)
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            log.warning("%s webhook delivery is not JSON (%s); dropped", platform, exc)
            return PlainTextResponse("not JSON", status_code=400)
        try:
            await deliver(payload)
        except Exception:
            log.exception("%s webhook delivery could not be stored; Meta will send it again", platform)
            return PlainTextResponse("not stored", status_code=500)
        return PlainTextResponse("EVENT_RECEIVED")

    return [Route(path, verify, methods=["GET"]), Route(path, receive, methods=["POST"])]
