"""End to end in a real browser (Debian's chromium through Playwright) against the bot running on the fake Telegram server.

Sign in; a follower's message arrives on Telegram and shows in the inbox without a reload; the
owner edits its draft and approves it; the fake server receives exactly that reply; a follower's
`<script>` is shown as text; the owner undoes a follower's stop; a request without the CSRF token is
refused; signed out, every page goes to the sign-in page. Screenshots of every page land in tests/output/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from bot.web.pages import PAGES
from fakes.app import settings_with
from fakes.telegram_api import FakeTelegram
from storage import repo
from storage.models import ReplyStatus
from tests.web.browser import dashboard, shoot
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.slow  # a real browser and the bot with its models

FOLLOWER = 777
SCRIPT = "<script>window.pwned = 1</script> is this thing on?"


async def test_owner_works_the_inbox_in_a_browser(config_file: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    # Every reply waits for the owner here, so a draft is there to edit.
    settings_with(config_file, "[policy]\nauto_reply_platforms = []\n")
    try:
        async with dashboard(config_file, fake) as board:
            app, browser, url = board.app, board.browser, board.url
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            await page.goto(f"{url}/inbox")
            assert page.url == f"{url}/signin?next=%2Finbox"
            await shoot(page, "signin")
            await page.fill("input[name=password]", "wrong password")
            await page.click("button[type=submit]")
            await expect(page.locator(".problem")).to_contain_text("Wrong password")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/inbox")
            await expect(page.locator("#nothing-waiting")).to_contain_text("Nothing is waiting")

            # A follower writes on Telegram; the page (never reloaded: the marker stays) shows it.
            await page.evaluate("window.notReloaded = true")
            fake.push(fake.message("Do you deliver to the city centre?", user_id=FOLLOWER))
            card = page.locator("#waiting article.waiting").first
            await expect(card).to_contain_text("Do you deliver to the city centre?", timeout=30_000)
            await expect(page.locator("#messages")).to_contain_text("Do you deliver to the city centre?")
            await expect(page.locator("#no-messages")).to_be_empty()
            await expect(card.locator(".why").first).to_contain_text("Why it waits: auto-reply is off on telegram")  # the policy's reason
            assert await page.evaluate("window.notReloaded") is True
            await expect(card.locator(".badge").first).to_be_visible()
            await shoot(page, "inbox")

            edited = "Yes! We deliver within 10 km for 3 EUR, free above 30 EUR."
            await card.locator("textarea").fill(edited)
            await card.get_by_role("button", name="Approve and send").click()
            await expect(page.locator("#waiting")).to_contain_text("edited and sent")
            sent = await fake.wait_for("sendMessage", timeout=15)
            to_follower = [c.params["text"] for c in fake.calls_to("sendMessage") if str(c.params["chat_id"]) == str(FOLLOWER)]
            assert to_follower == [edited], sent
            assert await page.evaluate("window.notReloaded") is True
            await page.wait_for_timeout(4000)  # a poll after the answer: the line about it stays
            await expect(page.locator("#waiting")).to_contain_text("edited and sent")

            # A click whose CSRF token is not the session's is refused, and the refusal is shown.
            fake.push(fake.message("Can I order a cake for Friday?", user_id=780))
            cake = page.locator("#waiting article.waiting", has_text="Can I order a cake for Friday?")
            await expect(cake).to_be_visible(timeout=30_000)
            await page.evaluate("""document.body.setAttribute('hx-headers', '{"X-CSRF-Token": "forged"}')""")
            await cake.get_by_role("button", name="Reject").click()
            await expect(page.locator("#waiting")).to_contain_text("refused: the form had no valid security token")
            assert app.engine is not None
            assert [r.status for r in repo.list_replies(app.engine, status=ReplyStatus.pending)] == [ReplyStatus.pending]
            await page.reload()

            # A follower's script is text on every page that shows it.
            fake.push(fake.message(SCRIPT, user_id=778))
            await expect(page.locator("#messages")).to_contain_text(SCRIPT, timeout=30_000)
            fake.push(fake.message("unsubscribe me, stop sending me messages", user_id=778))  # they ask to stop
            assert await page.evaluate("window.pwned") is None
            row = page.locator("#messages tr", has_text="is this thing on?")
            await row.get_by_role("link", name="Thread").click()
            await expect(page.locator(".thread")).to_contain_text(SCRIPT)
            await shoot(page, "thread")
            await page.get_by_role("link", name="user778").first.click()
            await expect(page.locator("main")).to_contain_text(SCRIPT)
            assert await page.evaluate("window.pwned") is None
            undo = page.get_by_role("button", name="They asked for messages again: undo the stop")
            for _ in range(100):  # the stop is taken once the bot has read the message
                if await undo.count():
                    break
                await page.wait_for_timeout(200)
                await page.reload()
            await shoot(page, "contact")
            await undo.click()  # the owner undoes it (as /resubscribe telegram 778 would)
            await expect(page.locator(".notice")).to_contain_text("gets automatic replies again")
            contact = repo.find_contact(app.engine, "telegram", "778")
            assert contact is not None and not contact.opted_out
            await page.get_by_role("link", name="Forget this contact…").click()
            await shoot(page, "forget")
            await page.get_by_role("button", name="Forget them").click()
            await expect(page.locator(".notice")).to_contain_text("Deleted telegram contact 778")

            for shown in PAGES:
                await page.goto(f"{url}{shown.path}")
                await shoot(page, "page-" + shown.path.strip("/"))
            await page.set_viewport_size({"width": 390, "height": 844})  # a phone
            for shown in PAGES:
                await page.goto(f"{url}{shown.path}")
                await shoot(page, shown.path.strip("/") + "-phone")
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{shown.path} is {width} px wide on a 390 px phone"

            # The browser's own request without the token (the session cookie goes along) is refused.
            refused = await page.request.post(f"{url}/signout")
            assert refused.status == 403
            # No CSP refusal, no htmx error: only the statuses we answered on purpose (wrong password, CSRF).
            assert not [e for e in errors if not any(s in e for s in ("status of 401", "status of 403", "Error Code 403"))], errors

            # Without JavaScript the same works through plain forms (a reload shows what is new).
            plain = await browser.new_context(java_script_enabled=False)
            nojs = await plain.new_page()
            await nojs.goto(f"{url}/signin")
            await nojs.fill("input[name=password]", PASSWORD)
            await nojs.click("button[type=submit]")
            await nojs.wait_for_url(f"{url}/inbox")  # "/" is the inbox
            fake.push(fake.message("Are you open on Sunday?", user_id=779))
            waiting = nojs.locator("#waiting article.waiting", has_text="Are you open on Sunday?")
            for _ in range(100):
                await nojs.goto(f"{url}/inbox")
                if await waiting.count():
                    break
                await nojs.wait_for_timeout(200)
            await waiting.locator("textarea").fill("We are closed on Sundays.")
            await waiting.get_by_role("button", name="Approve and send").click()
            await expect(nojs.locator(".notice")).to_contain_text("edited and sent")
            assert [c.params["text"] for c in fake.calls_to("sendMessage") if str(c.params["chat_id"]) == "779"] == [
                "We are closed on Sundays."
            ]
            await shoot(nojs, "inbox-without-javascript")
            await plain.close()

            await page.get_by_role("button", name="Sign out").click()
            await page.wait_for_url(f"{url}/signin")
            for shown in PAGES:
                await page.goto(f"{url}{shown.path}")
                assert page.url.startswith(f"{url}/signin?next="), shown.path
    finally:
        await fake.stop()
