"""Fixtures for the console's in-process tests: a started `Console`, its hub, an HTTP client.

`console` is the real app (pages, shared views, API, hub) on a memory store and journal,
with its figures ticker parked (tick = 1 h) so nothing changes unless a test publishes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parlour.console.app import Console
from parlour.console.figures import ENV_NAMES
from parlour.console.hub import Hub
from parlour.testing import AsgiClient


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Config page reports these; the Console reads the API token from one of them.
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    console = Console(
        store="memory", journal="memory", secret="test-secret", tick=3600, state_dir=tmp_path
    )
    await console.start()
    try:
        yield console
    finally:
        await console.close()


@pytest.fixture
def hub(console: Console) -> Hub:
    assert console.hub is not None
    return console.hub


@pytest.fixture
def client(console: Console) -> AsgiClient:
    return AsgiClient(console)
