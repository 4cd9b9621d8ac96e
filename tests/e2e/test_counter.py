"""The counter example in a real browser: clicks reach the server, patches reach the page."""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser


async def test_clicks_update_the_count(
    visit: Callable[[str], Awaitable[Page]], screenshot: Callable[[str], Awaitable[None]]
) -> None:
    page = await visit("examples.counter:app")
    count = page.locator(".count")
    await expect(count).to_have_text("0")
    plus = page.get_by_role("button", name="+", exact=True)
    minus = page.get_by_role("button", name="-", exact=True)

    # No waiting between clicks: every click must count (the order does not matter here).
    for _ in range(3):
        await plus.click()
    await minus.click()

    await expect(count).to_have_text("2")
    await screenshot("counter")
