"""The console's connection label in a real browser (R4): Connected while the stream is open,
Disconnected once the server is gone and Datastar is retrying, Connected again when a server
answers on the same address.

These tests stop the server themselves, so they start `parlour console` through a small
fixture of their own on `tests.e2e.conftest._Server` (the shared `launch` fixture only hands
out URLs). Every wait is bounded.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e import conftest
from tests.e2e.conftest import SERVER_STOP_TIMEOUT, _Server, expect_console_error

pytestmark = pytest.mark.browser

OpenPage = Callable[[str], Awaitable[Page]]
DISCONNECTED_MS = 5_000
"""R4: the label must say Disconnected within this long of the server going away."""
RECONNECTED_MS = 15_000
"""Datastar retries after 0.5, 1, 2, 4, 8 s (the shell's retry settings): one of them lands."""


class Consoles:
    """`parlour console` servers of one test: started, killed and restarted on purpose."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.servers: list[_Server] = []

    def start(self, port: int | None = None) -> _Server:
        """A new console (on `port` if given: a restart on the same address), ready to serve."""
        log = self.tmp_path / f"console-{len(self.servers)}.log"
        if port is None:
            server = _Server("console", log)
        else:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(conftest, "_free_port", lambda: port)
                server = _Server("console", log)
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop_all(self) -> None:
        """Teardown: whatever still runs is stopped by PID (exit codes are the tests' concern)."""
        for server in self.servers:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(timeout=SERVER_STOP_TIMEOUT)


@pytest.fixture
def consoles(tmp_path: Path) -> Iterator[Consoles]:
    conftest._require_datastar()  # pyright: ignore[reportPrivateUsage]
    started = Consoles(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def expect_cut_stream(request: pytest.FixtureRequest) -> None:
    """The stream is cut on purpose: the browser logs its failed retries."""
    for text in (
        "net::ERR_CONNECTION_REFUSED",
        "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
        "net::ERR_EMPTY_RESPONSE",
        "Failed to load resource",
    ):
        expect_console_error(request, text)


async def test_the_label_says_disconnected_when_the_server_dies_and_reconnects(
    consoles: Consoles, open_page: OpenPage, request: pytest.FixtureRequest
) -> None:
    server = consoles.start()
    page = await open_page(server.url)
    conn = page.locator(".console-conn")
    await expect(conn).to_have_text("Connected")
    await expect(conn).to_have_attribute("data-conn", "Connected")

    expect_cut_stream(request)
    server.proc.kill()  # the server goes away at once (a crash, a lost host)
    server.proc.wait(timeout=SERVER_STOP_TIMEOUT)

    await expect(conn).to_have_text("Disconnected", timeout=DISCONNECTED_MS)
    await expect(conn).to_have_attribute("data-conn", "Disconnected")

    # A console on the same address again: Datastar's retry finds it (the conversation is
    # unknown to the new process, so the page reloads into a fresh one) and the label recovers.
    consoles.start(port=server.port)
    await expect(page.locator(".console-conn")).to_have_text("Connected", timeout=RECONNECTED_MS)


async def test_sigterm_with_a_stream_open_stops_the_console(
    consoles: Consoles, open_page: OpenPage, request: pytest.FixtureRequest
) -> None:
    server = consoles.start()
    page = await open_page(server.url)
    await expect(page.locator(".console-conn")).to_have_text("Connected")

    expect_cut_stream(request)
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    assert code in (0, -signal.SIGTERM), f"still running {SERVER_STOP_TIMEOUT:g} s after SIGTERM"
    await expect(page.locator(".console-conn")).to_have_text(
        "Disconnected", timeout=DISCONNECTED_MS
    )
