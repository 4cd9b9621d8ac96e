"""The console's pages as a browser sees them: the Agents, Status and Config pages served by a
real `Console`, driven in-process over HTTP and SSE, checked against the requirements R1-R26
of the dashboard reference (../shared/reference/dashboards-remora-infra.md §7).

Nothing here sleeps and then asserts: a test either flushes the shared views itself
(`console.pages.views.flush()`, what the window's timer does) or waits, with a bounded
timeout, for the SSE event it expects.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest

from parlour.console import panels
from parlour.console.app import Console
from parlour.console.figures import ENV_NAMES
from parlour.console.hub import Hub
from parlour.testing import AsgiClient, SseEvent, SseStream

WAIT = 2.0
"""How long a test waits for an SSE event it expects (bounded, never slept)."""
QUIET = 0.3
"""How long a stream must stay silent for a test to conclude nothing more is coming."""


# -- fixtures -----------------------------------------------------------------------------------


# -- helpers ------------------------------------------------------------------------------------


@dataclass
class Page:
    """A console page as the browser got it."""

    cid: str
    raw: str
    """The HTML as sent (entities escaped)."""
    html: str
    """The HTML with entities decoded (attribute values as the browser reads them)."""

    @property
    def answer_url(self) -> str:
        """Where the page's question cards post (its `_answer` signal)."""
        match = re.search(r'"_answer": "([^"]+)"', self.html)
        assert match is not None, "no _answer signal on the page"
        return match.group(1)

    @property
    def iid(self) -> str:
        match = re.search(rf"/event/{re.escape(self.cid)}/([^/]+)/answer$", self.answer_url)
        assert match is not None, self.answer_url
        return match.group(1)

    def action(self, event: str, payload: Any = None) -> str:
        """The URL a control of the page posts for `event` (with its `?p=` payload)."""
        url = f"/_parlour/event/{self.cid}/{self.iid}/{event}"
        if payload is not None:
            url += "?p=" + quote(json.dumps(payload, separators=(",", ":")), safe="")
        assert f"@post('{url}'" in self.html, f"no control posts {url} on the page"
        return url

    def answer(self, qid: str, answer: str) -> str:
        """What a question card's Send posts: `$_answer` + `?p=` {id, answer}."""
        payload = json.dumps({"id": qid, "answer": answer})
        return f"{self.answer_url}?p={quote(payload, safe='')}"

    def signal(self, field: str) -> str:
        """The name of the instance-local signal an input of `field` is bound to."""
        match = re.search(rf"data-bind:({re.escape(field)}-[a-z0-9-]+)__case", self.html)
        assert match is not None, f"no input bound to {field!r}"
        return match.group(1)


async def open_page(client: AsgiClient, path: str = "/") -> Page:
    response = await client.get(path)
    assert response.status == 200, response.text
    text = html.unescape(response.text)
    match = re.search(r"@get\(['\"][^'\"]*/sse/([^'\"]+)['\"]", text)
    assert match is not None, f"no SSE URL in the shell:\n{text[:2000]}"
    return Page(match.group(1), response.text, text)


def sse_path(page: Page) -> str:
    return f"/_parlour/sse/{page.cid}"


async def collect(
    sse: SseStream, done: Callable[[list[SseEvent]], bool], timeout: float = WAIT
) -> list[SseEvent]:
    """The events that arrive until `done(events so far)` holds (TimeoutError otherwise)."""
    events: list[SseEvent] = []
    async with asyncio.timeout(timeout):
        while not done(events):
            events.append(await sse.next_event(timeout))
    return events


async def until(sse: SseStream, predicate: Callable[[str], bool]) -> str:
    """The elements (HTML as sent) of the first event whose elements satisfy `predicate`."""
    events = await collect(sse, lambda evs: bool(evs) and predicate(evs[-1].elements))
    return events[-1].elements


async def read_until(sse: SseStream, *checks: Callable[[str], bool]) -> list[str]:
    """The elements of the events that arrive until each check has held for one of them
    (a batch may carry them in any order, or one event may satisfy several)."""
    events = await collect(
        sse, lambda evs: all(any(check(e.elements) for e in evs) for check in checks)
    )
    return [e.elements for e in events]


def last(events: list[str], check: Callable[[str], bool]) -> str:
    return [e for e in events if check(e)][-1]


def has_notice(markup: str) -> bool:
    return 'class="console-notice"' in markup


def notice_of(markup: str) -> str:
    """The page's notice line (after an answer, a save, a clear), as text."""
    match = re.search(r'<div class="console-notice" role="status">(.*?)</div>', markup, re.S)
    assert match is not None, f"no notice in:\n{markup[:2000]}"
    return html.unescape(match.group(1))


async def silence(sse: SseStream) -> list[SseEvent]:
    """Whatever arrives until the stream has been silent for QUIET seconds."""
    events: list[SseEvent] = []
    while True:
        try:
            events.append(await sse.next_event(QUIET))
        except TimeoutError:
            return events


