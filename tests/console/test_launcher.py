"""The run launcher on the Agents page (R20), as a browser sees it: a real `Console` driven
in-process, each tab a `parlour.testing.Page`.

The page's target input and bundle select are bound to the page-global signals
`launch_target` and `launch_bundle`, which the Start button's POST carries (as Datastar
sends every non-underscore signal); the shared recent-target chips set `$launch_target`.
Nothing sleeps and then asserts: a test waits, bounded, for what it expects on the page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest

from parlour.console.app import Console
from parlour.console.figures import ENV_NAMES
from parlour.console.hub import Hub
from parlour.console.panels import js_string
from parlour.testing import AsgiClient, Document, Element, Page

WAIT = 2.0


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project directory (the console's working directory): targets live here."""
    root = tmp_path / "project"
    (root / "src" / "parlour").mkdir(parents=True)
    (root / "docs").mkdir()
    monkeypatch.chdir(root)
    return root


class OpenTab(Protocol):
    def __call__(self, path: str = "/", *, stream: bool = True) -> Awaitable[Page]: ...


@pytest.fixture
async def open_tab(console: Console, client: AsgiClient) -> AsyncIterator[OpenTab]:
    """Open a tab on the console (sharing the client's session), closed after the test."""
    tabs: list[Page] = []

    async def open_(path: str = "/", *, stream: bool = True) -> Page:
        page = Page(client, runtime=console.pages.runtime, timeout=WAIT)
        tabs.append(page)
        return await page.open(path, stream=stream)

    yield open_
    for page in tabs:
        await page.close()


def panel(markup: str) -> Element | None:
    """The first element of a patch's payload (the panel or row it morphs)."""
    children = Document(markup).body.children
    return children[0] if children else None


def is_panel(ident: str, text: str = "") -> Callable[[str], bool]:
    def check(markup: str) -> bool:
        top = panel(markup)
        return top is not None and top.id == ident and text in top.text

    return check


def has_notice(markup: str) -> bool:
    return Document(markup).query(".console-notice") is not None


def notice_of(markup: str) -> str:
    found = Document(markup).query(".console-notice")
    assert found is not None, f"no notice in:\n{markup[:2000]}"
    return found.text_content


async def read_until(page: Page, since: int, *checks: Callable[[str], bool]) -> list[str]:
    """The elements of the events applied `since` until each check has held for one."""

    def done(p: Page) -> bool:
        return all(any(check(e.elements) for e in p.events[since:]) for check in checks)

    await page.wait_for(done)
    return [e.elements for e in page.events[since:]]


async def notice(page: Page) -> str:
    """The page's notice line, once it shows one (the launch's answer comes from io)."""
    await page.wait_for(lambda p: p.all(".console-notice"))
    return page.query(".console-notice").text_content


async def launch(page: Page, target: str | None = None, bundle: str | None = None) -> None:
    """Type the target, choose the bundle, press Start."""
    if target is not None:
        await page.fill("input[name=target]", target)
    if bundle is not None:
        await page.fill("select[name=bundle]", bundle)
    response = await page.click("button", text="Start")
    assert response is not None
    assert response.status == 204, response.text


def chips_of(page: Page) -> list[tuple[str, str]]:
    """The recent-target chips: (their click expression, their label), as the browser reads
    them."""
    return [
        (str(chip.get("data-on:click")), chip.text)
        for chip in page.all("button.console-chip[type=button]")
    ]


# -- the form -----------------------------------------------------------------------------------


async def test_the_agents_page_has_a_launcher_above_the_progress(
    open_tab: OpenTab, hub: Hub
) -> None:
    page = await open_tab(stream=False)
    order = [e.id or "launcher card" for e in page.all(".parlour-card.console-launcher, #progress")]
    assert order == ["launcher card", "progress"]
    assert "data-bind:launch_target" in page.query("input[name=target]").attrs
    assert "data-bind:launch_bundle" in page.query("select[name=bundle]").attrs
    options = [(o.get("value"), o.get("selected") is not None) for o in page.all("option")]
    assert [name for name, _ in options] == list(hub.bundles) == ["full", "review", "release"]
    assert [name for name, selected in options if selected] == ["full"]  # the first, default
    assert page.actions("button.console-launch")  # Start posts `launch`
    launcher = page.query("#launcher")  # the shared chips, none yet
    assert (launcher.name, launcher.get("class")) == ("div", "console-chips")


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signals", "message"),
    [
        ({}, "target: expected a path inside the project, got ''"),
        ({"launch_target": "   "}, "target: expected a path inside the project, got '   '"),
        ({"launch_target": "../elsewhere"}, "target: '../elsewhere' is outside the project ("),
        ({"launch_target": "/etc"}, "target: '/etc' is outside the project ("),
        ({"launch_target": "nope"}, "target: 'nope' does not exist in the project"),
        (
            {"launch_target": "src", "launch_bundle": "nightly"},
            "bundle: unknown bundle 'nightly'; expected one of 'full', 'review', 'release'",
        ),
    ],
)
async def test_a_bad_launch_shows_why_in_the_notice_and_starts_nothing(
    open_tab: OpenTab, hub: Hub, signals: dict[str, Any], message: str
) -> None:
    page = await open_tab()
    await page.fill("input[name=target]", signals.get("launch_target", ""))
    if "launch_bundle" in signals:
        page.signals["launch_bundle"] = signals["launch_bundle"]  # no option offers it: forged
    await launch(page)
    shown = await notice(page)
    assert shown.startswith(message), shown
    assert hub.state.progress.state == "idle"
    assert hub.state.recent_targets == []


