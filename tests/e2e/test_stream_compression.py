"""Chromium gets its stream gzipped (it sends `Accept-Encoding: gzip, deflate, br, zstd`), and
the page works on it: every browser test runs on the compressed path."""

import pytest
from examples.counter import app
from playwright.async_api import expect

from parlour.testing.pytest_plugin import BrowserPages

pytestmark = pytest.mark.browser


async def test_the_stream_arrives_gzipped_and_patches_the_page(
    parlour_browser: BrowserPages,
) -> None:
    page = await parlour_browser.new_page()
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url) as opened:
        await page.goto(parlour_browser.server(app) + "/")
    stream = await opened.value
    assert stream.status == 200
    assert await stream.header_value("content-encoding") == "gzip"
    accepted = await stream.request.header_value("accept-encoding") or ""
    assert "gzip" in accepted
    plus = page.get_by_role("button", name="+", exact=True)
    for _ in range(3):
        await plus.click()
    await expect(page.locator(".count")).to_have_text("3")
