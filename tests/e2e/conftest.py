"""Browser fixtures: Debian's chromium driven by async Playwright, and live example servers.

The plugin's fixtures (`parlour_browser`: an app served on a thread, a fresh page) cover a
test of one app in one process; these add what parlour's own suite needs beyond them:
`parlour run` and `parlour console` as real processes, with their command-line options.

    async def test_x(visit):
        page = await visit("examples.counter:app")   # a server, a fresh page, stream open
        await page.get_by_role("button", name="+").click()

`chromium` is one browser for the session; `page` is a fresh context (own cookies, own
conversation) per test; `serve(target)` starts `parlour run TARGET` once per session and
returns its base URL. For tests with several users or several processes, `open_page(url)`
opens one more fresh context (another user) with its stream connected, and
`launch(target, *args)` starts a `parlour run` of the test's own (e.g. `--bus nats://…`),
stopped by PID when the test ends, after its pages are closed. Every wait is bounded;
nothing sleeps.

Chromium must be Debian's (/usr/bin/chromium): `playwright install` cannot work on our
machines. When it is missing the tests fail, saying how to install it; they never skip.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from parlour.testing.pytest_plugin import DEBIAN_CHROMIUM
from parlour.testing.pytest_plugin import chromium as launch_chromium
from parlour.web.datastar import PACKAGED

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = DEBIAN_CHROMIUM
DATASTAR_JS = PACKAGED  # the bundle `make setup` fetches; every app serves it by default
SCREENSHOTS = REPO / "test-results"
DOCS_IMAGES = REPO / "docs" / "images"


def docs_image(name: str) -> Path:
    """Where a test writes the screenshot the documentation shows as docs/images/NAME.

    `make screenshots` (PARLOUR_SCREENSHOTS=1) writes into docs/images; an ordinary run writes
    into test-results/docs-images (ignored by git), so the shot is still taken (and can fail)
    while a test run leaves the working tree as it found it."""
    on = os.environ.get("PARLOUR_SCREENSHOTS") == "1"
    folder = DOCS_IMAGES if on else SCREENSHOTS / "docs-images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


SERVER_START_TIMEOUT = 10.0  # seconds until the port must accept connections
SERVER_STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
TIMEOUT_MS = 10_000  # Playwright actions and navigations

expect.set_options(timeout=5_000)


# -- the browser ------------------------------------------------------------------------------


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's chromium. Run `make test` "
            "(it installs it) or `sh scripts/ensure-chromium`; never `playwright install`.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
async def chromium(pytestconfig: pytest.Config) -> AsyncIterator[Browser]:
    """One headless Debian chromium for the whole session (the plugin's launcher, which
    drives /usr/bin/chromium when no other is named)."""
    _require_chromium()
    async with launch_chromium(pytestconfig) as browser:
        yield browser


@pytest.fixture(scope="session")
def parlour_chromium(chromium: Browser) -> Browser:
    """The plugin's `parlour_browser` pages open in the same session-wide chromium."""
    return chromium


# Console errors a test may declare expected (a server it killed on purpose cuts the stream).
EXPECTED_ERRORS = pytest.StashKey[list[str]]()


def expect_console_error(request: pytest.FixtureRequest, text: str) -> None:
    """Tell the `page` fixture that console errors containing `text` are part of this test."""
    request.node.stash.setdefault(EXPECTED_ERRORS, []).append(text)


class _Pages:
    """Fresh browser contexts whose uncaught page errors and console errors are collected."""

    def __init__(self, browser: Browser, request: pytest.FixtureRequest) -> None:
        self.browser = browser
        self.request = request
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    async def new(self) -> Page:
        context = await self.browser.new_context(viewport={"width": 900, "height": 700})
        self.contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        label = f"page {len(self.contexts)}"
        page.on("pageerror", lambda exc: self.problems.append(f"{label} error: {exc}"))

        def on_console(message: ConsoleMessage) -> None:
            expected = self.request.node.stash.get(EXPECTED_ERRORS, [])
            if message.type == "error" and not any(text in message.text for text in expected):
                self.problems.append(f"{label} console error: {message.text}")

        page.on("console", on_console)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        assert not self.problems, "the page reported errors:\n" + "\n".join(self.problems)


