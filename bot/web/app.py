"""create_app: the dashboard's pages behind sign-in, and the running connectors' webhooks, as one ASGI app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web import signin
from bot.web.context import WebContext
from bot.web.pages import PAGES
from bot.web.passwords import PasswordStore, session_key
from bot.web.security import CsrfProtection, RequireSignIn, SecurityHeaders, Sessions
from bot.web.templating import STATIC_DIR
from storage.commits import CommitCounter


async def _home(request: Request) -> Response:
    return RedirectResponse(PAGES[0].path, status_code=303)


def dashboard(ctx: WebContext, passwords: PasswordStore | None = None) -> Starlette:
    """The signed-in pages: every page in bot/web/pages, sign-in and out, static files."""
    settings = ctx.settings
    passwords = passwords or PasswordStore(settings.data_dir)
    key = session_key(settings.data_dir)
    limiter = signin.SigninLimiter(settings.web.signin_attempts, settings.web.signin_window_s)
    routes: list[BaseRoute] = [
        Route("/", _home, methods=["GET"]),
        *signin.routes(passwords, limiter, key.encode()),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    for page in PAGES:
        routes.extend(page.routes)
    app = Starlette(
        routes=routes,
        middleware=[
            # The outermost first: headers on every answer, the session before the guards that read it.
            Middleware(SecurityHeaders),
            Middleware(Sessions, secret_key=key, max_age_s=int(settings.web.session_days * 86400)),
            Middleware(CsrfProtection),
            Middleware(RequireSignIn, current_fingerprint=lambda: passwords.fingerprint(key.encode())),
        ],
    )
    app.state.ctx = ctx
    app.state.commits = CommitCounter(ctx.engine)  # what the inbox is cached by (bot/web/figure_cache.py)
    return app


def create_app(ctx: WebContext, webhook_routes: Sequence[Any] = (), passwords: PasswordStore | None = None) -> Starlette:
    """The bot's one HTTP app: the connectors' webhook routes (each platform checks its own
    signatures; no sign-in, no CSRF), then everything else is the dashboard."""
    app = Starlette(routes=[*webhook_routes, Mount("", app=dashboard(ctx, passwords))])
    app.state.ctx = ctx
    return app
