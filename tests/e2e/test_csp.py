"""The Content-Security-Policy in a real browser: pages work under it, nothing is blocked, and
no other site can frame them.

Every page records the `securitypolicyviolation` events Chromium fires (and the `page`
fixture fails a test on any console error, which is where Chromium also reports a blocked
script, style or connection), so "no violation" is checked twice.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, Response, expect

from tests.e2e.conftest import expect_console_error

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
});
"""


async def open_under_csp(page: Page, url: str) -> Response:
    """Load `url` recording violations; its update stream must answer 200."""
    await page.add_init_script(RECORD_VIOLATIONS)
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url) as stream:
        response = await page.goto(url)
    assert (await stream.value).status == 200
    assert response is not None
    return response


async def violations(page: Page) -> list[str]:
    return await page.evaluate("window.__violations")


def policy_of(response: Response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


async def test_the_counter_counts_under_its_policy(page: Page, serve: Callable[[str], str]) -> None:
    response = await open_under_csp(page, serve("examples.counter:app"))
    policy = policy_of(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert response.headers["x-frame-options"] == "DENY"
    plus = page.get_by_role("button", name="+", exact=True)
    for _ in range(3):
        await plus.click()
    await expect(page.locator(".count")).to_have_text("3")
    assert await violations(page) == []


async def test_history_scripts_run_with_the_pages_nonce(
    page: Page, serve: Callable[[str], str]
) -> None:
    """The wizard pushes a history entry per dialog (a script sent down the stream): the
    browser's Back button only works if that script ran."""
    await open_under_csp(page, serve("examples.wizard:app"))
    before = await page.evaluate("history.length")
    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_text("Your name?")).to_be_visible()
    await page.wait_for_function(f"history.length > {before}")
    assert await violations(page) == []


async def test_no_other_site_can_frame_a_page(
    page: Page, serve: Callable[[str], str], request: pytest.FixtureRequest
) -> None:
    expect_console_error(request, "frame-ancestors")
    url = serve("examples.counter:app")
    await page.set_content(f'<iframe id="framed" src="{url}/"></iframe>')
    frame = page.frame_locator("#framed")
    await page.wait_for_timeout(500)  # the framed load, refused
    await expect(frame.locator(".count")).to_have_count(0)


def post(url: str, path: str, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    with urllib.request.urlopen(
        urllib.request.Request(url + path, data=data, headers=headers, method="POST"), timeout=5
    ) as answer:
        assert answer.status == 202


async def test_the_console_works_under_its_policy(launch: Callable[..., str], page: Page) -> None:
    # (`launch` first: its server stops after the page closed, not under an open stream)
    url = launch("console")
    response = await open_under_csp(page, url + "/")
    assert policy_of(response)["frame-ancestors"] == ["'none'"]
    await expect(page.locator(".console-conn")).to_have_text("Connected")
    post(url, "/api/events", {"topic": "agent.started", "source": "csp-check", "payload": {}})
    await expect(page.locator("#agents")).to_contain_text("csp-check")
    for label in ("Status", "Config"):
        async with page.expect_response(lambda r: "/_parlour/sse/" in r.url):
            await page.locator(".console-nav-item", has_text=label).click()
        await expect(page.locator(".console-conn")).to_have_text("Connected")
        assert await violations(page) == [], label
