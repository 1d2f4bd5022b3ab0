"""Signing in and out, sessions, CSRF, rate limiting and security headers, through httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import httpx
from argon2 import PasswordHasher, profiles
import pytest

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from bot.web.pages import PAGES
from tests.web.conftest import PASSWORD, csrf_headers, csrf_token, form_with_csrf, sign_in


async def test_every_page_redirects_to_signin_when_signed_out(anonymous: httpx.AsyncClient) -> None:
    for page in PAGES:
        answer = await anonymous.get(page.path)
        assert answer.status_code == 303, page.path
        assert answer.headers["location"] == f"/signin?next=%2F{page.path.strip('/')}"
    assert (await anonymous.get("/")).headers["location"] == "/signin"
    assert (await anonymous.get("/inbox/messages/1")).status_code == 303


def _routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + re.sub(r"\{(\w+)(:\w+)?\}", "1", route.path), set(route.methods or ())


async def test_signed_out_no_route_answers_anything_but_the_way_to_sign_in(
    anonymous: httpx.AsyncClient, web_app: Starlette
) -> None:
    """Every route the app serves, not only the pages in the navigation: its sub-pages, fragments and actions."""
    walked: set[str] = set()
    for path, methods in _routes(web_app.routes):
        if path.startswith(("/signin", "/static")) or path == "/":
            continue
        if "GET" in methods:
            answer = await anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), path
            walked.add(path)
        if "POST" in methods:
            # A forged token does not pass the CSRF check; without a session nothing runs either way.
            answer = await anonymous.post(path, data={"csrf_token": "forged"})
            assert answer.status_code in (303, 403) and "<main>" not in answer.text, path
            walked.add(path)
    assert {page.path for page in PAGES} <= walked and "/contacts/1/forget" in walked  # the app's routes were found


async def test_htmx_request_signed_out_is_told_to_load_signin(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.get("/inbox/updates", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/signin")


async def test_sign_in_then_pages_then_sign_out(anonymous: httpx.AsyncClient) -> None:
    token = await csrf_token(anonymous, "/signin")
    answer = await anonymous.post("/signin", data={"password": PASSWORD, "csrf_token": token, "next": "/contacts"})
    assert answer.status_code == 303 and answer.headers["location"] == "/contacts"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
    for page in PAGES:
        shown = await anonymous.get(page.path)
        assert shown.status_code == 200, page.path
        for other in PAGES:
            assert f'href="{other.path}"' in shown.text  # the navigation
    out = await anonymous.post("/signout", data=await form_with_csrf(anonymous))
    assert out.status_code == 303
    assert (await anonymous.get("/inbox")).status_code == 303


async def test_next_never_leaves_the_site(anonymous: httpx.AsyncClient) -> None:
    token = await csrf_token(anonymous, "/signin")
    answer = await anonymous.post("/signin", data={"password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"})
    assert answer.headers["location"] == "/"


async def test_wrong_password_is_refused(anonymous: httpx.AsyncClient) -> None:
    answer = await sign_in(anonymous, "not the password")
    assert answer.status_code == 401 and "Wrong password" in answer.text
    assert (await anonymous.get("/inbox")).status_code == 303


async def test_signin_attempts_are_limited(anonymous: httpx.AsyncClient) -> None:
    for _ in range(5):  # [web] signin_attempts
        assert (await sign_in(anonymous, "guess")).status_code == 401
    limited = await sign_in(anonymous, PASSWORD)  # even the right password waits now
    assert limited.status_code == 429 and "Too many failed sign-ins" in limited.text


async def test_state_change_without_csrf_token_is_refused(signed_in: httpx.AsyncClient) -> None:
    assert (await signed_in.post("/signout")).status_code == 403
    assert (await signed_in.post("/signout", data={"csrf_token": "forged"})).status_code == 403
    assert (await signed_in.post("/signout", headers={"X-CSRF-Token": "forged"})).status_code == 403
    assert (await signed_in.get("/inbox")).status_code == 200  # still signed in
    assert (await signed_in.post("/signout", headers=await csrf_headers(signed_in))).status_code == 303


async def test_signin_itself_needs_the_csrf_token(anonymous: httpx.AsyncClient) -> None:
    await anonymous.get("/signin")
    assert (await anonymous.post("/signin", data={"password": PASSWORD})).status_code == 403


async def test_security_headers(signed_in: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    for answer in (await signed_in.get("/inbox"), await anonymous.get("/signin"), await anonymous.get("/static/style.css")):
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_pages_have_no_inline_script_or_style(signed_in: httpx.AsyncClient) -> None:
    for page in PAGES:
        html = (await signed_in.get(page.path)).text
        assert "<script>" not in html and "<script " not in html.replace('<script src="/static/htmx.min.js" defer>', "")
        assert " style=" not in html and "<style" not in html and " on" + "click=" not in html


async def test_htmx_is_vendored(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.get("/static/htmx.min.js")
    assert answer.status_code == 200 and 'version:"2.' in answer.text


async def test_https_cookie_is_secure(web_app) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url="https://dashboard.test") as client:
        answer = await sign_in(client)
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_new_password_signs_everyone_out(signed_in: httpx.AsyncClient, web_context) -> None:  # type: ignore[no-untyped-def]
    from bot.web.passwords import PasswordStore

    PasswordStore(web_context.settings.data_dir, PasswordHasher.from_parameters(profiles.CHEAPEST)).set("another long password")
    assert (await signed_in.get("/inbox")).status_code == 303


@pytest.mark.parametrize("path", ["/inbox/updates?after=0&shown=", "/contacts"])
async def test_get_pages_answer(signed_in: httpx.AsyncClient, path: str) -> None:
    assert (await signed_in.get(path)).status_code in (200, 204)