def ids_in(markup: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', markup)


class _Finder(HTMLParser):
    """Finds one element by id and keeps its start offset and the text inside it."""

    def __init__(self, ident: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ident = ident
        self.depth = 0
        self.tag = ""
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if self.depth:
            self.found.append((tag, dict(attrs)))
            if tag == self.tag:
                self.depth += 1
        elif dict(attrs).get("id") == self.ident:
            self.tag, self.depth = tag, 1
            self.found.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == self.tag:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.texts.append(data)


def element(markup: str, ident: str) -> _Finder:
    """The element `#ident` in `markup`: its tags with attributes, and its text."""
    finder = _Finder(ident)
    finder.feed(markup)
    assert finder.found, f"no element #{ident} in:\n{markup[:2000]}"
    return finder


def inner_text(markup: str, ident: str) -> str:
    return " ".join(" ".join(element(markup, ident).texts).split())


KEYED = {"agents": "agent-", "questions": "question-", "log": "log-", "services": "service-"}
"""The keyed lists of the pages, with the id prefix of their items."""

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _Children(HTMLParser):
    """The ids of the top-level elements of a piece of HTML, and of each id'd element's
    direct children with ids, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str | None] = []
        self.top: list[str] = []
        self.children: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id")
        if ident:
            if not self.open:
                self.top.append(ident)
            elif self.open[-1] is not None:
                self.children[self.open[-1]].append(ident)
            self.children.setdefault(ident, [])
        if tag not in _VOID:
            self.open.append(ident)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.open:
            self.open.pop()


def children(markup: str) -> _Children:
    parser = _Children()
    parser.feed(markup)
    parser.close()
    return parser


def selected_ids(selector: str | None) -> list[str]:
    """The ids of a selector such as `#a, #b` (the only selectors the views send)."""
    assert selector, "a patch without a selector"
    parts = [part.strip() for part in selector.split(",")]
    assert all(re.fullmatch(r"#[^\s#.,]+", part) for part in parts), selector
    return [part[1:] for part in parts]


class Lists:
    """The items (ids, in order) of the keyed lists a tab shows, kept as Datastar applies the
    stream's patches: an element morphed by id replaces its list's items when it is the list
    (or holds it, as the first render does), `prepend` inserts the new items at the front of
    the selected container, `remove` drops the selected elements."""

    def __init__(self, first: SseEvent) -> None:
        self.items: dict[str, list[str]] = {}
        self.apply(first)

    def apply(self, event: SseEvent) -> None:
        if event.type != "datastar-patch-elements":
            return
        if event.mode == "remove":
            assert not event.elements, "a remove carries no elements"
            for ident in selected_ids(event.selector):
                holders = [name for name, items in self.items.items() if ident in items]
                assert holders, f"a remove of #{ident}, which the page does not show"
                self.items[holders[0]].remove(ident)
        elif event.mode == "prepend":
            (container,) = selected_ids(event.selector)
            assert container in self.items, f"a prepend into #{container}, not on the page"
            new = children(event.elements).top
            assert new, "a prepend without items"
            assert all(i.startswith(KEYED[container]) for i in new), new
            shown = set(self.items[container])
            assert not shown & set(new), f"{shown & set(new)} would be shown twice"
            self.items[container][:0] = new
        else:
            # `outer` morphs elements by id; `inner` (the first render) fills `#root`.
            assert event.mode == "outer" or (event.mode == "inner" and event.selector), (
                f"unexpected mode {event.mode!r} (selector {event.selector!r})"
            )
            found = children(event.elements)
            for name in KEYED:
                if name in found.children:
                    self.items[name] = list(found.children[name])
            for ident in found.top:
                for name, prefix in KEYED.items():
                    if ident.startswith(prefix) and name not in found.children:
                        assert ident in self.items.get(name, []), (
                            f"a patch for #{ident}, which the page does not show"
                        )


async def follow(
    sse: SseStream, lists: Lists, done: Callable[[list[SseEvent]], bool]
) -> list[SseEvent]:
    """The events that arrive, each applied to `lists`, until `done(events so far)` holds."""

    def applied(events: list[SseEvent]) -> bool:
        if events:
            lists.apply(events[-1])
        return done(events)

    return await collect(sse, applied)


def items_of(markup: str, container: str) -> list[str]:
    """The item ids of the list `#container` in `markup` (a server-side render)."""
    return children(markup).children[container]


async def settle(console: Console) -> None:
    """Render now what the window's timer would render a moment later."""
    console.pages.views.flush()


# -- R1: snapshot on connect ------------------------------------------------------------------


async def test_the_first_event_of_a_stream_is_a_full_render_with_what_happened_before(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R1
    await hub.publish("run.started", "", {"total": 2})
    await hub.publish("agent.started", "alpha", {"task": "index the repo"})
    await hub.publish("agent.completed", "beta", {"summary": "wrote the report"})
    question = await hub.ask("alpha", "Ship it?", options=["yes", "no"])
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        first = await sse.next_event(WAIT)
    assert first.type == "datastar-patch-elements"
    assert first.selector == "#root"
    snapshot = first.elements
    assert 'id="agent-alpha"' in snapshot
    assert f'id="question-{question.id}"' in snapshot
    assert "Ship it?" in snapshot
    assert "wrote the report" in inner_text(snapshot, "results")
    assert "1/2 agents completed (0 failed)" in inner_text(snapshot, "progress")


async def test_a_reconnecting_stream_gets_the_identical_render_without_duplicate_rows(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R1
    await hub.publish("agent.started", "alpha", {"task": "index"})
    question = await hub.ask("alpha", "Ship it?")
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        first = (await sse.next_event(WAIT)).elements
    async with client.stream(sse_path(page)) as sse:
        again = (await sse.next_event(WAIT)).elements
    assert again == first
    assert ids_in(again).count("agent-alpha") == 1
    assert ids_in(again).count(f"question-{question.id}") == 1


# -- R2: incremental morphs -------------------------------------------------------------------


async def test_one_completed_agent_patches_its_row_and_the_progress_but_not_the_other_rows(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R2
    await hub.publish("run.started", "", {"total": 3})
    for name in ("alpha", "beta", "gamma"):
        await hub.publish("agent.started", name, {"task": f"task of {name}"})
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        lists = Lists(await sse.next_event(WAIT))
        logged = list(lists.items["log"])
        assert len(logged) == 4  # run.started and three agent.started
        completed = await hub.publish("agent.completed", "beta", {"summary": "done"})
        entry = f"log-{completed.id}"
        events = await follow(
            sse,
            lists,
            lambda evs: (
                {"agent-beta", "progress", entry} <= {i for e in evs for i in ids_in(e.elements)}
            ),
        )
    morphed = [e for e in events if e.mode == "outer"]
    sent = [i for e in morphed for i in ids_in(e.elements)]
    assert "agent-beta" in sent
    assert "progress" in sent
    assert "agent-alpha" not in sent
    assert "agent-gamma" not in sent
    assert "agents" not in sent  # only the changed item, not the whole list
    assert "log" not in sent  # nor the whole log
    assert all(e.selector is None for e in morphed)  # each morphed into the page by its id
    # The log gets the new entry alone, put in front of the entries the page shows.
    prepended = [e for e in events if e.mode != "outer"]
    assert [(e.mode, e.selector) for e in prepended] == [("prepend", "#log")]
    assert ids_in(prepended[0].elements) == [entry]
    assert "@beta" in inner_text(prepended[0].elements, entry)
    for old in logged:
        assert f'id="{old}"' not in prepended[0].elements
    assert lists.items["log"] == [entry, *logged]
    assert lists.items["log"] == items_of(console.pages.views.html("log"), "log")


# -- R3: throttle and coalesce ----------------------------------------------------------------


async def test_a_burst_of_70_events_reaches_a_stream_as_a_few_patches_reflecting_all_70(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R3
    await hub.publish("run.started", "", {"total": 70})
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        lists = Lists(await sse.next_event(WAIT))
        logged = list(lists.items["log"])
        published = await asyncio.gather(
            *(
                hub.publish("agent.completed", f"agent-{n:02d}", {"summary": f"result {n}"})
                for n in range(70)
            )
        )
        last = published[-1]
        newest = f"log-{last.id}"
        events = await follow(
            sse,
            lists,
            lambda evs: (
                any("70/70 agents completed" in e.elements for e in evs)
                and any(f'id="{newest}"' in e.elements for e in evs)
            ),
        )
    progress = [e.elements for e in events if "progress" in ids_in(e.elements)[:1]]
    logs = [e for e in events if e.selector == "#log"]
    assert 1 <= len(progress) <= 3
    assert 1 <= len(logs) <= 3
    assert all(e.mode == "prepend" for e in logs)  # the log grew at the front only
    assert not any("log" in ids_in(e.elements)[:1] for e in events)  # never resent whole
    assert "70/70 agents completed (0 failed)" in inner_text(progress[-1], "progress")
    assert ids_in(logs[-1].elements)[0] == newest  # newest entry first: the 70th
    assert "@agent-69" in inner_text(logs[-1].elements, newest)
    # The page's log: the 70 new entries, newest first, in front of the one it showed.
    shown = lists.items["log"]
    assert shown[0] == newest
    assert sorted(shown[:70]) == sorted(f"log-{e.id}" for e in published)
    assert shown[70:] == logged
    assert shown == items_of(console.pages.views.html("log"), "log")


# -- R5 / R7: fan-out and clean teardown -------------------------------------------------------


async def test_two_streams_both_receive_a_view_update(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R5
    first, second = await open_page(client), await open_page(client)
    async with client.stream(sse_path(first)) as a, client.stream(sse_path(second)) as b:
        await a.next_event(WAIT)
        await b.next_event(WAIT)
        await hub.publish("agent.started", "alpha", {"task": "index"})
        seen_a = await until(a, lambda t: 'id="agent-alpha"' in t)
        seen_b = await until(b, lambda t: 'id="agent-alpha"' in t)
    assert seen_a == seen_b


async def test_closing_a_stream_gives_back_its_connection(
    console: Console, client: AsgiClient
) -> None:
    # R7
    runtime = console.pages.runtime
    before = runtime.connection_count
    first, second = await open_page(client), await open_page(client)
    async with client.stream(sse_path(first)) as a:
        await a.next_event(WAIT)
        async with client.stream(sse_path(second)) as b:
            await b.next_event(WAIT)
            assert runtime.connection_count == before + 2
        assert runtime.connection_count == before + 1
    assert runtime.connection_count == before


async def test_an_ended_conversation_no_longer_views_the_shared_panels(
    console: Console, client: AsgiClient
) -> None:
    # R7
    runtime = console.pages.runtime
    first, second = await open_page(client), await open_page(client)
    assert runtime.viewer_count("agents") == 2
    await runtime.end(first.cid)
    assert runtime.viewer_count("agents") == 1
    await runtime.end(second.cid)
    assert runtime.viewer_count("agents") == 0


# -- R6: no consumer, no loss -----------------------------------------------------------------


async def test_events_without_a_browser_are_in_the_next_first_render_and_not_replayed(
    console: Console, client: AsgiClient
) -> None:
    # R6
    for n in range(5):
        response = await client.post(
            "/api/events",
            json={
                "topic": "agent.completed",
                "source": f"worker-{n}",
                "payload": {"summary": "ok"},
            },
        )
        assert response.status == 202, response.text
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        first = (await sse.next_event(WAIT)).elements
        burst = await silence(sse)
    assert all(f'id="agent-worker-{n}"' in first for n in range(5))
    assert burst == []


# -- R8: stable, byte-identical renders -------------------------------------------------------


async def test_a_view_re_rendered_without_a_change_is_byte_identical(
    console: Console, hub: Hub
) -> None:
    # R8
    await hub.publish("agent.started", "zeta", {"task": "z"})
    await hub.publish("agent.started", "alpha", {"task": "a"})
    await hub.ask("alpha", "Proceed?")
    await settle(console)
    views = console.pages.views
    before = {name: views.html(name) for name in panels.PANELS}
    views.invalidate(*panels.PANELS)
    views.flush()
    assert {name: views.html(name) for name in panels.PANELS} == before
    assert ids_in(before["agents"]) == ["agents", "agent-alpha", "agent-zeta"]  # by name


async def test_panels_render_the_same_state_to_the_same_bytes(hub: Hub) -> None:
    # R8
    await hub.publish("run.started", "", {"total": 2})
    await hub.publish("agent.completed", "alpha", {"summary": "done"})
    await hub.publish("service.status", "db", {"id": "db", "name": "db", "status": "Running"})
    await hub.ask("beta", "Which region?", options=["eu", "us"])
    state = hub.state

    def render() -> list[str]:
        return [
            str(panels.progress(state)),
            str(panels.agents_container([node for _, node in panels.agents_items(state)])),
            str(panels.questions_container([node for _, node in panels.questions_items(state)])),
            str(panels.results(state)),
            str(panels.log_container([node for _, node in panels.log_items(state)])),
            str(panels.services_container([node for _, node in panels.services_items(state)])),
        ]

    assert render() == render()


# -- R11: the event log -----------------------------------------------------------------------


async def test_the_log_lists_newest_first_with_its_kind(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R11
    first = await hub.publish("agent.started", "alpha", {"task": "index"})
    second = await hub.publish("tool.call", "alpha", {"message": "grep"})
    third = await hub.publish("run.completed", "", {})
    await settle(console)
    page = await open_page(client)
    entries = [(tag, attrs) for tag, attrs in element(page.raw, "log").found if tag == "li"]
    assert [attrs["id"] for _, attrs in entries] == [
        f"log-{third.id}",
        f"log-{second.id}",
        f"log-{first.id}",
    ]
    assert [attrs["data-kind"] for _, attrs in entries] == ["run", "tool", "agent"]
    assert "agent:started" in inner_text(page.raw, f"log-{first.id}")
    assert "@alpha" in inner_text(page.raw, f"log-{first.id}")


def hidden_kinds(markup: str) -> set[str]:
    style = re.search(r"<style>(.*?)</style>", markup, re.S)
    assert style is not None, "no <style> rule for the log on the page"
    return set(re.findall(r"#log \[data-kind=(\w+)\] \{ display: none; \}", style.group(1)))


async def test_tool_and_model_events_are_hidden_by_default_and_a_toggle_shows_them(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R11
    await hub.publish("tool.call", "alpha", {"message": "grep"})
    await settle(console)
    page = await open_page(client)
    assert hidden_kinds(page.html) == {"tool", "model"}
    tool_entries = [a for _, a in element(page.raw, "log").found if a.get("data-kind") == "tool"]
    assert len(tool_entries) == 1  # in the log, hidden by the page's style rule only
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        response = await client.post(page.action("toggle", "tool"))
        assert response.status == 204
        patched = await until(sse, lambda t: "<style>" in t)
    assert hidden_kinds(patched) == {"model"}
    # The filter belongs to the tab: another tab still hides tool events.
    assert hidden_kinds((await open_page(client)).html) == {"tool", "model"}


async def test_clearing_the_log_empties_it_for_every_tab(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R11
    await hub.publish("agent.started", "alpha", {"task": "index"})
    await settle(console)
    first, second = await open_page(client), await open_page(client)
    async with client.stream(sse_path(first)) as a, client.stream(sse_path(second)) as b:
        lists_a = Lists(await a.next_event(WAIT))
        lists_b = Lists(await b.next_event(WAIT))
        assert lists_a.items["log"] == lists_b.items["log"] != []
        response = await client.post(first.action("clear"))
        assert response.status == 204
        seen_a = await follow(
            a,
            lists_a,
            lambda evs: lists_a.items["log"] == [] and any(has_notice(e.elements) for e in evs),
        )
        await follow(b, lists_b, lambda evs: lists_b.items["log"] == [])
    assert "Event log cleared." in notice_of(last([e.elements for e in seen_a], has_notice))
    assert list(hub.state.log) == []
    assert console.pages.views.html("log") == '<ul id="log" class="console-log"></ul>'


# -- R12 / R13: agent badges and progress -----------------------------------------------------


async def test_every_agent_has_one_row_with_a_badge_for_its_state(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R12
    await hub.publish("agent.pending", "p", {"task": "wait"})
    await hub.publish("agent.started", "r", {"task": "run"})
    await hub.publish("agent.started", "b", {"task": "ask"})
    await hub.ask("b", "May I?")
    await hub.publish("agent.completed", "c", {"summary": "done"})
    await hub.publish("agent.failed", "f", {"error": "crashed"})
    await hub.publish("agent.skipped", "s", {})
    await hub.publish("agent.cancelled", "x", {})
    await settle(console)
    page = await open_page(client)
    expected = {
        "p": "pending",
        "r": "running",
        "b": "blocked",
        "c": "completed",
        "f": "failed",
        "s": "skipped",
        "x": "cancelled",
    }
    for name, state in expected.items():
        row = element(page.raw, f"agent-{name}").found
        assert row[0][1]["data-state"] == state
        badges = [a for _, a in row if f"console-badge--{state}" in (a.get("class") or "")]
        assert len(badges) == 1, (name, row)
    assert sorted(i for i in ids_in(page.html) if i.startswith("agent-")) == sorted(
        f"agent-{n}" for n in expected
    )


def progress_of(markup: str) -> tuple[str, str, str]:
    """(state, text, bar width) of the progress panel."""
    found = element(markup, "progress").found
    fill = next(a for _, a in found if "console-bar-fill" in (a.get("class") or ""))
    return (
        str(found[0][1]["data-state"]),
        inner_text(markup, "progress"),
        str(fill["style"]),
    )


async def test_progress_counts_completed_and_failed_agents_of_the_total(
    console: Console, hub: Hub
) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 4})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await hub.publish("agent.completed", "b", {"summary": "ok"})
    await hub.publish("agent.failed", "c", {"error": "boom"})
    await settle(console)
    state, words, width = progress_of(console.pages.views.html("progress"))
    assert state == "running"
    assert "2/4 agents completed (1 failed)" in words
    assert width == "width: 50.0%"


async def test_the_progress_bar_is_never_nan_without_a_total(console: Console, hub: Hub) -> None:
    # R13
    assert progress_of(console.pages.views.html("progress"))[2] == "width: 0.0%"
    await hub.publish("run.started", "", {"total": 0})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await settle(console)
    markup = console.pages.views.html("progress")
    _, words, width = progress_of(markup)
    assert "1/0 agents completed (0 failed)" in words
    assert width == "width: 0.0%"
    assert "nan" not in markup.lower()


async def test_a_failed_run_reads_failed_with_its_error(console: Console, hub: Hub) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 3})
    await hub.publish("run.failed", "", {"error": "disk full"})
    await settle(console)
    state, words, _ = progress_of(console.pages.views.html("progress"))
    assert state == "failed"
    assert "Failed: disk full" in words


async def test_a_completed_run_reads_completed_at_100_percent(console: Console, hub: Hub) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 3})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await hub.publish("run.completed", "", {})
    await settle(console)
    state, words, width = progress_of(console.pages.views.html("progress"))
    assert state == "completed"
    assert "Completed" in words
    assert width == "width: 100.0%"


# -- R14: results -----------------------------------------------------------------------------


async def test_results_show_the_newest_ten_escaped(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R14
    for n in range(11):
        await hub.publish("agent.completed", f"agent-{n:02d}", {"summary": f"summary {n:02d}"})
    await hub.publish("agent.completed", "evil", {"summary": "<img src=x onerror=alert(1)>"})
    await settle(console)
    page = await open_page(client)
    rows = [a for tag, a in element(page.raw, "results").found if tag == "li"]
    assert len(rows) == 10
    shown = inner_text(page.raw, "results")
    assert shown.index("<img src=x onerror=alert(1)>") < shown.index("summary 10")
    assert shown.index("summary 10") < shown.index("summary 09")
    assert "summary 02" in shown
    assert "summary 01" not in shown
    assert "<img src=x" not in page.raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.raw


# -- R15 / R16 / R17: question cards and answers ----------------------------------------------


def question_asked(qid: str, agent: str, question: str, options: list[str] | None) -> Any:
    return {
        "id": qid,
        "agent": agent,
        "question": question,
        "options": options,
        "timeout": 300,
    }


async def test_a_re_announced_question_has_one_card(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R15
    payload = question_asked("req-1", "alpha", "Deploy?", ["yes", "no"])
    await hub.publish("question.asked", "alpha", payload)
    await hub.publish("question.asked", "alpha", payload)
    await settle(console)
    page = await open_page(client)
    cards = [a for tag, a in element(page.raw, "questions").found if tag == "li"]
    assert [a["data-question"] for a in cards] == ["req-1"]


async def test_a_card_has_a_select_for_options_a_text_input_otherwise_and_a_send_button(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R15
    choose = await hub.ask("alpha", "Which region?", options=["eu", "us"])
    free = await hub.ask("beta", "Name the release")
    await settle(console)
    page = await open_page(client)
    with_options = element(page.raw, f"question-{choose.id}")
    tags = [tag for tag, _ in with_options.found]
    assert "select" in tags
    assert "input" not in tags
    assert [a["value"] for tag, a in with_options.found if tag == "option"] == ["", "eu", "us"]
    assert "@alpha" in with_options.texts
    assert "Which region?" in with_options.texts
    free_text = element(page.raw, f"question-{free.id}")
    inputs = [a for tag, a in free_text.found if tag == "input"]
    assert "select" not in [tag for tag, _ in free_text.found]
    assert [a["type"] for a in inputs] == ["text"]
    for card in (with_options, free_text):
        buttons = [a for tag, a in card.found if tag == "button"]
        assert [b["type"] for b in buttons] == ["submit"]
        assert "Send" in card.texts


async def test_answering_on_one_page_removes_the_card_from_every_page(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R16
    await hub.publish("agent.started", "alpha", {"task": "deploy"})
    question = await hub.ask("alpha", "Deploy?", options=["yes", "no"])
    await settle(console)
    first, second = await open_page(client), await open_page(client)
    card = f"question-{question.id}"
    async with client.stream(sse_path(first)) as a, client.stream(sse_path(second)) as b:
        lists_a = Lists(await a.next_event(WAIT))
        lists_b = Lists(await b.next_event(WAIT))
        assert lists_a.items["questions"] == lists_b.items["questions"] == [card]
        response = await client.post(first.answer(question.id, "yes"))
        assert response.status == 204
        seen_a = await follow(
            a,
            lists_a,
            lambda evs: (
                card not in lists_a.items["questions"] and any(has_notice(e.elements) for e in evs)
            ),
        )
        await follow(b, lists_b, lambda evs: card not in lists_b.items["questions"])
    assert lists_a.items["questions"] == lists_b.items["questions"] == []
    assert "Answered @alpha: yes" in notice_of(last([e.elements for e in seen_a], has_notice))
    assert hub.question(question.id).state == "answered"
    assert hub.question(question.id).answer == "yes"
    assert hub.state.agents["alpha"].state == "running"  # unblocked
    assert any(e.topic == "question.answered" for e in hub.state.log)


async def test_an_empty_answer_sets_a_notice_and_changes_nothing(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R17
    question = await hub.ask("alpha", "Name the release")
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        response = await client.post(page.answer(question.id, "   "))
        assert response.status == 204
        notice = notice_of(await until(sse, has_notice))
    assert "Type an answer" in notice
    assert hub.question(question.id).state == "pending"
    assert not any(e.topic == "question.answered" for e in hub.state.log)
    assert f'id="question-{question.id}"' in console.pages.views.html("questions")


async def test_answering_an_unknown_question_shows_the_error(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R17
    page = await open_page(client)
    events_before = hub.state.events_seen
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        response = await client.post(page.answer("no-such-question", "yes"))
        assert response.status == 204
        notice = notice_of(await until(sse, has_notice))
    assert "no question with id 'no-such-question'" in notice
    assert hub.state.events_seen == events_before  # no event published


async def test_an_answer_that_is_not_an_option_is_refused_with_a_notice(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R17
    question = await hub.ask("alpha", "Deploy?", options=["yes", "no"])
    await settle(console)
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await client.post(page.answer(question.id, "maybe"))
        notice = notice_of(await until(sse, has_notice))
    assert "expected one of ['yes', 'no']" in notice
    assert hub.question(question.id).state == "pending"


# -- R18: question timeout --------------------------------------------------------------------


async def test_an_expired_question_leaves_the_page_and_is_logged(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R18
    page = await open_page(client)
    async with client.stream(sse_path(page)) as sse:
        lists = Lists(await sse.next_event(WAIT))
        question = await hub.ask("alpha", "Quick?", timeout=0.2)
        card = f"question-{question.id}"
        await follow(sse, lists, lambda evs: card in lists.items["questions"])
        events = await follow(
            sse,
            lists,
            lambda evs: (
                card not in lists.items["questions"]
                and any(e.selector == "#log" and "question:expired" in e.elements for e in evs)
            ),
        )
        (expiry,) = [
            i
            for e in events
            if e.selector == "#log"
            for i in ids_in(e.elements)
            if "question:expired" in inner_text(e.elements, i)
        ]
        assert expiry in lists.items["log"]
        assert lists.items["log"] == items_of(console.pages.views.html("log"), "log")
        assert hub.question(question.id).state == "expired"
        # A late answer is refused with a notice, and nothing is delivered.
        await client.post(page.answer(question.id, "yes"))
        notice = notice_of(await until(sse, has_notice))
    assert "expired" in notice
    assert hub.question(question.id).answer is None


# -- R19: escaping and safe Datastar expressions ----------------------------------------------

NASTY = '<script>alert("x")</script>: it\'s'


async def test_user_text_is_escaped_everywhere_on_the_page(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R19
    agent = f"agent {NASTY}"
    options = [f"yes {NASTY}", "no: 'really'", 'say "hi"']
    await hub.publish("agent.started", agent, {"task": NASTY})
    question = await hub.ask(agent, f"Question {NASTY}", options=options)
    await hub.publish("agent.progress", agent, {"message": NASTY, "extra": NASTY})
    await settle(console)
    page = await open_page(client)
    assert "<script>alert" not in page.raw
    card = element(page.raw, f"question-{question.id}")
    assert [a["value"] for tag, a in card.found if tag == "option"] == ["", *options]
    assert f"@{agent}" in card.texts
    assert f"Question {NASTY}" in card.texts
    assert NASTY in " ".join(element(page.raw, "log").texts)


async def test_the_send_expression_carries_no_user_text_only_the_input_signal(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R19
    question = await hub.ask(f"agent {NASTY}", f"Q {NASTY}", options=[f"a {NASTY}", "b:c"])
    await settle(console)
    page = await open_page(client)
    forms = [a for tag, a in element(page.raw, f"question-{question.id}").found if tag == "form"]
    [send] = [str(f["data-on:submit"]) for f in forms]
    for user_text in ("<", "script", "b:c", "agent", "Q "):
        assert user_text not in send
    signal = panels.answer_signal(question.id)
    assert f"answer: ${signal}}}" in send
    assert send.startswith("@post($_answer + '?p=' + encodeURIComponent(JSON.stringify(")


async def test_question_ids_from_other_producers_make_valid_distinct_signal_names(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R19: question.asked may come from any producer (the API, NATS) with its own ids, such as
    # UUIDs. The draft signal is used as `$answer_<id>` in the Send expression, so it must be a
    # JavaScript identifier (a `-` would read as a subtraction), and distinct ids need
    # distinct signals (or two cards would share one draft).
    ids = ["3f2a-9c1e", "3f2a_9c1e", "req.1", "req:1"]
    for qid in ids:
        await hub.publish("question.asked", "alpha", question_asked(qid, "alpha", "?", None))
    await settle(console)
    page = await open_page(client)
    signals: list[str] = []
    for qid in ids:
        forms = [
            a for tag, a in element(page.raw, panels.dom_id("question", qid)).found if tag == "form"
        ]
        [send] = [str(f["data-on:submit"]) for f in forms]
        match = re.search(r"answer: \$([^}]*)\}", send)
        assert match is not None, send
        signals.append(match.group(1))
    for qid, name in zip(ids, signals, strict=True):
        assert re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", name), (qid, name)
    assert len(set(signals)) == len(ids), dict(zip(ids, signals, strict=True))


# -- R23 / R24: the Status page ---------------------------------------------------------------


def service(sid: str, status: str, action: str = "", **more: Any) -> dict[str, Any]:
    return {"id": sid, "name": sid, "status": status, "action": action, **more}


async def test_the_status_page_shows_the_banner_figures_and_a_card_per_service(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R23
    await hub.publish("service.status", "nats", service("nats", "Running", "started", port=4222))
    await hub.publish("service.status", "web", service("web", "Standby", "health check"))
    await settle(console)
    page = await open_page(client, "/status")
    banner = inner_text(page.raw, "health")
    assert any(
        words in banner for words in ("All systems operational", "Degraded", "Attention required")
    )
    assert "2 services" in banner
    figures = inner_text(page.raw, "figures")
    for label in ("Open streams", "Live conversations", "Stored conversations", "Bus events / s"):
        assert label in figures
    assert "Last updated" in figures
    nats = element(page.raw, "service-nats")
    assert "nats:4222" in nats.texts
    assert "Running" in nats.texts
    assert "console-pill--ok" in str([a.get("class") for _, a in nats.found])
    assert "Last: started" in inner_text(page.raw, "service-nats")
    assert "Last: health check" in inner_text(page.raw, "service-web")


async def test_a_stopped_service_turns_the_banner_to_degraded_or_attention(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R23
    await hub.publish("service.status", "nats", service("nats", "Running"))
    await hub.publish("service.status", "web", service("web", "Running"))
    await settle(console)
    page = await open_page(client, "/status")
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await hub.publish("service.status", "web", service("web", "Stopped", "crashed"))
        banner = await until(sse, lambda t: 'id="health"' in t)
    assert "Degraded" in banner or "Attention required" in banner
    tone = element(banner, "health").found[0][1]["class"] or ""
    assert "console-health--degraded" in tone or "console-health--critical" in tone


async def test_a_service_status_reaches_an_open_status_page_as_its_card_only(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R24
    await hub.publish("service.status", "nats", service("nats", "Running", "started"))
    await hub.publish("service.status", "web", service("web", "Running", "started"))
    await settle(console)
    page = await open_page(client, "/status")
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        await hub.publish("service.status", "web", service("web", "Stale", "restart"))
        card = await until(sse, lambda t: 'id="service-web"' in t)
    assert "Stale" in element(card, "service-web").texts
    assert "Last: restart" in inner_text(card, "service-web")
    assert 'id="services"' not in card
    assert 'id="service-nats"' not in card


async def test_the_figures_view_changes_when_the_ticker_samples(
    console: Console, client: AsgiClient
) -> None:
    # R23
    page = await open_page(client, "/status")
    assert "Stored conversations —" in inner_text(page.raw, "figures")
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        console.figures.take(stored=0)  # what the ticker does every `tick` seconds
        console.pages.views.invalidate("health", "figures", "readiness", "config")
        console.pages.views.flush()
        figures = await until(sse, lambda t: 'id="figures"' in t)
    shown = inner_text(figures, "figures")
    assert "Stored conversations 0" in shown
    assert "Open streams 1" in shown
    assert re.search(r"Last updated \d\d:\d\d:\d\d", shown)


# -- R25: the Config page ---------------------------------------------------------------------


async def test_the_config_page_counts_set_variables_and_never_shows_values(
    console: Console, client: AsgiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R25
    monkeypatch.setenv("PARLOUR_CONSOLE_TOKEN", "tokenvalue-123")
    monkeypatch.setenv("PARLOUR_SECRET", "supersecretvalue")
    console.figures.take(stored=0)
    console.pages.views.invalidate("readiness", "config")
    console.pages.views.flush()
    page = await open_page(client, "/config")
    pills = re.findall(r'console-pill--(?:ok|warn)">(SET|MISSING)<', page.html)
    assert len(pills) == len(ENV_NAMES)
    counter = f"{pills.count('SET')} of {len(pills)} set"
    assert counter == f"2 of {len(ENV_NAMES)} set"
    assert counter in inner_text(page.raw, "readiness")
    assert counter in inner_text(page.raw, "config")
    assert "supersecretvalue" not in page.raw
    assert "tokenvalue-123" not in page.raw


async def test_saving_a_bad_window_names_the_field_and_changes_nothing(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R25
    page = await open_page(client, "/config")
    before = hub.state.settings
    async with client.stream(sse_path(page)) as sse:
        await sse.next_event(WAIT)
        response = await client.post(
            page.action("save", "window"), json={page.signal("window"): "abc"}
        )
        assert response.status == 204
        notice = notice_of(await until(sse, has_notice))
    assert "window: expected seconds between 0 and 1, got 'abc'" in notice
    assert hub.state.settings == before
    assert not any(e.topic == "config.changed" for e in hub.state.log)


async def test_saving_a_good_window_publishes_it_and_every_config_page_shows_it(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    # R25
    first, second = await open_page(client, "/config"), await open_page(client, "/config")
    async with client.stream(sse_path(first)) as a, client.stream(sse_path(second)) as b:
        await a.next_event(WAIT)
        await b.next_event(WAIT)
        response = await client.post(
            first.action("save", "window"), json={first.signal("window"): "0.2"}
        )
        assert response.status == 204

        def updated(markup: str) -> bool:
            return 'id="settings"' in markup and "0.2 s" in markup

        seen_a = await read_until(a, updated, has_notice)
        seen_b = await read_until(b, updated)
    for seen in (seen_a, seen_b):
        assert "Coalescing window 0.2 s" in inner_text(last(seen, updated), "settings")
    assert "Saved: 0.2" in notice_of(last(seen_a, has_notice))
    assert hub.state.settings.window == 0.2
    assert console.pages.views.window == 0.2  # live: the views coalesce over the new window
    changed = [e for e in hub.state.log if e.topic == "config.changed"]
    assert len(changed) == 1


# -- R26: navigation --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/config", "/status"])
async def test_the_nav_is_sorted_by_order_and_marks_the_current_page(
    client: AsgiClient, path: str
) -> None:
    # R26
    page = await open_page(client, path)
    nav = re.search(r'<nav class="console-nav">(.*?)</nav>', page.html, re.S)
    assert nav is not None
    links = re.findall(r'<a class="console-nav-item" href="([^"]+)"([^>]*)>', nav.group(1))
    assert [href for href, _ in links] == ["/", "/config", "/status"]
    labels = re.findall(r"</span>([^<]+)</a>", nav.group(1))
    assert labels == ["Agents", "Config", "Status"]
    current = [href for href, rest in links if 'aria-current="page"' in rest]
    assert current == [path]
