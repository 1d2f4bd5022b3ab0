"""The dashboard's pages, in navigation order. A page is a module here exposing `page = Page(...)`."""

from __future__ import annotations

from bot.web.page import Page
from bot.web.pages import analytics, calendar, contacts, drafts, inbox

PAGES: list[Page] = [inbox.page, calendar.page, drafts.page, analytics.page, contacts.page]
