"""pytest fixtures for testing parlour apps; loaded by pytest whenever parlour is installed.

    async def test_plus_counts_up(parlour_page):
        page = await parlour_page(app)                 # a tab in-process: parlour.testing.Page
        await page.click("button", text="+")
        assert page.text(".count") == "1"

    async def test_plus_in_chromium(parlour_browser):
        page = await parlour_browser(app)              # a Playwright page, the stream connected
        await page.get_by_role("button", name="+").click()
        await expect(page.locator(".count")).to_have_text("1")

What `app` may be, for every fixture here: a parlour `App` (or another ASGI app; yours, used
as it is and never closed, so one module-level app may serve many tests), a `Component`
subclass (the fixture builds `App(Root)` for this test, its state under the test's tmp_path,
and closes it when the test ends), or a `"module:attr"` string naming either.

    parlour_page        `await parlour_page(app, path="/")`: a new tab (its own cookie, so its
                        own conversation) opened in-process, no server, no browser
    parlour_server      `parlour_server(app)`: the base URL of the app served by uvicorn on a
                        free loopback port, on a thread of its own, for this test
    parlour_browser     `await parlour_browser(app, path="/")`: a fresh Chromium context and
                        page at the served app, its update stream open; an uncaught error or
                        a console error on the page fails the test
                        (`parlour_browser.allow_console_error(text)` declares one expected)
    parlour_chromium    the Playwright `Browser` (one per session when the event loop is the
                        session's, else one per test: Playwright objects belong to one loop)

The browser is the Chromium at `--parlour-chromium PATH` (or `PARLOUR_CHROMIUM`), else
/usr/bin/chromium when it exists, else Playwright's own build. Playwright is imported only
when a browser fixture is used, so it need not be installed for the others. Pages load the
Datastar bundle the package serves, so nothing is fetched from the internet. Every wait is
bounded; none sleeps.

The async fixtures need pytest-asyncio (`pip install 'parlour[testing]'` brings it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import socket
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeGuard, cast

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage
    from playwright.async_api import Page as BrowserPage

    from parlour.runtime.runtime import Runtime
    from parlour.testing.page import Page

__all__ = ["BrowserPages", "ServedApps", "chromium", "chromium_path"]

CHROMIUM_ENV = "PARLOUR_CHROMIUM"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
TEST_SECRET = "parlour-pytest-secret-not-for-production"
"""Signs the tabs' session cookies when nothing else does, so no secret file is written."""
SERVER_START_TIMEOUT = 10.0  # seconds until a served app must accept connections
SERVER_STOP_TIMEOUT = 5.0  # seconds for its thread to finish once told to stop
STREAM_TIMEOUT_MS = 10_000  # until a browser page's update stream must have answered

try:
    import pytest_asyncio

    _async_fixture: Any = pytest_asyncio.fixture
except ImportError:  # the in-process fixtures say what is missing when a test uses them
    _async_fixture = pytest.fixture


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parlour")
    group.addoption(
        "--parlour-chromium",
        default=None,
        metavar="PATH",
        help=f"the Chromium executable the browser fixtures drive (or {CHROMIUM_ENV}); "
        f"default {DEBIAN_CHROMIUM} when it exists, else Playwright's own build",
    )


# -- what an app may be --------------------------------------------------------------------


class _Apps:
    """Turns what a test passes into an ASGI app; closes the apps it built, and only those."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.built: list[Any] = []

    def resolve(self, target: object) -> Any:
        from parlour.core.component import Component
        from parlour.web.app import App

        if isinstance(target, str):
            target = _import(target)
        if _is_component_class(target, Component):
            app = App(target, title=target.__name__, state_dir=self.state / str(len(self.built)))
            self.built.append(app)
            return app
        if not callable(target):
            raise TypeError(
                f"expected a parlour App (or another ASGI app), a Component subclass or a "
                f"'module:attr' string naming one, but got {target!r}"
            )
        return cast(Any, target)

    async def close(self) -> None:
        for app in self.built:
            await app.close()


def _is_component_class[C](target: object, base: type[C]) -> TypeGuard[type[C]]:
    return isinstance(target, type) and issubclass(target, base)


def _import(target: str) -> object:
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(
            f"expected 'module:attr' (e.g. 'examples.counter:app'), but got {target!r}"
        )
    found: object = importlib.import_module(module)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign cookies with a test secret unless the environment names one: an app with no
    `secret=` would otherwise write one under its state folder (`.parlour/` by default)."""
    if not os.environ.get("PARLOUR_SECRET"):
        monkeypatch.setenv("PARLOUR_SECRET", TEST_SECRET)


