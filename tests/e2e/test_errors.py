"""The stock error block in a real browser: Try again, and Start over.

A handler that raises replaces its component with the stock block (`role="alert"`). "Try
again" draws the screen again as it was before the click; "Start over" ends the conversation:
the stream closes, Datastar reconnects, the server says the conversation is gone, and the page
reloads into a new one.
"""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

FRAGILE = "tests.e2e.widget_apps:fragile"
RESTART_MS = 10_000  # the stream's reconnect (0.5 s apart), then a page load


async def test_try_again_shows_the_screen_as_it_was(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(FRAGILE)
    await page.get_by_role("button", name="Bump").click()
    await expect(page.locator(".n")).to_have_text("n = 1")
    await page.get_by_role("button", name="Explode").click()
    alert = page.get_by_role("alert").filter(has_text="Something went wrong")
    await expect(alert).to_contain_text("ValueError: the handler broke")

    await alert.get_by_role("button", name="Try again").click()
    await expect(alert).to_have_count(0)
    await expect(page.locator(".n")).to_have_text("n = 1")


async def test_start_over_opens_a_new_conversation(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(FRAGILE)
    await page.get_by_role("button", name="Bump").click()
    await expect(page.locator(".n")).to_have_text("n = 1")
    await page.get_by_role("button", name="Explode").click()
    alert = page.get_by_role("alert").filter(has_text="Something went wrong")

    async with page.expect_navigation(timeout=RESTART_MS):
        await alert.get_by_role("button", name="Start over").click()
    await expect(page.locator(".n")).to_have_text("n = 0")
    await page.get_by_role("button", name="Bump").click()
    await expect(page.locator(".n")).to_have_text("n = 1")
