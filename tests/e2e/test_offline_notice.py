"""A page whose Datastar did not load says so, instead of showing buttons that do nothing.

The shell carries a notice that Datastar itself hides (`data-show="false"`) as soon as it
runs; when the bundle is missing (not fetched, blocked, offline) nothing hides it.
"""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, Route, expect

from tests.e2e.conftest import expect_console_error

pytestmark = pytest.mark.browser


async def test_the_notice_is_hidden_by_datastar_once_it_runs(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit("examples.counter:app")
    notice = page.locator("#parlour-offline")
    await expect(notice).to_have_count(1)
    # Hidden by Datastar (display: none), not merely not shown yet.
    await expect(notice).to_have_css("display", "none")
    await expect(notice).to_be_hidden()


async def test_a_page_whose_datastar_bundle_is_missing_says_it_could_not_go_live(
    page: Page,
    serve: Callable[[str], str],
    request: pytest.FixtureRequest,
    screenshot: Callable[[str], Awaitable[None]],
) -> None:
    expect_console_error(request, "404")

    async def missing(route: Route) -> None:
        await route.fulfill(status=404, body="no Datastar bundle here")

    await page.route("**/_parlour/static/datastar.js", missing)
    await page.goto(serve("examples.counter:app"))
    notice = page.get_by_role("alert")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("could not go live")
    await expect(notice).to_have_css("display", "block")
    await screenshot("offline-notice")