# -- in-process pages ----------------------------------------------------------------------


@_async_fixture
async def parlour_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """`page = await parlour_page(app, path="/", timeout=5.0)`: a `parlour.testing.Page`
    opened at `path` with its stream connected (`stream=False` loads the shell only). For a
    site that mounts a parlour App among its routes, name that App's runtime:
    `await parlour_page(site, "/orders/", runtime=orders.runtime)`.

    Each call is a new tab with its own cookie, so its own conversation; every tab is closed
    when the test ends, then the apps the fixture built."""
    from parlour.testing.page import Page

    _secret(monkeypatch)
    apps = _Apps(tmp_path / "parlour-state")
    pages: list[Page] = []

    async def open_page(
        app: object,
        path: str = "/",
        *,
        timeout: float = 5.0,
        stream: bool = True,
        runtime: Runtime | None = None,
    ) -> Page:
        page = Page(apps.resolve(app), timeout=timeout, runtime=runtime)
        pages.append(page)
        return await page.open(path, stream=stream)

    yield open_page
    for page in pages:
        await page.close()
    await apps.close()


# -- served apps ---------------------------------------------------------------------------


class _Served:
    """One app served by uvicorn on 127.0.0.1, on a thread with its own event loop."""

    def __init__(self, app: Any, *, owned: bool) -> None:
        import uvicorn

        self.app = app
        self.owned = owned
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,  # the system picks a free port: no race with another test's server
            lifespan="off",  # a parlour App starts on its first request; we close what we built
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self.server = _server_class()(config, self._started)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.url = ""
        self.thread = threading.Thread(target=self._run, name="parlour-test-server", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # uvicorn exits (SystemExit) when it cannot bind
            self.error = exc
        finally:
            self.ready.set()

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        finally:
            if self.owned:
                await self.app.close()  # its timers and streams belong to this loop

    def _started(self) -> None:
        """Called on the server's thread once it listens: the port it got is known."""
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.ready.set()

    def start(self) -> str:
        self.thread.start()
        if not self.ready.wait(SERVER_START_TIMEOUT):
            self.stop()
            pytest.fail(
                f"{self.app!r} did not start serving within {SERVER_START_TIMEOUT:.0f} s",
                pytrace=False,
            )
        if not self.url:
            pytest.fail(f"{self.app!r} could not be served: {self.error!r}", pytrace=False)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_STOP_TIMEOUT)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(SERVER_STOP_TIMEOUT)


@functools.cache
def _server_class() -> type[Any]:
    """uvicorn's Server, telling when it listens (it has no event for it); made on first use
    so that loading this plugin does not import uvicorn."""
    import uvicorn

    class Server(uvicorn.Server):
        def __init__(self, config: uvicorn.Config, started: Callable[[], None]) -> None:
            super().__init__(config)
            self._on_started = started

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            self._on_started()

    return Server


class ServedApps:
    """The `parlour_server` fixture: `url = parlour_server(app)`, one server per app per test
    (the same app twice is the same server)."""

    def __init__(self, apps: _Apps) -> None:
        self._apps = apps
        self._servers: list[_Served] = []
        self._by_target: dict[int, _Served] = {}

    def __call__(self, app: object) -> str:
        if isinstance(app, str):
            app = _import(app)
        served = self._by_target.get(id(app))
        if served is None:
            built = len(self._apps.built)
            resolved = self._apps.resolve(app)
            served = _Served(resolved, owned=len(self._apps.built) > built)
            self._servers.append(served)
            self._by_target[id(app)] = served
            served.start()
        return served.url

    def stop(self) -> None:
        for served in reversed(self._servers):
            served.stop()
        stuck = [repr(s.app) for s in self._servers if s.thread.is_alive()]
        assert not stuck, f"these servers did not stop within {SERVER_STOP_TIMEOUT} s: {stuck}"


@pytest.fixture
def parlour_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedApps]:
    """`url = parlour_server(app)`: the app served on a free loopback port for this test;
    the server stops when the test ends (after the browser pages that used it close).

    The app runs on the server's own thread and event loop: reach it over HTTP or through a
    browser, not by calling it from the test."""
    _secret(monkeypatch)
    served = ServedApps(_Apps(tmp_path / "parlour-served"))
    yield served
    served.stop()


# -- the browser ---------------------------------------------------------------------------


