"""In a real browser (Debian's chromium through Playwright), against the bot running on the fake Telegram server:
write a post, schedule it from the calendar, and see the real scheduler publish it. Screenshots of the
Calendar, Drafts and Analytics pages land in tests/output/screenshots/, at desktop and phone width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from fakes.telegram_api import FakeTelegram
from storage import repo
from storage.models import PostStatus
from tests.web.browser import dashboard, shoot
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.slow  # a real browser and the bot with its models

TEXT = "Fresh <b>rye</b> bread from 8:00 tomorrow!"


async def test_schedule_a_post_from_the_calendar_and_see_it_published(config_file: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        async with dashboard(config_file, fake) as board:
            app, browser, url = board.app, board.browser, board.url
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            failed: list[str] = []  # any of our URLs that answered with an error (a missing chart, style sheet...)
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None)
            await page.goto(f"{url}/calendar")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/calendar")

            # Drafting through htmx: the variants come into the page, which is not reloaded.
            await page.click("nav[aria-label=pages] >> text=Drafts")
            await page.evaluate("window.notReloaded = true")
            await page.fill("#topic", "our autumn sale ends Friday")
            await page.get_by_role("button", name="Write variants").click()
            await expect(page.locator("#variants form.variant").first).to_be_visible(timeout=60_000)
            await expect(page.locator("#variants h2").first).to_contain_text("telegram")
            await expect(page.locator("#variants .checks").first).to_contain_text(re.compile("Passes the checks|Checks failed"))
            assert await page.evaluate("window.notReloaded") is True
            await shoot(page, "drafts_variants")

            # The owner writes a post of their own and saves it as a draft.
            await page.fill("#own-text", TEXT)
            await page.select_option("#own-platform", "telegram")
            await page.click("#compose button[value=draft]")
            await expect(page.locator(".notice")).to_contain_text("saved for telegram")
            await shoot(page, "drafts")

            # On the calendar it waits under "Drafts to schedule": schedule it for a few seconds from now.
            await page.click("nav[aria-label=pages] >> text=Calendar")
            draft = page.locator("li.post", has_text="Fresh <b>rye</b> bread")
            await expect(draft).to_have_count(1)  # the follower-style markup is shown as text
            await expect(page.locator("p.pick")).to_contain_text("Best time this week on telegram")
            await shoot(page, "calendar_week")
            await draft.locator("summary").click()
            await draft.locator("input[name=when]").fill("in 3s")
            await draft.get_by_role("button", name="Schedule").click()
            await expect(page.locator(".notice")).to_contain_text("scheduled for")
            await expect(page.locator("li.post .badge.scheduled").first).to_be_visible()

            # The bot's scheduler publishes it through the fake Bot API; the calendar says so.
            [sent] = await fake.wait_for("sendMessage", timeout=30)
            assert sent.params["text"] == TEXT and sent.params["chat_id"] == "@acme"
            [post] = repo.list_posts(app.engine)  # type: ignore[arg-type]
            for _ in range(50):
                if (post := repo.get_post(app.engine, post.id)).status == PostStatus.published:  # type: ignore[arg-type, union-attr, assignment]
                    break
                await page.wait_for_timeout(100)
            await page.reload()
            published = page.locator(f"#post-{post.id}")
            await expect(published.locator(".badge.published")).to_be_visible()
            await expect(published).to_contain_text(TEXT)
            await expect(page.locator(f"a.chip.published[href='#post-{post.id}']")).to_have_count(1)  # in its hour of the week
            await shoot(page, "calendar_week_published")

            await page.goto(f"{url}/calendar?view=month")
            await expect(page.locator("table.month a.chip.published")).to_have_count(1)
            await shoot(page, "calendar_month")
            await page.goto(f"{url}/analytics")
            await expect(page.locator(".figure", has_text="Posts published")).to_contain_text("1")
            for image in await page.locator(".charts img").all():  # every chart drawn (a broken image has no width)
                await image.scroll_into_view_if_needed()
                await expect(image).to_have_js_property("complete", True)
                assert await image.evaluate("i => i.naturalWidth") > 100
            await shoot(page, "analytics")

            phone = await browser.new_page(viewport={"width": 390, "height": 844})
            await phone.context.add_cookies(await page.context.cookies())
            for path, name in [("/calendar", "calendar_week_phone"), ("/drafts", "drafts_phone"), ("/analytics", "analytics_phone")]:
                await phone.goto(f"{url}{path}")
                width = await phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{path} is {width} px wide on a phone"  # wide tables scroll inside their box
                await shoot(phone, name)
            assert failed == []
    finally:
        await fake.stop()
