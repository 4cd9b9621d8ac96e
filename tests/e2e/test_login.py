"""Signing in and out of examples/login.py in a real browser.

A wrong password says so; the right one shows who is signed in; signing out shows the form
again, in this tab and at once in the person's other tab; and an event recorded while signed
in, replayed afterwards (with the browser's cookies as they are now, or as they were), is
refused with 403.
"""

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping

import pytest
from playwright.async_api import Page, Request, expect

pytestmark = pytest.mark.browser

APP = "examples.login:app"


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url):  # the new page, live
        await page.get_by_role("button", name="Sign in").click()


def cookie_header(cookies: Iterable[Mapping[str, object]]) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in cookies)


async def test_sign_in_sign_out_and_a_replayed_event_is_refused(
    visit: Callable[[str], Awaitable[Page]], serve: Callable[[str], str]
) -> None:
    page = await visit(APP)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    await sign_in(page, "ada", "not her password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong name or password")
    await expect(page.get_by_text("Signed in as")).to_have_count(0)

    await sign_in(page, "ada", "lovelace")
    await expect(page.get_by_text("Signed in as ada")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)
    sign_out = page.get_by_role("button", name="Sign out")
    await expect(sign_out).to_be_visible()

    # An event of the signed-in page, recorded as the browser sent it.
    async with page.expect_request(lambda r: "/_parlour/event/" in r.url) as sent:
        await page.get_by_role("button", name="Wave").click()
    await expect(page.locator(".waves")).to_have_text("1 waves")
    wave: Request = await sent.value
    body = wave.post_data or "{}"
    signed_in_cookies = cookie_header(await page.context.cookies())

    async def replay(cookies: str | None = None) -> int:
        headers = {"content-type": "application/json", "datastar-request": "true"}
        if cookies is not None:
            headers["cookie"] = cookies
        response = await page.request.post(wave.url, data=body, headers=headers)
        return response.status

    assert await replay(signed_in_cookies) == 204  # the replay itself is sound while signed in
    await expect(page.locator(".waves")).to_have_text("2 waves")

    # Ada's second tab (same browser), its stream open.
    other = await page.context.new_page()
    async with other.expect_response(lambda r: "/_parlour/sse/" in r.url):
        await other.goto(serve(APP))
    await expect(other.get_by_text("Signed in as ada")).to_be_visible()

    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url):
        await sign_out.click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_text("Signed in as")).to_have_count(0)
    await expect(other.get_by_role("heading", name="Sign in")).to_be_visible()  # at once

    assert await replay() == 403  # the browser's cookies now: signed out
    assert await replay(signed_in_cookies) == 403  # the old cookies: that sign-in is over
    await other.close()


async def test_signing_in_as_someone_else_is_a_page_of_their_own(
    visit: Callable[[str], Awaitable[Page]],
) -> None:
    page = await visit(APP)
    await sign_in(page, "alan", "turing")
    await expect(page.get_by_text("Signed in as alan")).to_be_visible()
    async with page.expect_request(lambda r: "/_parlour/event/" in r.url) as sent:
        await page.get_by_role("button", name="Wave").click()
    wave = await sent.value

    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url):
        await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, "ada", "lovelace")
    await expect(page.get_by_text("Signed in as ada")).to_be_visible()

    response = await page.request.post(
        wave.url, data=json.dumps({}), headers={"content-type": "application/json"}
    )
    assert response.status == 403  # alan's page, ada's request
