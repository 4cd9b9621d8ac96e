"""The stock toast in a real browser: it shows over the page and leaves by itself.

`tests/e2e/widget_apps.py:notices` returns `toast(..., kind, seconds=1.0)` from a handler per
button. Every wait is bounded: the toast must be gone within a few seconds of appearing.
"""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

NOTICES = "tests.e2e.widget_apps:notices"
GONE_MS = 4_000  # shown for 1 s, then a 0.2 s exit; the rest is slack for a loaded machine


async def test_a_toast_appears_over_the_page_and_leaves_by_itself(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(NOTICES)
    await page.get_by_role("button", name="Success").click()

    toast = page.get_by_role("status").filter(has_text="Success notice 1")
    await expect(toast).to_be_visible()
    await expect(page.locator("#parlour-overlay .parlour-toast--success")).to_have_count(1)
    position = await toast.evaluate("el => getComputedStyle(el.parentElement).position")
    assert position == "fixed"  # over the page, not in its flow

    await expect(toast).to_have_count(0, timeout=GONE_MS)
    await expect(page.locator(".saves")).to_have_text("saves: 1")  # the page itself stayed


async def test_an_error_toast_is_an_alert_and_each_kind_looks_different(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(NOTICES)
    for kind in ("Info", "Success", "Warning", "Error"):
        await page.get_by_role("button", name=kind).click()
    await expect(page.locator(".parlour-toast")).to_have_count(4)

    await expect(page.get_by_role("alert").filter(has_text="Error notice")).to_be_visible()
    assert await page.get_by_role("status").filter(has_text="notice").count() == 3
    colours = await page.locator(".parlour-toast").evaluate_all(
        "els => els.map(el => getComputedStyle(el).borderLeftColor)"
    )
    assert len(set(colours)) == 4, colours

    await expect(page.locator(".parlour-toast")).to_have_count(0, timeout=GONE_MS)


async def test_the_close_button_dismisses_a_toast_at_once(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(NOTICES)
    await page.get_by_role("button", name="Info").click()
    toast = page.get_by_role("status").filter(has_text="Info notice 1")
    await expect(toast).to_be_visible()
    await toast.get_by_role("button", name="Dismiss").click()
    await expect(toast).to_have_count(0, timeout=500)
