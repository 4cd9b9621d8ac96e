"""The counter example in a real browser: clicks reach the server, patches reach the page.

Written with the plugin's `parlour_browser`, as an app's own test suite would be: the app is
served on a loopback port for the test and a fresh Chromium page opens it.
"""

import re
from collections.abc import Awaitable, Callable

import pytest
from examples.counter import app
from playwright.async_api import expect

from parlour.testing.pytest_plugin import BrowserPages

pytestmark = pytest.mark.browser


async def test_clicks_update_the_count(
    parlour_browser: BrowserPages, screenshot: Callable[..., Awaitable[None]]
) -> None:
    page = await parlour_browser(app)
    count = page.locator(".count")
    await expect(count).to_have_text("0")
    plus = page.get_by_role("button", name="+", exact=True)
    minus = page.get_by_role("button", name="-", exact=True)

    # No waiting between clicks: every click must count (the order does not matter here).
    for _ in range(3):
        await plus.click()
    await minus.click()

    await expect(count).to_have_text("2")
    await screenshot("counter", page)


async def test_a_link_with_a_count_opens_at_that_count(parlour_browser: BrowserPages) -> None:
    page = await parlour_browser(app, "/?n=5")
    await expect(page.locator(".count")).to_have_text("5")
    await page.get_by_role("button", name="+", exact=True).click()
    await expect(page.locator(".count")).to_have_text("6")
    await expect(page).to_have_url(re.compile(r"/\?n=6$"))  # the address bar follows
