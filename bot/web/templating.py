"""Rendering the dashboard's Jinja2 templates: every page gets the navigation and the CSRF token."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from bot.web.badges import badges
from bot.web.context import context as web_context
from bot.web.security import CSRF_FIELD, csrf_token
from core.text import counted
from core.times import account_zone

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@jinja2.pass_context
def _when(values: Context, value: datetime | None) -> str:
    """A moment in the account's time zone ([bot] timezone); the database keeps UTC."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    zone = values.get("zone")
    return (aware.astimezone(zone) if zone else aware).strftime("%Y-%m-%d %H:%M")


def _environment() -> jinja2.Environment:
    # Autoescape on every template: a follower's text is shown as text, whatever it contains.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["when"] = _when
    env.globals["counted"] = counted
    env.globals["badges"] = badges
    return env


templates = Jinja2Templates(env=_environment())

# Where a session's CSRF token goes in a piece of page drawn once for every session (bot/web/pages/inbox.py):
# a tag, so no escaped value (a follower's "<csrf-slot>" is "&lt;csrf-slot&gt;") can ever be taken for it.
CSRF_SLOT = Markup("<csrf-slot>")


def shared_piece(name: str, values: dict[str, Any], zone_name: str) -> str:
    """A template drawn for every session alike: its forms carry CSRF_SLOT; `with_csrf` fills it per request."""
    return templates.get_template(name).render({"csrf": CSRF_SLOT, "csrf_name": CSRF_FIELD, "zone": account_zone(zone_name), **values})


def with_csrf(piece: str, request: Request) -> Markup:
    """A shared piece with this session's CSRF token in its forms (the token is URL-safe base64: nothing to escape)."""
    return Markup(piece.replace(CSRF_SLOT, csrf_token(request.session)))


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """A template with what every page needs: the pages for the navigation, the CSRF token
    (`csrf_field` is the hidden input every form carries) and the current path."""
    from bot.web.pages import PAGES  # the pages import this module

    token = csrf_token(request.session)
    values: dict[str, Any] = {
        "pages": PAGES,
        "path": request.url.path,
        "csrf": token,
        "csrf_name": CSRF_FIELD,
        "signed_in": bool(request.session.get("owner")),
        "zone": account_zone(web_context(request).settings.bot.timezone),
        **take_flash(request),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def flash(request: Request, text: str, *, problem: bool = False) -> None:
    """A line for the next page shown (after a plain form's redirect)."""
    request.session["problem" if problem else "notice"] = text


def take_flash(request: Request) -> dict[str, str]:
    return {"notice": request.session.pop("notice", ""), "problem": request.session.pop("problem", "")}
