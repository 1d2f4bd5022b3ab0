"""The Contacts page (placeholder until it is built)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.page import Page
from bot.web.templating import render


async def show(request: Request) -> Response:
    return render(request, "placeholder.html", {"title": "Contacts"})


page = Page("Contacts", "/contacts", [Route("/contacts", show, methods=["GET"])])
