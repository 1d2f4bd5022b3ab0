"""The owner's web dashboard: an ASGI app (Starlette, Jinja2, vendored htmx) served inside the bot's process."""
