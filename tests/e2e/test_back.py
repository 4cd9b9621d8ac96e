"""Back from a dialog shows the screen below it as it was left, through either door."""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

# Events that change a screen in place (here: +1, twice) push snapshots but no browser entries;
# the entry being left records the depth it was left at (decision 0003), so both doors keep them.


@pytest.mark.parametrize("door", ["back-button", "browser-back"])
async def test_back_keeps_what_happened_on_the_screen_below(
    visit: Callable[[str], Awaitable[Page]], door: str
) -> None:
    page = await visit("tests.e2e.apps:tally")
    count = page.locator(".count")
    for expected in ("1", "2"):
        await page.get_by_role("button", name="+1").click()
        await expect(count).to_have_text(expected)
    await page.get_by_role("button", name="Open dialog").click()
    await expect(page.get_by_text("The count is 2.")).to_be_visible()

    if door == "back-button":
        await page.get_by_role("button", name="Back").click()
    else:
        await page.go_back()

    await expect(count).to_have_text("2", timeout=3_000)
