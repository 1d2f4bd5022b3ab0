"""The dashboard's guards, as ASGI middleware: security headers, session cookies, CSRF tokens, sign-in required."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a visitor who is not signed in may reach.
PUBLIC_PREFIXES = ("/signin", "/static/")
# A plain form (no htmx header) is read whole to find its token: room for a post's image.
MAX_FORM_BYTES = 25_000_000

SECURITY_HEADERS = {
    # Scripts and styles only from our own files: no inline script, nothing from elsewhere.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


_RAW_SECURITY_HEADERS = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Adds the security headers to every response of the dashboard."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Appended as raw pairs: MutableHeaders' item assignment scans the list for each header.
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [pair for pair in _RAW_SECURITY_HEADERS if pair[0] not in present]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class Sessions:
    """Signed, HttpOnly, SameSite=Lax session cookies (Starlette's), marked Secure when the request
    came over https (directly, or through a reverse proxy that says so in X-Forwarded-Proto)."""

    def __init__(self, app: ASGIApp, secret_key: str, max_age_s: int) -> None:
        def sessions(https_only: bool) -> SessionMiddleware:
            return SessionMiddleware(
                app, secret_key, session_cookie="dashboard", max_age=max_age_s, same_site="lax", https_only=https_only
            )

        self.plain = sessions(https_only=False)
        self.secure = sessions(https_only=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.secure if scope.get("scheme") in ("https", "wss") else self.plain
        await chosen(scope, receive, send)


def csrf_token(session: dict[str, object]) -> str:
    """The session's CSRF token, made on first use; every form carries it."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class CsrfProtection:
    """Refuses a state-changing request (POST, PUT, PATCH, DELETE) whose CSRF token, in the form
    field `csrf_token` or the `X-CSRF-Token` header (htmx sends it), is not the session's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = scope["session"].get("csrf")
        given = Headers(scope=scope).get(CSRF_HEADER)
        if given is None:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("the form is too large", status_code=413)(scope, receive, send)
                return
            form = await Request(scope, _replay(body)).form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
            receive = _replay(body)
        if not (isinstance(expected, str) and given and hmac.compare_digest(expected, given)):
            refusal = PlainTextResponse(
                "refused: the form had no valid security token (it may be older than your sign-in); "
                "reload the page and try again",
                status_code=403,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class RequireSignIn:
    """Everything but the sign-in page and static files needs a signed-in session under the
    current password; others are sent to the sign-in page (htmx requests: told to go there)."""

    def __init__(self, app: ASGIApp, current_fingerprint: Callable[[], str]) -> None:
        self.app = app
        self.current_fingerprint = current_fingerprint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PREFIXES) or signed_in(scope, self.current_fingerprint):
            await self.app(scope, receive, send)
            return
        await sign_in_first(scope)(scope, receive, send)


def signed_in(scope: Scope, current_fingerprint: Callable[[], str]) -> bool:
    owner = scope["session"].get("owner")
    return isinstance(owner, str) and hmac.compare_digest(owner, current_fingerprint())


def sign_in_first(scope: Scope) -> Response:
    path = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    target = "/signin" if path in ("/", "/signout") else "/signin?next=" + quote(path + (f"?{query}" if query else ""), safe="")
    if Headers(scope=scope).get("hx-request"):
        # htmx would swap a redirect's sign-in page into a fragment; tell it to load the page instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path on this site (never //elsewhere or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
