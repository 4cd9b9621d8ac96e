"""The inspector in a real browser: `parlour run --dev` on the counter, the panel's tree and
live state, outlining a component, looking at a past step, returning, and resuming from one.

The screenshot of the time-travel view is kept in the documentation
(docs/images/inspector-time-travel.png, written by `make screenshots`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import docs_image

pytestmark = pytest.mark.browser


async def test_the_counter_in_dev_mode_inspected_and_travelled_in_time(
    launch: Callable[..., str], open_page: Callable[[str], Awaitable[Page]]
) -> None:
    page = await open_page(launch("examples.counter:app", "--dev"))
    await page.set_viewport_size({"width": 1280, "height": 760})
    count = page.locator("#root .count")
    plus = page.locator("#root").get_by_role("button", name="+", exact=True)
    for _ in range(3):
        await plus.click()
    await expect(count).to_have_text("3")

    # Closed at first; the button says its shortcut, and the shortcut opens it.
    panel = page.locator("#parlour-inspector")
    toggle = page.locator("#parlour-inspector-toggle")
    await expect(panel).to_be_hidden()
    await expect(toggle).to_have_attribute("title", "parlour inspector (Alt+Shift+D)")
    await page.keyboard.press("Alt+Shift+D")
    await expect(panel).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")

    # The tree and the state of the top frame, live.
    node = panel.locator(".pi-node[data-parlour-iid='p1']")
    await expect(node).to_contain_text("Counter p1")
    await expect(panel.locator("[data-parlour-field='count']")).to_have_text("3")
    await expect(panel.locator(".pi-step")).to_have_count(4)

    # Hovering a component in the tree outlines it on the page.
    outline = page.locator("#parlour-inspector-outline")
    await node.hover()
    await expect(outline).to_be_visible()
    await expect(outline).to_have_attribute("data-label", "Counter p1")
    box, card = await outline.bounding_box(), await page.locator("#p1").bounding_box()
    assert box is not None
    assert card is not None
    assert (round(box["x"]), round(box["width"])) == (round(card["x"]), round(card["width"]))

    # Step 1: the page as it was, read-only, under a banner; the live page is hidden.
    await panel.locator(".pi-step[data-step='1'] .pi-view").click()
    banner = page.locator(".pi-banner")
    await expect(banner).to_contain_text("Step 1 of 3")
    await expect(banner).to_contain_text("read-only")
    past = page.locator("#parlour-inspector-travel .pi-past")
    await expect(past.locator(".count")).to_have_text("1")
    await expect(past).to_have_attribute("inert", "")
    await expect(page.locator("#root")).to_be_hidden()
    await expect(panel.locator("[data-parlour-field='count']")).to_have_text("1")
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(docs_image("inspector-time-travel.png")))

    # Return: the page as it is now.
    await banner.get_by_role("button", name="Return to now").click()
    await expect(banner).to_have_count(0)
    await expect(count).to_have_text("3")
    await expect(count).to_be_visible()

    # Resume from step 2: the conversation goes back there, and clicks go on from 2.
    await panel.locator(".pi-step[data-step='2'] .pi-view").click()
    await expect(past.locator(".count")).to_have_text("2")
    await banner.get_by_role("button", name="Resume from here").click()
    await expect(banner).to_have_count(0)
    await expect(count).to_have_text("2")
    await expect(page).to_have_url(re.compile(r"\?n=2$"))
    await plus.click()
    await expect(count).to_have_text("3")
    await expect(panel.locator("[data-parlour-field='count']")).to_have_text("3")
    await expect(panel.locator(".pi-step[data-step='2']")).to_contain_text("back to step 2")

    # The shortcut closes it again.
    await page.keyboard.press("Alt+Shift+D")
    await expect(panel).to_be_hidden()


async def test_without_dev_mode_the_page_has_no_inspector(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit("examples.counter:app")
    await page.keyboard.press("Alt+Shift+D")

    await expect(page.locator("#parlour-inspector-toggle")).to_have_count(0)
    await expect(page.locator("#parlour-inspector")).to_have_count(0)
    assert "inspector" not in await page.content()
