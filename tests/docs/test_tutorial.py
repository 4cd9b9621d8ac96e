"""Every code block of the tutorial (docs/tutorial/*.md) runs, and does what the text says.

A chapter's Python blocks are one file the reader saves (`counter.py`, `signup.py`, ...), so
they run in order as one module of that name; the testing chapter's tests import those
modules by name, as the reader's would, and are run here with the plugin's fixtures. Shell
blocks are not run: the commands they use must exist (a `parlour` subcommand, a `make`
target, a program on the PATH or in the virtualenv).
"""

from __future__ import annotations

import inspect
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import types
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parlour.testing import AsgiClient, Page
from parlour.testing.pytest_plugin import BrowserPages

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial"
CHAPTERS = {  # page -> the module its Python blocks make (the file the reader saves)
    "counter.md": "counter",
    "call-and-answer.md": "signup",
    "flow.md": "wizard",
    "dashboard.md": "dashboard",
    "testing.md": "tutorial_tests",
    "deploying.md": "deploy",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
OpenPage = Callable[..., Awaitable[Page]]


def blocks(page: str, language: str) -> list[str]:
    """The fenced blocks of `language` in the tutorial page, in order."""
    text = (TUTORIAL / page).read_text()
    return [code for lang, code in FENCE.findall(text) if lang == language]


def load(page: str) -> types.ModuleType:
    """Run the page's Python blocks in order as the module the reader would save."""
    module = types.ModuleType(CHAPTERS[page])
    module.__file__ = str(TUTORIAL / page)
    sys.modules[module.__name__] = module  # classes and flows register under its name
    for number, code in enumerate(blocks(page, "python"), 1):
        exec(compile(code, f"{page} (block {number})", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def chapters() -> Iterator[dict[str, types.ModuleType]]:
    """The modules of chapters 1-4, importable by name while this file's tests run."""
    modules = {page: load(page) for page in list(CHAPTERS)[:4]}
    yield modules
    for module in modules.values():
        sys.modules.pop(module.__name__, None)


def test_the_tutorial_has_every_chapter_and_only_those() -> None:
    assert {p.name for p in TUTORIAL.glob("*.md")} == {*CHAPTERS, "index.md"}
    assert blocks("index.md", "python") == []


@pytest.mark.parametrize("page", list(CHAPTERS)[:4])
def test_every_python_block_of_a_chapter_runs(
    page: str, chapters: dict[str, types.ModuleType]
) -> None:
    assert blocks(page, "python"), f"{page} has no Python block"
    assert chapters[page].app is not None


# -- 1. A counter ---------------------------------------------------------------------------


async def test_counter_plus_shows_1_and_minus_twice_shows_minus_1(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    counter = chapters["counter.md"]
    page = await parlour_page(counter.app)
    assert [b.text for b in page.all("button")] == ["-", "+"]
    assert page.text(".count") == "0"
    await page.click("button", text="+")
    assert page.text(".count") == "1"
    await page.click("button", text="-")
    await page.click("button", text="-")
    assert page.text(".count") == "-1"


async def test_a_linked_counter_opens_at_the_links_count_and_follows_clicks(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    counter = chapters["counter.md"]
    page = await parlour_page(counter.linked, "/?n=3")
    assert page.text(".count") == "3"
    await page.click("button", text="+")
    assert page.text(".count") == "4"
    assert "?n=4" in page.scripts[-1]  # the address bar's new URL
    bad = await parlour_page(counter.linked, "/?n=x")
    assert bad.text(".count") == "0"


# -- 2. Call and answer, 3. A flow ----------------------------------------------------------


async def sign_up(page: Page, name: str, plan: str, yes: str) -> None:
    await page.click("button", text="Sign up")
    await page.fill("input", name)
    await page.click("button", text="OK")
    await page.click("button", text=plan)
    await page.click("button", text=yes)


@pytest.mark.parametrize("page_name", ["call-and-answer.md", "flow.md"])
async def test_sign_up_welcomes_ada_on_yes_and_cancels_on_no(
    page_name: str, chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    app = chapters[page_name].app
    page = await parlour_page(app)
    await sign_up(page, "Ada", "pro", "Yes")
    assert page.text(".outcome") == "Welcome, Ada (pro)"
    page = await parlour_page(app)
    await sign_up(page, "Ada", "pro", "No")
    assert page.text(".outcome") == "Cancelled"


async def test_sign_up_keeps_the_answers_when_back_is_pressed(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    page = await parlour_page(chapters["call-and-answer.md"].app)
    await page.click("button", text="Sign up")
    await page.fill("input", "Ada")
    await page.click("button", text="OK")
    await page.click("button", text="Back")
    assert page.value("input") == "Ada"


async def test_the_painter_calls_the_colour_picker_and_resumes_with_green(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    page = await parlour_page(chapters["call-and-answer.md"].painter)
    assert page.text(".colour") == "Colour: none yet"
    await page.click("button", text="Change colour")
    assert [b.text for b in page.all("button")] == ["red", "green", "blue"]
    await page.click("button", text="green")
    assert page.text(".colour") == "Colour: green"


# -- 4. A live dashboard --------------------------------------------------------------------


async def test_the_dashboard_shows_an_order_in_every_tab(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    dashboard = chapters["dashboard.md"]
    first, second = await parlour_page(dashboard.app), await parlour_page(dashboard.app)
    await dashboard.place("tea", 2.5)
    for page in (first, second):
        await page.wait_for(lambda p: p.text(".orders") == "orders: 1")
        assert page.text(".total") == "total: 2.50"
        assert page.text(".recent li") == "tea from shop"
    await first.click("button", text="Place a test order")
    for page in (first, second):
        await page.wait_for(lambda p: p.text(".orders") == "orders: 2")


async def test_the_wall_is_one_shared_view_every_tab_sees_change(
    chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    dashboard = chapters["dashboard.md"]
    before = dashboard.totals.orders
    tabs = [await parlour_page(dashboard.wall) for _ in range(2)]
    if before == 0:
        assert all(t.text("#totals") == "0 orders, 0.00 in total" for t in tabs)
    dashboard.record("tea", 2.5)
    expected = f"{before + 1} orders, {dashboard.totals.total:.2f} in total"
    for tab in tabs:
        await tab.wait_for(lambda p: p.text("#totals") == expected)


# -- 5. Testing -----------------------------------------------------------------------------


def chapter_tests(fixture: str | None) -> list[str]:
    """The names of the testing chapter's tests that take `fixture` (None: no argument)."""
    code = "\n".join(blocks("testing.md", "python"))
    found = re.findall(r"^(?:async )?def (test_\w+)\(([^)]*)\)", code, re.MULTILINE)
    assert found, "the testing chapter defines no test"
    return [name for name, params in found if (params.strip() or None) == fixture]


async def run_chapter_test(name: str, **fixtures: Any) -> None:
    module = load("testing.md")
    try:
        outcome = getattr(module, name)(**fixtures)
        if inspect.isawaitable(outcome):
            await outcome
    finally:
        sys.modules.pop(module.__name__, None)


@pytest.mark.parametrize("name", chapter_tests(None))
async def test_the_testing_chapters_plain_tests_pass(
    name: str, chapters: dict[str, types.ModuleType]
) -> None:
    await run_chapter_test(name)


@pytest.mark.parametrize("name", chapter_tests("parlour_page"))
async def test_the_testing_chapters_in_process_tests_pass(
    name: str, chapters: dict[str, types.ModuleType], parlour_page: OpenPage
) -> None:
    await run_chapter_test(name, parlour_page=parlour_page)


@pytest.mark.browser
@pytest.mark.parametrize("name", chapter_tests("parlour_browser"))
async def test_the_testing_chapters_browser_tests_pass(
    name: str, chapters: dict[str, types.ModuleType], parlour_browser: BrowserPages
) -> None:
    await run_chapter_test(name, parlour_browser=parlour_browser)


def test_the_testing_chapter_has_tests_of_every_kind() -> None:
    assert all(chapter_tests(f) for f in (None, "parlour_page", "parlour_browser"))


# -- 6. Deploying ---------------------------------------------------------------------------


async def test_a_mounted_app_serves_its_page_beside_the_sites_routes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the chapter's store path is relative
    monkeypatch.setenv("PARLOUR_SECRET", "tutorial-test-secret")
    fresh = load("dashboard.md")  # its app must not have served yet: use_store is before
    try:
        deploy = load("deploying.md")
        client = AsgiClient(deploy.site)
        health = await client.get("/health")
        assert (health.status, health.text) == (200, "ok")
        async with Page(client, runtime=fresh.app.runtime) as page:
            await page.open("/orders/")
            assert page.stream_url is not None
            assert page.stream_url.startswith("/orders/_parlour/sse/")
            assert page.text(".orders") == "orders: 0"
            await page.click("button", text="Place a test order")
            await page.wait_for(lambda p: p.text(".orders") == "orders: 1")
        assert (tmp_path / ".parlour" / "orders.sqlite").exists()
        refused = await AsgiClient(deploy.site).get(
            "/orders/", headers={"host": "elsewhere.example"}
        )
        assert refused.status == 400
    finally:
        await fresh.app.close()
        sys.modules.pop("deploy", None)
        sys.modules.pop("dashboard", None)


# -- the shell blocks -----------------------------------------------------------------------


def commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for page in [*CHAPTERS, "index.md"]:
        for code in blocks(page, "sh"):
            for line in code.splitlines():
                command = line.split("#", 1)[0].strip()
                if command:
                    found.append((page, command))
    return found


@pytest.fixture(scope="module")
def parlour_help() -> str:
    parlour = str(Path(sys.executable).with_name("parlour"))
    return subprocess.run(
        [parlour, "--help"], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.mark.parametrize(("page", "command"), commands())
def test_every_shell_command_of_the_tutorial_exists(
    page: str, command: str, parlour_help: str
) -> None:
    words = [w for w in shlex.split(command) if not re.match(r"^[A-Z_]+=", w)]
    program, rest = words[0], words[1:]
    if program == "make":
        makefile = (REPO / "Makefile").read_text()
        for target in rest:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), (
                f"{page}: `{command}`: the Makefile has no target {target!r}"
            )
    elif program == "parlour":
        assert re.search(rf"^\s+{rest[0]}\b", parlour_help, re.MULTILINE), (
            f"{page}: `{command}`: parlour has no subcommand {rest[0]!r}:\n{parlour_help}"
        )
    else:
        venv = Path(sys.executable).parent
        assert (venv / program).exists() or shutil.which(program), (
            f"{page}: `{command}`: {program!r} is neither in {venv} nor on the PATH"
        )


def test_the_pytest_configuration_the_tutorial_shows_is_the_one_parlour_tests_with() -> None:
    [shown] = [tomllib.loads(code) for code in blocks("testing.md", "toml")]
    ours = tomllib.loads((REPO / "pyproject.toml").read_text())
    options = shown["tool"]["pytest"]["ini_options"]
    assert options == {k: ours["tool"]["pytest"]["ini_options"][k] for k in options}
