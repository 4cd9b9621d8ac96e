"""The ticker example in a real browser: a burst of 500 bus events reaches every viewer.

Two users watch the ticker; one clicks `Burst 500`. Every page must end showing all 500
events: the burst is coalesced into a few patches on the way (see
tests/examples/test_ticker.py for how few), but none of the count may be lost.
"""

import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

TICKER = "examples.ticker:app"
BURST = 500
BURST_MS = 5_000  # 500 events through the bus and the store, then a patch per viewer


async def events_seen(page: Page) -> int:
    text = await page.locator(".events").inner_text()
    found = re.fullmatch(r"events: (\d+)", text.strip())
    assert found, f"the ticker shows {text!r}, not 'events: N'"
    return int(found.group(1))


async def test_every_viewer_sees_the_whole_burst(
    serve: Callable[[str], str], open_page: Callable[[str], Awaitable[Page]]
) -> None:
    url = serve(TICKER)
    viewers = [await open_page(url), await open_page(url)]
    before = [await events_seen(page) for page in viewers]

    await viewers[0].get_by_role("button", name="Burst 500").click()

    for page, seen in zip(viewers, before, strict=True):
        await expect(page.locator(".events")).to_have_text(
            f"events: {seen + BURST}", timeout=BURST_MS
        )

    # A second burst adds up too: nothing was left half-delivered by the first.
    await viewers[1].get_by_role("button", name="Burst 500").click()
    for page, seen in zip(viewers, before, strict=True):
        await expect(page.locator(".events")).to_have_text(
            f"events: {seen + 2 * BURST}", timeout=BURST_MS
        )
