"""The sign-up example in a real browser: call/answer through three dialogs, and Back.

Back has two doors that must lead to the same room: the dialogs' stock `Back` button and the
browser's own Back (popstate -> POST back?to=DEPTH). Both must show the name prompt again,
with what was typed in it.
"""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

TARGET = "examples.signup:app"


async def _answer_name(page: Page, name: str) -> None:
    field = page.get_by_label("Your name?")
    await expect(field).to_be_visible()
    await field.fill(name)
    await page.get_by_role("button", name="OK").click()


async def _pick(page: Page, plan: str) -> None:
    await expect(page.get_by_text("Plan", exact=True)).to_be_visible()
    await page.get_by_role("button", name=plan, exact=True).click()


async def _confirm(page: Page, question: str, choice: str) -> None:
    await expect(page.get_by_text(question)).to_be_visible()
    await page.get_by_role("button", name=choice, exact=True).click()


async def test_signup_yes(
    visit: Callable[[str], Awaitable[Page]], screenshot: Callable[[str], Awaitable[None]]
) -> None:
    page = await visit(TARGET)
    await page.get_by_role("button", name="Sign up").click()
    await _answer_name(page, "Ada")
    await _pick(page, "pro")
    await _confirm(page, "Sign Ada up for pro?", "Yes")

    await expect(page.locator(".signup-status")).to_have_text("Welcome, Ada (pro)")
    await screenshot("signup")


async def test_signup_no(visit: Callable[[str], Awaitable[Page]]) -> None:
    page = await visit(TARGET)
    await page.get_by_role("button", name="Sign up").click()
    await _answer_name(page, "Ada")
    await _pick(page, "free")
    await _confirm(page, "Sign Ada up for free?", "No")

    await expect(page.locator(".signup-status")).to_have_text("Cancelled")


@pytest.mark.parametrize("door", ["back-button", "browser-back"])
async def test_back_shows_the_prompt_with_the_earlier_answer(
    visit: Callable[[str], Awaitable[Page]],
    screenshot: Callable[[str], Awaitable[None]],
    door: str,
) -> None:
    page = await visit(TARGET)
    await page.get_by_role("button", name="Sign up").click()
    await _answer_name(page, "Ada")
    await expect(page.get_by_role("button", name="pro", exact=True)).to_be_visible()

    if door == "back-button":
        await page.get_by_role("button", name="Back").click()
    else:
        await page.go_back()

    field = page.get_by_label("Your name?")
    await expect(field).to_have_value("Ada")
    await screenshot(f"signup-{door}")
    await field.fill("Bob")
    await page.get_by_role("button", name="OK").click()
    await _pick(page, "free")
    await _confirm(page, "Sign Bob up for free?", "Yes")

    await expect(page.locator(".signup-status")).to_have_text("Welcome, Bob (free)")
