"""A behaviour's life in a real browser: mount, update, push, unmount, and nothing else.

`tests/e2e/widget_apps.py:lifecycle` shows a widget whose behaviour (tests/e2e/lifecycle.js)
writes down every call it gets. A render that changes something else leaves it alone; a
render that changes its data is one `update`; a `widget_push` is one `push`; hiding the
widget is one `unmount`, showing it again a new `mount`.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

LIFECYCLE = "tests.e2e.widget_apps:lifecycle"


async def calls(page: Page) -> list[Any]:
    return await page.evaluate("() => window.widgetCalls")


async def click(page: Page, name: str, calls_then: int) -> None:
    await page.get_by_role("button", name=name).click()
    await page.wait_for_function(f"() => window.widgetCalls.length >= {calls_then}")


async def test_a_behaviour_is_mounted_updated_pushed_to_and_unmounted_once_each(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(LIFECYCLE)
    view = page.locator(".parlour-widget-view")
    await expect(view).to_have_text("mounted with 1")  # drawn by the behaviour, kept by morphs
    assert await calls(page) == [["mount", {"value": 1}]]

    await page.get_by_role("button", name="Count").click()
    await expect(page.locator(".clicks")).to_have_text("clicks: 1")
    assert len(await calls(page)) == 1  # a render that did not touch its data: nothing
    await expect(view).to_have_text("mounted with 1")

    await click(page, "Change", 2)
    await click(page, "Message", 3)
    await click(page, "Toggle", 4)
    await expect(page.locator(".parlour-widget")).to_have_count(0)
    await click(page, "Toggle", 5)
    assert await calls(page) == [
        ["mount", {"value": 1}],
        ["update", {"value": 2}, 1],
        ["push", {"hello": 2}, 1],
        ["unmount", None, 1],
        ["mount", {"value": 2}],
    ]
    await expect(view).to_have_text("mounted with 2")
