"""Fixtures for the web tests: hermetic environment, apps that are closed after the test.

`make_app(...)` builds an `App` with a fixed secret (so nothing is written to `.parlour/`
in the repository) and closes its runtime at teardown: `AsgiClient` does not run the ASGI
lifespan, so nobody else would cancel its timers and background work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from parlour import testing
from parlour.testing import AsgiClient
from parlour.web.app import App

SECRET = "test-secret-not-for-production"

MakeApp = Callable[..., App]


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The environment may name a Datastar bundle, and `make setup` puts one in the package;
    # tests that care provide their own.
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


class Page(testing.Page):
    """The shell page as a browser got it (`response`, `cid`, `html`); the web tests open the
    stream and post events themselves, since the HTTP exchange is what they check."""

    def iid_of(self, event: str) -> str:
        """The instance id that the page's control for `event` posts to."""
        for element in self.all("*"):
            for kind in ("click", "submit", "change", "input"):
                for action in self.actions(element, kind):
                    *_, cid, iid, name = action.url.partition("?")[0].split("/")
                    if (cid, name) == (self.cid, event):
                        return iid
        raise AssertionError(f"no {event!r} control on the page:\n{self.outline()}")


async def open_page(client: AsgiClient, path: str = "/") -> Page:
    page = Page(client)
    await page.open(path, stream=False)
    assert page.cid is not None, f"no stream opened by the shell:\n{page.outline()}"
    return page