@pytest.fixture
async def page(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh context and page; uncaught page errors and console errors fail the test."""
    pages = _Pages(chromium, request)
    yield await pages.new()
    await pages.close()


# -- live servers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class _Server:
    def __init__(self, target: str, log: Path, args: tuple[str, ...] = ()) -> None:
        self.target = target
        self.log = log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **{k: v for k, v in os.environ.items() if k != "PARLOUR_DATASTAR_JS"},
            "PARLOUR_SECRET": "e2e-test-secret-not-for-production",
        }
        # `console` serves the parlour console; anything else is a MODULE:ATTR to `parlour run`.
        command = ["console"] if target == "console" else ["run", target]
        if target == "console" and "--state-dir" not in args:
            args = (*args, "--state-dir", str(log.parent / f"state-{self.port}"))
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parlour",
                    *command,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--store",
                    "memory",
                    *args,
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _accepts(self.port):
            try:
                # Doubles as the poll interval: returns at once if the server died.
                code = self.proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                pytest.fail(
                    f"`parlour run {self.target}` exited with {code} before serving:\n"
                    f"{self.output()}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(
                    f"`parlour run {self.target}` did not accept connections on port "
                    f"{self.port} within {SERVER_START_TIMEOUT:.0f} s:\n{self.output()}",
                    pytrace=False,
                )

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after a grace period; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=SERVER_STOP_TIMEOUT)
        return self.proc.returncode


def _require_datastar() -> None:
    if not DATASTAR_JS.is_file():
        pytest.fail(
            f"{DATASTAR_JS} is missing: run `make setup` (or scripts/fetch-datastar) to fetch "
            "the Datastar bundle the package serves.",
            pytrace=False,
        )


def _stop_all(servers: list[_Server]) -> None:
    """Stop every server by PID; fail if one is stuck or did not exit cleanly."""
    stuck: list[str] = []
    for server in servers:
        code = server.stop()
        if server.proc.poll() is None:
            stuck.append(f"{server.target} (pid {server.proc.pid})")
        elif code not in (0, -signal.SIGTERM):
            stuck.append(f"{server.target} exited with {code}:\n{server.output()}")
    assert not stuck, "servers did not shut down cleanly: " + "; ".join(stuck)


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """`serve("examples.counter:app")` -> base URL; one server per target for the session."""
    _require_datastar()
    logs = tmp_path_factory.mktemp("servers")
    servers: dict[str, _Server] = {}

    def start(target: str) -> str:
        server = servers.get(target)
        if server is None:
            server = _Server(target, logs / f"{target.replace(':', '-')}.log")
            try:
                server.wait_ready()
            except BaseException:
                server.stop()  # reported here; the session teardown need not report it again
                raise
            servers[target] = server
        elif server.proc.poll() is not None:
            pytest.fail(
                f"the server for {target} died (exit {server.proc.returncode}):\n{server.output()}",
                pytrace=False,
            )
        return server.url

    yield start
    _stop_all(list(servers.values()))


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """`launch("examples.chat:app", "--bus", url)` -> base URL of a new `parlour run` (on
    `--store memory`) that belongs to this test: stopped by PID when the test ends.
    `launch("console", "--demo")` starts `parlour console` instead (its state in tmp_path)."""
    _require_datastar()
    servers: list[_Server] = []

    def start(target: str, *args: str) -> str:
        log = tmp_path / f"{target.replace(':', '-')}-{len(servers)}.log"
        server = _Server(target, log, args)
        servers.append(server)
        server.wait_ready()
        return server.url

    yield start
    _stop_all(servers)


async def _open(page: Page, url: str) -> Page:
    """Load `url` in `page` and wait until its update stream answered 200."""
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url) as stream:
        await page.goto(url)
    response = await stream.value
    assert response.status == 200, f"the update stream answered {response.status}"
    return page


@pytest.fixture
async def open_page(
    chromium: Browser, request: pytest.FixtureRequest, launch: Callable[..., str]
) -> AsyncIterator[Callable[[str], Awaitable[Page]]]:
    """`await open_page(url)`: one more user (a fresh context) with the app's stream open.

    Depends on `launch` so that its pages close before the test's own servers stop (a stream
    cut by a stopping server would log console errors)."""
    pages = _Pages(chromium, request)

    async def go(url: str) -> Page:
        return await _open(await pages.new(), url)

    yield go
    await pages.close()


@pytest.fixture
def visit(page: Page, serve: Callable[[str], str]) -> Callable[[str], Awaitable[Page]]:
    """Open an example app in `page` and wait until its update stream is connected."""

    async def go(target: str) -> Page:
        return await _open(page, serve(target))

    return go


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Awaitable[None]]:
    """`await screenshot("counter")` saves the `page` fixture's page to
    test-results/counter.png (gitignored); `await screenshot("counter", other)` saves `other`."""

    async def shoot(name: str, target: Page | None = None) -> None:
        shown = target if target is not None else request.getfixturevalue("page")
        SCREENSHOTS.mkdir(exist_ok=True)
        await shown.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return shoot
