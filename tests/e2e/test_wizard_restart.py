"""The wizard survives a SIGKILL of the server mid-flow, in the same page, without a reload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.durability.test_restart import Server, free_port
from tests.e2e.conftest import DATASTAR_JS, expect_console_error

pytestmark = pytest.mark.browser


@pytest.fixture
def wizard_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("PARLOUR_DATASTAR_JS", str(DATASTAR_JS))
    server = Server("examples.wizard:app", tmp_path / "state.sqlite", free_port())
    server.start()
    yield server
    server.stop()


async def test_finish_the_wizard_after_the_server_was_killed(
    page: Page,
    wizard_server: Server,
    screenshot: Callable[[str], Awaitable[None]],
    request: pytest.FixtureRequest,
) -> None:
    # Killing the server cuts the open stream, and reconnects fail until it is back.
    expect_console_error(request, "ERR_INCOMPLETE_CHUNKED_ENCODING")
    expect_console_error(request, "ERR_CONNECTION_REFUSED")
    await page.goto(wizard_server.url + "/")
    await page.get_by_role("button", name="Sign up").click()
    await page.get_by_label("Your name?").fill("Ada")
    await page.get_by_role("button", name="OK").click()
    await expect(page.get_by_role("button", name="pro")).to_be_visible()
    loads = await page.evaluate("performance.getEntriesByType('navigation').length")

    wizard_server.kill()
    wizard_server.start()

    # The open page's stream reconnects by itself; the restored flow answers the clicks.
    await page.get_by_role("button", name="pro").click(timeout=20_000)
    await page.get_by_role("button", name="Yes").click(timeout=20_000)
    await expect(page.locator(".outcome")).to_have_text("Welcome, Ada (pro)", timeout=10_000)
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == loads
    await screenshot("wizard-after-restart")
