"""The todo example in a real browser: a form, keyed rows, and escaped user text."""

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

pytestmark = pytest.mark.browser

TARGET = "examples.todo:app"


async def test_add_toggle_remove(
    visit: Callable[[str], Awaitable[Page]], screenshot: Callable[[str], Awaitable[None]]
) -> None:
    page = await visit(TARGET)
    field = page.get_by_placeholder("What needs doing?")
    rows = page.locator(".todo-item")
    left = page.locator(".todo-left")
    await expect(left).to_have_text("0 left")

    await field.fill("Buy milk")
    await page.get_by_role("button", name="Add").click()
    await expect(rows).to_have_count(1)
    await expect(field).to_have_value("")  # the input clears after adding

    await field.fill("Walk the dog")
    await field.press("Enter")  # Enter submits the form too
    await expect(rows).to_have_count(2)
    await expect(field).to_have_value("")

    await field.fill("Write tests")
    await page.get_by_role("button", name="Add").click()
    await expect(rows.locator(".todo-text")).to_have_text(
        ["Buy milk", "Walk the dog", "Write tests"]
    )
    await expect(left).to_have_text("3 left")

    walk = rows.filter(has_text="Walk the dog")
    await walk.get_by_role("checkbox").check()
    await expect(left).to_have_text("2 left")
    await expect(walk.get_by_role("checkbox")).to_be_checked()

    await rows.filter(has_text="Buy milk").get_by_role("button", name="Remove Buy milk").click()
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Walk the dog")
    await expect(left).to_have_text("1 left")

    await screenshot("todo")


async def test_user_text_is_escaped(visit: Callable[[str], Awaitable[Page]]) -> None:
    page = await visit(TARGET)
    field = page.get_by_placeholder("What needs doing?")
    await field.fill("<b>x</b>")
    await field.press("Enter")

    text = page.locator(".todo-item .todo-text")
    await expect(text).to_have_text("<b>x</b>")
    await expect(page.locator("#root b")).to_have_count(0)