# -- a good launch ------------------------------------------------------------------------------


async def test_a_launch_shows_in_progress_and_in_the_recent_targets(
    open_tab: OpenTab, hub: Hub
) -> None:
    page, other = await open_tab(), await open_tab()
    since, watched = len(page.events), len(other.events)
    await launch(page, "src/parlour", "review")
    seen = await read_until(
        page,
        since,
        has_notice,
        is_panel("progress", "src/parlour"),
        is_panel("launcher", "src/parlour"),
    )
    # Every tab sees the run in progress, not only the one that started it.
    progress = next(
        e for e in await read_until(other, watched, is_panel("progress")) if is_panel("progress")(e)
    )
    assert notice_of(next(t for t in seen if has_notice(t))) == "Started src/parlour (3 agents)"
    shown = Document(progress).query("#progress")
    assert shown is not None
    assert "0/3 agents completed (0 failed)" in shown.text
    assert "src/parlour · 0 %" in shown.text
    assert shown.get("data-state") == "running"
    assert hub.state.recent_targets == ["src/parlour"]
    assert [e.topic for e in hub.state.log][:2] == ["run.started", "run.requested"]


async def test_the_default_bundle_is_the_first(open_tab: OpenTab, hub: Hub) -> None:
    page = await open_tab()
    await launch(page, "docs")
    shown = await notice(page)
    assert shown == f"Started docs ({len(hub.bundles['full'])} agents)"
    assert hub.state.progress.total == 12


async def test_the_launcher_keeps_what_was_typed_and_chosen(open_tab: OpenTab) -> None:
    page = await open_tab()
    await launch(page, "nope", "release")
    await notice(page)  # the answer re-renders the page, launcher and all
    assert page.attr("input[name=target]", "value") == "nope"
    assert page.query('select[name=bundle] option[value="release"]').get("selected") is not None


# -- the recent-target chips --------------------------------------------------------------------


async def test_recent_target_chips_fill_the_target_input(
    console: Console, open_tab: OpenTab, hub: Hub
) -> None:
    for target in ("src", "docs", "src/parlour", "src"):
        await hub.launch(target)
    console.pages.views.flush()
    page = await open_tab()
    assert [label for _, label in chips_of(page)] == ["src", "src/parlour", "docs"]
    assert [click for click, _ in chips_of(page)] == [
        '$launch_target = "src"',
        '$launch_target = "src/parlour"',
        '$launch_target = "docs"',
    ]
    await page.click("button.console-chip", text="docs")
    assert page.value("input[name=target]") == "docs"


async def test_a_chip_carries_any_target_as_an_inert_string(
    console: Console, open_tab: OpenTab, hub: Hub
) -> None:
    # run.requested may come from any producer (the API's POST /events): its target is
    # text, never code, in the chip's expression or its label.
    nasty = """x" + alert(1) + "$y @post('/z'); </button><script>alert(2)</script>"""
    await hub.publish("run.requested", "someone", {"target": nasty})
    console.pages.views.flush()
    page = await open_tab()
    assert page.response is not None
    assert "<script>alert(2)</script>" not in page.response.text
    [(expression, label)] = chips_of(page)
    assert label == nasty
    assert expression == f"$launch_target = {js_string(nasty)}"
    literal = expression.removeprefix("$launch_target = ")
    assert re.fullmatch(r'"(?:[A-Za-z0-9/._ -]|\\u[0-9a-f]{4})*"', literal)
    await page.click("button.console-chip")  # sets the signal to the text, runs nothing
    assert page.signals["launch_target"] == nasty
    assert page.scripts == []
