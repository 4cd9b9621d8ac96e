"""The run launcher on the Agents page (R20), as a browser sees it: a real `Console` driven
in-process over HTTP and SSE.

The page's target input and bundle select are bound to the page-global signals
`launch_target` and `launch_bundle`, which the Start button's POST carries (as Datastar
sends every non-underscore signal); the shared recent-target chips set `$launch_target`.
Nothing sleeps and then asserts: a test waits, bounded, for the SSE event it expects.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parlour.console.app import Console
from parlour.console.figures import ENV_NAMES
from parlour.console.hub import Hub
from parlour.console.panels import js_string
from parlour.testing import AsgiClient, SseStream

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


@dataclass
class Page:
    cid: str
    raw: str
    html: str
    """Entities decoded: attribute values as the browser reads them."""

    @property
    def launch_url(self) -> str:
        url = rf"/_parlour/event/{re.escape(self.cid)}/[^/]+/launch"
        match = re.search(rf"@post\('({url})'", self.html)
        assert match is not None, "no Start button posting `launch` on the page"
        return match.group(1)


async def open_page(client: AsgiClient, path: str = "/") -> Page:
    response = await client.get(path)
    assert response.status == 200, response.text
    text = html.unescape(response.text)
    match = re.search(r"@get\(['\"][^'\"]*/sse/([^'\"]+)['\"]", text)
    assert match is not None, "no SSE URL in the shell"
    return Page(match.group(1), response.text, text)


async def until(sse: SseStream, predicate: Callable[[str], bool]) -> str:
    """The elements of the first event that satisfies `predicate` (bounded by WAIT)."""
    async with asyncio.timeout(WAIT):
        while True:
            elements = (await sse.next_event(WAIT)).elements
            if predicate(elements):
                return elements


async def read_until(sse: SseStream, *checks: Callable[[str], bool]) -> list[str]:
    """Every event's elements until each check has held for one of them."""
    seen: list[str] = []
    async with asyncio.timeout(WAIT):
        while not all(any(check(e) for e in seen) for check in checks):
            seen.append((await sse.next_event(WAIT)).elements)
    return seen


def has_notice(markup: str) -> bool:
    return 'class="console-notice"' in markup


def notice_of(markup: str) -> str:
    match = re.search(r'<div class="console-notice" role="status">(.*?)</div>', markup, re.S)
    assert match is not None, f"no notice in:\n{markup[:2000]}"
    return html.unescape(match.group(1))


async def launch(client: AsgiClient, page: Page, **signals: Any) -> None:
    response = await client.post(page.launch_url, json=signals)
    assert response.status == 204, response.text


def chips_of(page: Page) -> list[tuple[str, str]]:
    """The recent-target chips: (their click expression, their label), as the browser reads
    them."""
    chips = re.findall(
        r'<button class="console-chip" data-on:click="([^"]*)" type="button"[^>]*>([^<]*)</button>',
        page.raw,
    )
    return [(html.unescape(click), html.unescape(label)) for click, label in chips]


def sse_path(page: Page) -> str:
    return f"/_parlour/sse/{page.cid}"


# -- the form -----------------------------------------------------------------------------------


async def test_the_agents_page_has_a_launcher_above_the_progress(
    client: AsgiClient, hub: Hub
) -> None:
    page = await open_page(client)
    text = page.html
    assert text.index('class="parlour-card console-launcher"') < text.index('id="progress"')
    assert "data-bind:launch_target" in text
    assert "data-bind:launch_bundle" in text
    options = re.findall(r'<option value="([^"]+)"( selected)?>', text)
    assert [name for name, _ in options] == list(hub.bundles) == ["full", "review", "release"]
    assert [name for name, selected in options if selected] == ["full"]  # the first, default
    assert page.launch_url
    assert '<div id="launcher" class="console-chips"' in text  # the shared chips, none yet


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
    client: AsgiClient, hub: Hub, signals: dict[str, Any], message: str
) -> None:
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await launch(client, page, **signals)
        notice = notice_of(await until(sse, has_notice))
    assert notice.startswith(message), notice
    assert hub.state.progress.state == "idle"
    assert hub.state.recent_targets == []


# -- a good launch ------------------------------------------------------------------------------


async def test_a_launch_shows_in_progress_and_in_the_recent_targets(
    client: AsgiClient, hub: Hub
) -> None:
    page = await open_page(client)
    other = await open_page(client)
    async with client.stream(sse_path(page)) as sse, client.stream(sse_path(other)) as watcher:
        await sse.next_event(WAIT)
        await watcher.next_event(WAIT)
        await launch(client, page, launch_target="src/parlour", launch_bundle="review")
        seen = await read_until(
            sse,
            has_notice,
            lambda t: t.startswith('<section id="progress"') and "src/parlour" in t,
            lambda t: t.startswith('<div id="launcher"') and "src/parlour" in t,
        )
        # Every tab sees the run in progress, not only the one that started it.
        progress = await until(watcher, lambda t: t.startswith('<section id="progress"'))
    assert notice_of(next(t for t in seen if has_notice(t))) == "Started src/parlour (3 agents)"
    assert "0/3 agents completed (0 failed)" in progress
    assert "src/parlour · 0 %" in html.unescape(progress)
    assert 'data-state="running"' in progress
    assert hub.state.recent_targets == ["src/parlour"]
    assert [e.topic for e in hub.state.log][:2] == ["run.started", "run.requested"]


async def test_the_default_bundle_is_the_first(client: AsgiClient, hub: Hub) -> None:
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await launch(client, page, launch_target="docs")
        notice = notice_of(await until(sse, has_notice))
    assert notice == f"Started docs ({len(hub.bundles['full'])} agents)"
    assert hub.state.progress.total == 12


async def test_the_launcher_keeps_what_was_typed_and_chosen(client: AsgiClient) -> None:
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await launch(client, page, launch_target="nope", launch_bundle="release")
        patched = html.unescape(await until(sse, has_notice))
    assert 'name="target" value="nope"' in patched
    assert re.search(r'<option value="release" selected>', patched)


# -- the recent-target chips --------------------------------------------------------------------


async def test_recent_target_chips_fill_the_target_input(
    console: Console, client: AsgiClient, hub: Hub
) -> None:
    for target in ("src", "docs", "src/parlour", "src"):
        await hub.launch(target)
    console.pages.views.flush()
    page = await open_page(client)
    assert [label for _, label in chips_of(page)] == ["src", "src/parlour", "docs"]
    assert [click for click, _ in chips_of(page)] == [
        '$launch_target = "src"',
        '$launch_target = "src/parlour"',
        '$launch_target = "docs"',
    ]


async def test_a_chip_carries_any_target_as_an_inert_string(
    console: Console, client: AsgiClient, hub: Hub
) -> None:
    # run.requested may come from any producer (the API's POST /events): its target is
    # text, never code, in the chip's expression or its label.
    nasty = """x" + alert(1) + "$y @post('/z'); </button><script>alert(2)</script>"""
    await hub.publish("run.requested", "someone", {"target": nasty})
    console.pages.views.flush()
    page = await open_page(client)
    assert "<script>alert(2)</script>" not in page.raw
    [(expression, label)] = chips_of(page)
    assert label == nasty
    assert expression == f"$launch_target = {js_string(nasty)}"
    literal = expression.removeprefix("$launch_target = ")
    assert re.fullmatch(r'"(?:[A-Za-z0-9/._ -]|\\u[0-9a-f]{4})*"', literal)
