"""The way out of an error block, over HTTP: "Try again" and "Start over".

The stock block (`core.render.error_html`) carries two buttons. "Try again" posts
`BASE/retry/CID`: the top frame is drawn again from the conversation's last good state.
"Start over" posts `BASE/restart/CID`: the conversation ends (its stream closes; the page's
reconnect finds it gone and reloads into a new one). Both are checked like any POST of the
page. And a failure in a handler is logged once, with its conversation id, however it came.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest
from htpy import Element, div, p

from parlour import Component, event
from parlour.testing import AsgiClient, Page

from .conftest import MakeApp


class Flaky(Component):
    """Its render fails while the service it shows is down (a class-wide switch)."""

    down: ClassVar[bool] = False
    n: int = 0

    def render(self) -> Element:
        if Flaky.down:
            raise ConnectionError("the service is down")
        return div(self.root)[
            p(".n")[f"n = {self.n}"],
            div(self.on("click", "explode"), role="button")["Explode"],
            div(self.on("click", "bump"), role="button")["Bump"],
        ]

    @event
    def bump(self) -> None:
        self.n += 1

    @event
    def explode(self) -> None:
        self.n = 1000
        raise ValueError("handler broke")


@pytest.fixture(autouse=True)
def _service_up() -> Any:
    Flaky.down = False
    yield
    Flaky.down = False


async def opened(make_app: MakeApp) -> tuple[Page, AsgiClient]:
    client = AsgiClient(make_app(Flaky))
    page = Page(client)
    await page.open("/")
    return page, client


async def test_try_again_draws_the_screen_again_once_it_can(make_app: MakeApp) -> None:
    page, _ = await opened(make_app)
    await page.click("[role=button]", text="Bump")
    Flaky.down = True
    await page.click("[role=button]", text="Bump")  # the new state cannot be drawn
    assert page.query(".parlour-error[role=alert]")
    assert "ConnectionError: the service is down" in page.text(".parlour-error-message")

    Flaky.down = False
    await page.click(".parlour-error button", text="Try again")
    assert page.all(".parlour-error") == []
    assert page.text(".n") == "n = 1"  # the last good state: the failed click changed nothing


async def test_after_a_failed_handler_try_again_shows_the_screen_before_the_click(
    make_app: MakeApp,
) -> None:
    page, _ = await opened(make_app)
    await page.click("[role=button]", text="Explode")
    assert "ValueError: handler broke" in page.text(".parlour-error")
    await page.click(".parlour-error button", text="Try again")
    assert page.text(".n") == "n = 0"
    await page.click("[role=button]", text="Bump")
    assert page.text(".n") == "n = 1"


async def test_start_over_ends_the_conversation_and_the_next_visit_is_new(
    make_app: MakeApp,
) -> None:
    page, client = await opened(make_app)
    app = client.app
    old = page.cid
    await page.click("[role=button]", text="Explode")
    await page.click(".parlour-error button", text="Start over")
    assert old not in app.runtime.live
    assert (await client.get(f"/_parlour/sse/{old}")).status == 200  # the stream says: reload
    fresh = Page(client)
    await fresh.open("/")
    assert fresh.cid != old
    assert fresh.text(".n") == "n = 0"
    await fresh.close()


@pytest.mark.parametrize("route", ["retry", "restart"])
async def test_the_way_out_is_checked_like_any_post(make_app: MakeApp, route: str) -> None:
    page, client = await opened(make_app)
    url = f"/_parlour/{route}/{page.cid}"
    cross = await client.post(url, headers={"origin": "https://evil.example"})
    assert cross.status == 403
    assert (await client.post(f"/_parlour/{route}/nope")).status == 404
    stranger = AsgiClient(client.app)
    assert (await stranger.post(url)).status == 403
    assert page.cid in client.app.runtime.live  # none of them touched it
    assert (await client.post(url)).status == 204


async def test_a_failed_handler_is_logged_once_with_its_conversation(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    page, _ = await opened(make_app)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="parlour"):
        await page.click("[role=button]", text="Explode")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"parlour: component error cid={page.cid} iid=p1 phase=handle: ValueError('handler broke')"
    ]
