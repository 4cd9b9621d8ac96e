"""Reloading a tab keeps its conversation; a copied link opens the same screen in a new one.

The counter projects its count into the address bar (`?n=3`) and reads it back when a tab
opens; the shell tells a reload which conversation the tab held (a cookie written as the page
unloads), so F5 shows the same conversation, not a new one at the same count.
"""

import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

STREAM = re.compile(r"/_parlour/sse/([A-Za-z0-9_-]+)")


def conversation_of(url: str) -> str:
    found = STREAM.search(url)
    assert found is not None, url
    return found.group(1)


async def reload(page: Page) -> str:
    """F5, waiting until the page's stream is open again; the conversation it shows."""
    async with page.expect_response(lambda r: STREAM.search(r.url) is not None) as stream:
        await page.reload()
    response = await stream.value
    assert response.status == 200
    return conversation_of(response.url)


async def open_tab(page: Page, url: str) -> tuple[Page, str]:
    """The same browser (its cookies), a new tab at `url`; the conversation it shows."""
    tab = await page.context.new_page()
    async with tab.expect_response(lambda r: STREAM.search(r.url) is not None) as stream:
        await tab.goto(url)
    return tab, conversation_of((await stream.value).url)


async def test_a_reload_keeps_the_conversation_and_a_copied_link_opens_a_new_one_at_its_count(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit("examples.counter:app")
    first = conversation_of(
        await page.evaluate("document.body.getAttribute('data-init')")  # the stream it opened
    )
    count = page.locator(".count")
    plus = page.get_by_role("button", name="+", exact=True)
    for expected in ("1", "2", "3"):
        await plus.click()
        await expect(count).to_have_text(expected)
    await expect(page).to_have_url(re.compile(r"/\?n=3$"))

    tab, second = await open_tab(page, page.url)  # the address copied into a new tab
    assert second != first  # a conversation of its own ...
    await expect(tab.locator(".count")).to_have_text("3")  # ... at the link's count
    await tab.get_by_role("button", name="+", exact=True).click()
    await expect(tab.locator(".count")).to_have_text("4")
    await expect(count).to_have_text("3")  # the first tab is not the second

    assert await reload(page) == first  # F5: the same conversation, not a new one at n=3
    await expect(count).to_have_text("3")
    await plus.click()
    await expect(count).to_have_text("4")  # and it is live
    await expect(page).to_have_url(re.compile(r"/\?n=4$"))

    assert await reload(tab) == second  # the second tab, reloaded, is still its own
    await expect(tab.locator(".count")).to_have_text("4")
    await tab.close()