def chromium_path(config: pytest.Config) -> str | None:
    """The Chromium to drive: `--parlour-chromium`, `PARLOUR_CHROMIUM`, /usr/bin/chromium when
    it exists, else None (Playwright's own build)."""
    chosen = cast(str | None, config.getoption("parlour_chromium")) or os.environ.get(CHROMIUM_ENV)
    if chosen:
        if not Path(chosen).is_file():
            pytest.fail(
                f"the Chromium to drive is {chosen!r} (from --parlour-chromium or "
                f"{CHROMIUM_ENV}), but there is no such file; point it at a Chromium "
                "executable (Debian: `apt-get install chromium`, then /usr/bin/chromium)",
                pytrace=False,
            )
        return chosen
    return str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.is_file() else None


@contextlib.asynccontextmanager
async def chromium(config: pytest.Config) -> AsyncGenerator[Browser]:
    """A headless Chromium (see `chromium_path`) for as long as the block runs: what the
    `parlour_chromium` fixture uses, for a conftest that wants its own browser fixture."""
    from playwright.async_api import Error, async_playwright

    path = chromium_path(config)
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=path, headless=True, args=list(CHROMIUM_ARGS)
            )
        except Error as exc:
            pytest.fail(
                f"Chromium could not be launched from {path or "Playwright's own build"}: "
                f"{exc.message.splitlines()[0]}\nPoint --parlour-chromium (or {CHROMIUM_ENV}) "
                "at a Chromium executable, or run `playwright install chromium`.",
                pytrace=False,
            )
        try:
            yield browser
        finally:
            await browser.close()


def _browser_scope(fixture_name: str, config: pytest.Config) -> Literal["session", "function"]:
    """One browser per session when tests and fixtures share the session's event loop,
    else one per test (a Playwright browser cannot be used from another loop)."""
    try:
        loops = (
            config.getini("asyncio_default_test_loop_scope"),
            config.getini("asyncio_default_fixture_loop_scope"),
        )
    except ValueError:  # pytest-asyncio is not installed
        return "function"
    return "session" if loops == ("session", "session") else "function"


@_async_fixture(scope=_browser_scope)
async def parlour_chromium(pytestconfig: pytest.Config) -> AsyncIterator[Browser]:
    """The headless Chromium the `parlour_browser` pages open in."""
    async with chromium(pytestconfig) as browser:
        yield browser


class BrowserPages:
    """The `parlour_browser` fixture: `page = await parlour_browser(app, path="/")`.

    Every page is in a fresh browser context (its own cookies: another user), 900x700.
    Uncaught page errors and console errors fail the test when it ends, except those
    containing a text given to `allow_console_error`."""

    def __init__(self, browser: Browser, server: ServedApps) -> None:
        self.browser = browser
        self.server = server
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []
        self.allowed: list[str] = []

    async def __call__(self, app: object, path: str = "/") -> BrowserPage:
        """A new page at `path` of `app` (served for this test), its update stream open."""
        return await self.open(self.server(app) + path)

    async def open(self, url: str) -> BrowserPage:
        """A new page at `url`, once its update stream has answered 200."""
        page = await self.new_page()
        async with page.expect_response(
            lambda r: "/_parlour/sse/" in r.url, timeout=STREAM_TIMEOUT_MS
        ) as stream:
            await page.goto(url)
        response = await stream.value
        assert response.status == 200, f"the update stream of {url} answered {response.status}"
        return page

    async def new_page(self) -> BrowserPage:
        """A blank page in a fresh context, its errors watched."""
        context = await self.browser.new_context(viewport={"width": 900, "height": 700})
        self.contexts.append(context)
        context.set_default_timeout(STREAM_TIMEOUT_MS)
        page = await context.new_page()
        label = f"page {len(self.contexts)}"
        page.on("pageerror", lambda exc: self.problems.append(f"{label} error: {exc}"))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not any(t in message.text for t in self.allowed):
                self.problems.append(f"{label} console error: {message.text}")

        page.on("console", on_console)
        return page

    def allow_console_error(self, text: str) -> None:
        """Console errors containing `text` are part of this test (a server it stopped on
        purpose cuts the stream, say) and do not fail it."""
        self.allowed.append(text)

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        assert not self.problems, "the page reported errors:\n" + "\n".join(self.problems)


@_async_fixture
async def parlour_browser(
    parlour_chromium: Browser, parlour_server: ServedApps
) -> AsyncIterator[BrowserPages]:
    """`page = await parlour_browser(app, path="/")`: a Playwright page of the app, served on
    a free loopback port, with its update stream connected."""
    pages = BrowserPages(parlour_chromium, parlour_server)
    yield pages
    await pages.close()
