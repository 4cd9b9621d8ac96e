"""The chat example in a real browser: two users, one room, on one process or on two.

Each page is its own browser context (its own cookie, session and conversation). A message
sent from one must show on every page within a second of the click: through the in-process
bus when one `parlour run` serves both, through a real NATS server when two processes do.
"""

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.support.nats import NatsServer, start_nats_server

pytestmark = pytest.mark.browser

CHAT = "examples.chat:app"
DELIVERY_MS = 1_000  # a message reaches every page within a second of the click

OpenPage = Callable[[str], Awaitable[Page]]


async def send(page: Page, text: str) -> None:
    box = page.get_by_placeholder("Message")
    await box.fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_a_message_reaches_both_users_of_one_server(
    serve: Callable[[str], str],
    open_page: OpenPage,
) -> None:
    url = serve(CHAT)
    alice, bob = await open_page(url), await open_page(url)
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_count(0)
        await expect(page.locator(".count")).to_have_text("0 messages")

    await send(alice, "hello")
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(["hello"], timeout=DELIVERY_MS)
        await expect(page.locator(".count")).to_have_text("1 messages", timeout=DELIVERY_MS)
    await expect(alice.get_by_placeholder("Message")).to_have_value("", timeout=DELIVERY_MS)

    # And back the other way: the room is shared, not one user's echo.
    await send(bob, "hi alice")
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(
            ["hello", "hi alice"], timeout=DELIVERY_MS
        )
    await expect(bob.get_by_placeholder("Message")).to_have_value("", timeout=DELIVERY_MS)


async def test_user_text_is_shown_as_text_not_markup(
    serve: Callable[[str], str], open_page: OpenPage
) -> None:
    url = serve(CHAT)
    alice, bob = await open_page(url), await open_page(url)
    await send(alice, "<b>hi</b>")
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(["<b>hi</b>"], timeout=DELIVERY_MS)
        await expect(page.locator(".messages b")).to_have_count(0)


async def test_a_blank_message_is_not_sent(
    serve: Callable[[str], str], open_page: OpenPage
) -> None:
    url = serve(CHAT)
    alice, bob = await open_page(url), await open_page(url)
    await send(alice, "   ")
    await send(alice, "after the blank")
    # Messages arrive in order, so once the second is shown the first would be too.
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(
            ["after the blank"], timeout=DELIVERY_MS
        )


# -- two processes, one NATS server -----------------------------------------------------------


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A real `nats-server -js` on a free loopback port, stopped by PID after the test."""
    yield from start_nats_server(tmp_path)


@pytest.mark.subprocess
async def test_a_message_crosses_processes_over_nats(
    nats: NatsServer,
    launch: Callable[..., str],
    open_page: OpenPage,
) -> None:
    first = launch(CHAT, "--bus", nats.url)
    second = launch(CHAT, "--bus", nats.url)
    assert first != second
    alice, bob = await open_page(first), await open_page(second)

    await send(alice, "hello")
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(["hello"], timeout=DELIVERY_MS)
    await expect(alice.get_by_placeholder("Message")).to_have_value("", timeout=DELIVERY_MS)

    await send(bob, "hello from the other process")
    for page in (alice, bob):
        await expect(page.locator(".message")).to_have_text(
            ["hello", "hello from the other process"], timeout=DELIVERY_MS
        )
