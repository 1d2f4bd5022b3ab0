"""One dashboard page: its title and path in the navigation, and its routes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute


@dataclass(frozen=True)
class Page:
    """Each page module (bot/web/pages/NAME.py) exposes `page = Page(...)`; bot/web/pages/__init__.py
    lists them, in navigation order."""

    title: str  # in the navigation
    path: str  # where the navigation links; the page's own routes start with it
    routes: Sequence[BaseRoute]
