"""Fixtures for the web tests: hermetic environment, apps that are closed after the test.

`make_app(...)` builds an `App` with a fixed secret (so nothing is written to `.parlour/`
in the repository) and closes its runtime at teardown: `AsgiClient` does not run the ASGI
lifespan, so nobody else would cancel its timers and background work.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parlour.testing import AsgiClient, AsgiResponse
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


@dataclass
class Page:
    """A shell page as a browser got it: the response, its conversation and its HTML."""

    response: AsgiResponse
    cid: str
    html: str
    """The page with HTML entities decoded (attribute values read as the browser reads them)."""

    def iid_of(self, event: str) -> str:
        """The instance id the page's `event` button posts to."""
        match = re.search(rf"/event/{re.escape(self.cid)}/([^/]+)/{re.escape(event)}'", self.html)
        assert match is not None, f"no {event!r} button on the page:\n{self.html}"
        return match.group(1)


async def open_page(client: AsgiClient, path: str = "/") -> Page:
    response = await client.get(path)
    assert response.status == 200, response.text
    text = html.unescape(response.text)
    match = re.search(r"@get\(['\"]([^'\"]*)/sse/([^'\"]+)['\"]", text)
    assert match is not None, f"no SSE URL in the shell:\n{text}"
    return Page(response, match.group(2), text)
