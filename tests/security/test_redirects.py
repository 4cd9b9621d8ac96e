"""The console never echoes a request's Host into a redirect, and refuses hosts it does not
serve, on its pages and its API alike (the multi-page App's own redirects are specified in
tests/web/test_security.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parlour.console.app import Console
from parlour.testing import AsgiClient

EVIL = {"host": "evil.example"}


async def started(tmp_path: Path, **options: object) -> Console:
    console = Console(
        store="memory",
        journal="memory",
        secret="redirect-secret",
        tick=3600,
        state_dir=tmp_path,
        **options,  # pyright: ignore[reportArgumentType]
    )
    await console.start()
    return console


@pytest.fixture
async def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    monkeypatch.delenv("PARLOUR_CONSOLE_TOKEN", raising=False)
    console = await started(tmp_path)
    yield console
    await console.close()


@pytest.fixture
async def open_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    """A console behind a proxy that checks hosts itself: every Host is answered."""
    monkeypatch.delenv("PARLOUR_CONSOLE_TOKEN", raising=False)
    console = await started(tmp_path, allowed_hosts=["*"])
    yield console
    await console.close()


async def test_a_host_the_console_does_not_serve_gets_400_everywhere(console: Console) -> None:
    client = AsgiClient(console)
    for method, path in [
        ("GET", "/"),
        ("GET", "/status/"),
        ("GET", "/api"),
        ("GET", "/api/snapshot"),
        ("POST", "/api/events"),
        ("GET", "/_console/console.css"),
    ]:
        response = await client.request(method, path, headers=EVIL)
        assert response.status == 400, (method, path, response.status)
        assert "location" not in response.headers


@pytest.mark.parametrize("path", ["/status/", "/config/", "/api", "/api/replay/"])
async def test_every_redirect_is_relative_whatever_the_host(
    console: Console, open_console: Console, path: str
) -> None:
    for app, host in ((console, "localhost:8000"), (open_console, "evil.example")):
        response = await AsgiClient(app).get(path, headers={"host": host})
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers["location"]
            assert location.startswith("/"), location
            assert not location.startswith("//"), location
            assert host not in location, location


async def test_the_pages_slash_redirect_points_at_the_page(open_console: Console) -> None:
    response = await AsgiClient(open_console).get("/status/", headers=EVIL)
    assert response.status in (307, 308)
    assert response.headers["location"] == "/status"


async def test_a_protocol_relative_path_stays_on_the_console(open_console: Console) -> None:
    client = AsgiClient(open_console)
    for path in ("//evil.example/", "///evil.example/", "//evil.example/status/"):
        response = await client.get(path, headers={"host": "localhost"})
        location = response.headers.get("location", "/")
        assert not location.startswith(("//", "/\\")), (path, location)
