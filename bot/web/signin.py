"""Signing in and out: one owner, one password; failed attempts limited per address."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.passwords import PasswordStore
from bot.web.security import csrf_token, safe_next
from bot.web.templating import render

log = logging.getLogger(__name__)


class SigninLimiter:
    """At most `attempts` failed sign-ins from one address within `window_s` seconds."""

    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[address]  # keeps the table as small as the addresses that failed lately
        return failures

    def wait_s(self, address: str) -> float:
        """Seconds until this address may try again; 0 when it may now."""
        now = time.monotonic()
        failures = self._recent(address, now)
        if len(failures) < self.attempts:
            return 0.0
        return failures[0] + self.window_s - now

    def failed(self, address: str) -> None:
        self._failures.setdefault(address, deque()).append(time.monotonic())

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def routes(passwords: PasswordStore, limiter: SigninLimiter, fingerprint_key: bytes) -> list[Route]:
    async def signin_form(request: Request) -> Response:
        return render(request, "signin.html", {"error": "", "next": safe_next(request.query_params.get("next")),
                                               "password_set": passwords.is_set()})

    async def signin(request: Request) -> Response:
        form = await request.form()
        target = safe_next(str(form.get("next") or ""))
        address = _address(request)
        wait = limiter.wait_s(address)
        if wait > 0:
            log.warning("dashboard sign-in from %s refused: too many failed attempts", address)
            error = f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds."
            return render(request, "signin.html", {"error": error, "next": target, "password_set": True}, status_code=429)
        # A slow hash by design (tens of milliseconds and more): not on the event loop.
        if not await asyncio.to_thread(passwords.verify, str(form.get("password") or "")):
            limiter.failed(address)
            log.warning("dashboard sign-in from %s failed: wrong password", address)
            error = "Wrong password." if passwords.is_set() else "No password is set yet: run `bot web set-password`."
            return render(request, "signin.html", {"error": error, "next": target, "password_set": passwords.is_set()},
                          status_code=401)
        limiter.succeeded(address)
        log.info("dashboard: signed in from %s", address)
        # A fresh session (and CSRF token) on sign-in: a session planted before it is worth nothing.
        request.session.clear()
        request.session["owner"] = passwords.fingerprint(fingerprint_key)
        csrf_token(request.session)
        return RedirectResponse(target, status_code=303)

    async def signout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
    ]
