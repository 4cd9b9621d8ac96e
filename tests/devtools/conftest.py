"""Fixtures for the inspector's tests: apps closed after the test, pages whose inspector
stream is followed like the browser follows it.

    page = await inspected(app)                 # the shell, its stream, and the panel's stream
    await page.click("button", text="+")        # the app, as a user drives it
    await page.panel(lambda p: ...)             # read the panel's stream until it shows that
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from parlour.testing import Page
from parlour.testing.sse import SseStream
from parlour.web.app import App

SECRET = "test-secret-not-for-production"

MakeApp = Callable[..., App]


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    monkeypatch.setattr("parlour.web.datastar.PACKAGED", tmp_path / "no-bundle" / "datastar.js")
    monkeypatch.delenv("PARLOUR_SECRET", raising=False)


@pytest.fixture
async def make_app() -> AsyncIterator[MakeApp]:
    apps: list[App] = []

    def make(root: Any, **options: Any) -> App:
        options.setdefault("secret", SECRET)
        app = App(root, **options)
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.runtime.close()


class InspectedPage(Page):
    """A tab of an app in dev mode that also follows its inspector's stream."""

    dev: SseStream | None = None

    async def panel(self, shows: Callable[[InspectedPage], bool], timeout: float = 5.0) -> None:
        """Apply the inspector's patches until `shows(self)` holds."""
        assert self.dev is not None, "the page follows no inspector stream"
        while not shows(self):
            try:
                event = await self.dev.next_event(timeout)
            except TimeoutError:
                raise AssertionError(
                    f"the inspector never showed what was expected:\n{self.outline()}"
                ) from None
            self.document.apply(event)

    def field(self, name: str) -> str | None:
        """The state field `name` of the instance the panel shows, as the panel prints it."""
        found = self.document.query(f"#parlour-inspector-panel [data-parlour-field={name}]")
        return None if found is None else found.text


Inspected = Callable[[App], Awaitable[InspectedPage]]


@pytest.fixture
async def inspected() -> AsyncIterator[Inspected]:
    async with contextlib.AsyncExitStack() as stack:

        async def open_page(app: App) -> InspectedPage:
            page = InspectedPage(app)
            stack.push_async_callback(page.close)
            await page.open("/")
            assert page.cid is not None
            page.dev = await stack.enter_async_context(
                page.client.stream(f"/_parlour/dev/{page.cid}/sse")
            )
            assert page.dev.status == 200
            await page.panel(lambda p: p.document.query(".pi-tree") is not None)
            return page

        yield open_page
