"""The console's pages as a browser sees them: the Agents, Status and Config pages served by a
real `Console`, driven in-process over HTTP and SSE, checked against the requirements R1-R26
of the dashboard reference (../shared/reference/dashboards-remora-infra.md §7).

Each tab is a `parlour.testing.Page`: it follows its stream and applies every patch as
Datastar does (morph by id, prepend, remove), strictly: a patch for an element the tab does
not show fails the test. Nothing here sleeps and then asserts: a test either flushes the
shared views itself (`flush(console)`, what the window's timer does) or waits, with a bounded
timeout, for what it expects (`page.wait_for`); a click's own patch is on the page when the
click returns.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import quote

import pytest

from parlour.console import cards, panels
from parlour.console.app import Console
from parlour.console.figures import ENV_NAMES
from parlour.console.hub import Hub
from parlour.testing import AsgiClient, Document, Element, Page, PageTimeout, SseEvent

WAIT = 2.0
"""How long a test waits for what it expects on a page (bounded, never slept)."""
QUIET = 0.3
"""How long a stream must stay silent for a test to conclude nothing more is coming."""


# -- fixtures -----------------------------------------------------------------------------------


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


# -- helpers ------------------------------------------------------------------------------------


def by_id(ident: str) -> str:
    return f'[id="{ident}"]'


def part(markup: str, ident: str) -> Element:
    """The element `#ident` of `markup` (a patch's payload, a server-side render)."""
    found = Document(markup).query(by_id(ident))
    assert found is not None, f"no element #{ident} in:\n{markup[:2000]}"
    return found


def ids_in(markup: str) -> list[str]:
    """The ids of the elements in `markup`, in document order."""
    return [e.id or "" for e in Document(markup).all("[id]")]


def texts(element: Element) -> list[str]:
    """The text of the element and of each element inside it (what each piece reads)."""
    return [element.text, *(e.text for e in element.all("*"))]


def items(source: Page | str, container: str) -> list[str]:
    """The ids of the items of the keyed list `#container`, on a page or in `markup`."""
    found = source.query(by_id(container)) if isinstance(source, Page) else part(source, container)
    return [child.id for child in found.children if child.id]


def shown_once(page: Page) -> None:
    """No element id is on the page twice (a prepend of shown items would double them)."""
    ids = [e.id for e in page.all("[id]")]
    twice = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
    assert not twice, f"{twice} shown twice"


KEYED = {"agents": "agent-", "questions": "question-", "log": "log-", "services": "service-"}
"""The keyed lists of the pages, with the id prefix of their items."""


def check_patches(events: list[SseEvent]) -> None:
    """The patches the console may send a tab: a remove carries no elements; a prepend brings
    new items of its own list; anything else morphs by id (`outer`), or fills `#root`
    (`inner`, the first render)."""
    for event in events:
        if event.type != "datastar-patch-elements":
            continue
        if event.mode == "remove":
            assert not event.elements, "a remove carries no elements"
        elif event.mode == "prepend":
            container = (event.selector or "").removeprefix("#")
            assert container in KEYED, f"a prepend into #{container}"
            new = [e.id or "" for e in Document(event.elements).body.children]
            assert new, "a prepend without items"
            assert all(i.startswith(KEYED[container]) for i in new), new
        else:
            assert event.mode == "outer" or (event.mode == "inner" and event.selector), (
                f"unexpected mode {event.mode!r} (selector {event.selector!r})"
            )


async def follow(
    page: Page, done: Callable[[list[SseEvent]], bool], since: int | None = None
) -> list[SseEvent]:
    """The events the page applied `since` (an index into `page.events`; by default, from
    now) until `done(those events)` holds (bounded)."""
    start = len(page.events) if since is None else since
    await page.wait_for(lambda p: done(p.events[start:]))
    events = page.events[start:]
    check_patches(events)
    shown_once(page)
    return events


async def until(page: Page, predicate: Callable[[str], bool]) -> str:
    """The elements (HTML as sent) of the first event from now whose elements satisfy
    `predicate`."""
    events = await follow(page, lambda evs: any(predicate(e.elements) for e in evs))
    return next(e.elements for e in events if predicate(e.elements))


async def read_until(
    page: Page, *checks: Callable[[str], bool], since: int | None = None
) -> list[str]:
    """The elements of the events applied `since` until each check has held for one of them
    (a batch may carry them in any order, or one event may satisfy several)."""
    events = await follow(
        page, lambda evs: all(any(check(e.elements) for e in evs) for check in checks), since
    )
    return [e.elements for e in events]


def last(events: list[str], check: Callable[[str], bool]) -> str:
    return [e for e in events if check(e)][-1]


def has_notice(markup: str) -> bool:
    return Document(markup).query(".console-notice") is not None


def notice_of(markup: str) -> str:
    """The notice line (after an answer, a save, a clear) in `markup`, as text."""
    found = Document(markup).query(".console-notice")
    assert found is not None, f"no notice in:\n{markup[:2000]}"
    return found.text_content


async def notice(page: Page) -> str:
    """The page's notice line, once it shows one (the answer to a click, often from io)."""
    await page.wait_for(lambda p: p.all(".console-notice"))
    return page.query(".console-notice").text_content


def grew(count: int) -> Callable[[Page], bool]:
    return lambda page: len(page.events) > count


async def silence(page: Page) -> list[SseEvent]:
    """Whatever arrives until the stream has been silent for QUIET seconds."""
    start = len(page.events)
    while True:
        try:
            await page.wait_for(grew(len(page.events)), timeout=QUIET)
        except PageTimeout:
            return page.events[start:]


def answer_url(page: Page, qid: str, answer: str) -> str:
    """What a question card's Send posts: the page's `$_answer` + `?p=` {id, answer}."""
    payload = json.dumps({"id": qid, "answer": answer})
    return f"{page.signals['_answer']}?p={quote(payload, safe='')}"


async def answer(page: Page, qid: str, text: str) -> Any:
    """Answer on the question's card: press the option `text` (which sends the card's form),
    or type `text` and press Send."""
    card = by_id(f"question-{qid}")
    if page.all(f"{card} .console-choice"):
        await page.click(f"{card} .console-choice", text=text)  # sets the card's signal
        return await page.submit(f"{card} form")  # what the browser does next
    await page.fill(f"{card} input", text)
    return await page.click(f"{card} button", text="Send")


async def flush(console: Console) -> None:
    """Render now what the window's timer would render a moment later."""
    console.pages.views.flush()


# -- R1: snapshot on connect ------------------------------------------------------------------


async def test_the_first_event_of_a_stream_is_a_full_render_with_what_happened_before(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R1
    await hub.publish("run.started", "", {"total": 2})
    await hub.publish("agent.started", "alpha", {"task": "index the repo"})
    await hub.publish("agent.completed", "beta", {"summary": "wrote the report"})
    question = await hub.ask("alpha", "Ship it?", options=["yes", "no"])
    await flush(console)
    page = await open_tab()
    first = page.events[0]
    assert first.type == "datastar-patch-elements"
    assert first.selector == "#root"
    snapshot = first.elements
    assert "agent-alpha" in ids_in(snapshot)
    assert f"question-{question.id}" in ids_in(snapshot)
    assert "Ship it?" in Document(snapshot).body.text
    assert "wrote the report" in part(snapshot, "results").text
    assert "1/2 agents completed (0 failed)" in part(snapshot, "progress").text


async def test_a_reconnecting_stream_gets_the_identical_render_without_duplicate_rows(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R1
    await hub.publish("agent.started", "alpha", {"task": "index"})
    question = await hub.ask("alpha", "Ship it?")
    await flush(console)
    page = await open_tab()
    first = page.events[-1].elements
    reconnected = len(page.events)
    await page.connect()  # the same tab, a new stream
    again = page.events[reconnected].elements
    assert again == first
    assert ids_in(again).count("agent-alpha") == 1
    assert ids_in(again).count(f"question-{question.id}") == 1
    shown_once(page)


# -- R2: incremental morphs -------------------------------------------------------------------


async def test_one_completed_agent_patches_its_row_and_the_progress_but_not_the_other_rows(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R2
    await hub.publish("run.started", "", {"total": 3})
    for name in ("alpha", "beta", "gamma"):
        await hub.publish("agent.started", name, {"task": f"task of {name}"})
    await flush(console)
    page = await open_tab()
    logged = items(page, "log")
    assert len(logged) == 4  # run.started and three agent.started
    completed = await hub.publish("agent.completed", "beta", {"summary": "done"})
    entry = f"log-{completed.id}"
    events = await follow(
        page,
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
    assert "@beta" in part(prepended[0].elements, entry).text
    for old in logged:
        assert old not in ids_in(prepended[0].elements)
    assert items(page, "log") == [entry, *logged]
    assert items(page, "log") == items(console.pages.views.html("log"), "log")


# -- R3: throttle and coalesce ----------------------------------------------------------------


async def test_a_burst_of_70_events_reaches_a_stream_as_a_few_patches_reflecting_all_70(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R3
    await hub.publish("run.started", "", {"total": 70})
    await flush(console)
    page = await open_tab()
    logged = items(page, "log")
    published = await asyncio.gather(
        *(
            hub.publish("agent.completed", f"agent-{n:02d}", {"summary": f"result {n}"})
            for n in range(70)
        )
    )
    newest = f"log-{published[-1].id}"
    events = await follow(
        page,
        lambda evs: (
            any("70/70 agents completed" in e.elements for e in evs)
            and any(newest in ids_in(e.elements) for e in evs)
        ),
    )
    progress = [e.elements for e in events if "progress" in ids_in(e.elements)[:1]]
    logs = [e for e in events if e.selector == "#log"]
    assert 1 <= len(progress) <= 3
    assert 1 <= len(logs) <= 3
    assert all(e.mode == "prepend" for e in logs)  # the log grew at the front only
    assert not any("log" in ids_in(e.elements)[:1] for e in events)  # never resent whole
    assert "70/70 agents completed (0 failed)" in part(progress[-1], "progress").text
    assert ids_in(logs[-1].elements)[0] == newest  # newest entry first: the 70th
    assert "@agent-69" in part(logs[-1].elements, newest).text
    # The page's log: the 70 new entries, newest first, in front of the one it showed.
    shown = items(page, "log")
    assert shown[0] == newest
    assert sorted(shown[:70]) == sorted(f"log-{e.id}" for e in published)
    assert shown[70:] == logged
    assert shown == items(console.pages.views.html("log"), "log")


# -- R5 / R7: fan-out and clean teardown -------------------------------------------------------


async def test_two_streams_both_receive_a_view_update(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R5
    first, second = await open_tab(), await open_tab()
    await hub.publish("agent.started", "alpha", {"task": "index"})
    seen_a = await until(first, lambda t: "agent-alpha" in ids_in(t))
    seen_b = await until(second, lambda t: "agent-alpha" in ids_in(t))
    assert seen_a == seen_b


async def test_closing_a_stream_gives_back_its_connection(
    console: Console, open_tab: OpenTab
) -> None:
    # R7
    runtime = console.pages.runtime
    before = runtime.connection_count
    first, second = await open_tab(stream=False), await open_tab(stream=False)
    await first.connect()
    await second.connect()
    assert runtime.connection_count == before + 2
    await second.close()
    assert runtime.connection_count == before + 1
    await first.close()
    assert runtime.connection_count == before


async def test_an_ended_conversation_no_longer_views_the_shared_panels(
    console: Console, open_tab: OpenTab
) -> None:
    # R7
    runtime = console.pages.runtime
    first, second = await open_tab(stream=False), await open_tab(stream=False)
    assert runtime.viewer_count("agents") == 2
    await runtime.end(first.cid or "")
    assert runtime.viewer_count("agents") == 1
    await runtime.end(second.cid or "")
    assert runtime.viewer_count("agents") == 0


# -- R6: no consumer, no loss -----------------------------------------------------------------


async def test_events_without_a_browser_are_in_the_next_first_render_and_not_replayed(
    console: Console, client: AsgiClient, open_tab: OpenTab
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
    await flush(console)
    page = await open_tab()
    first = page.events[0].elements
    burst = await silence(page)
    assert all(f"agent-worker-{n}" in ids_in(first) for n in range(5))
    assert burst == []


# -- R8: stable, byte-identical renders -------------------------------------------------------


async def test_a_view_re_rendered_without_a_change_is_byte_identical(
    console: Console, hub: Hub
) -> None:
    # R8
    await hub.publish("agent.started", "zeta", {"task": "z"})
    await hub.publish("agent.started", "alpha", {"task": "a"})
    await hub.ask("alpha", "Proceed?")
    await flush(console)
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
            str(cards.questions_container([node for _, node in cards.questions_items(state)])),
            str(panels.results(state)),
            str(panels.log_container([node for _, node in panels.log_items(state)])),
            str(panels.services_container([node for _, node in panels.services_items(state)])),
        ]

    assert render() == render()


# -- R11: the event log -----------------------------------------------------------------------


async def test_the_log_lists_newest_first_with_its_kind(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R11
    first = await hub.publish("agent.started", "alpha", {"task": "index"})
    second = await hub.publish("tool.call", "alpha", {"message": "grep"})
    third = await hub.publish("run.completed", "", {})
    await flush(console)
    page = await open_tab(stream=False)
    entries = page.all("#log li")
    assert [e.id for e in entries] == [
        f"log-{third.id}",
        f"log-{second.id}",
        f"log-{first.id}",
    ]
    assert [e.get("data-kind") for e in entries] == ["run", "tool", "agent"]
    assert "agent.started" in page.text(f"#log-{first.id}")
    assert "@alpha" in page.text(f"#log-{first.id}")


def hidden_kinds(page: Page) -> set[str]:
    """The kinds of log entries the page's own style rule hides."""
    rules = [s.text for s in page.all("style") if "#log" in s.text]
    assert rules, "no <style> rule for the log on the page"
    return set(re.findall(r"#log \[data-kind=(\w+)\] \{ display: none; \}", rules[0]))


async def test_tool_and_model_events_are_hidden_by_default_and_a_toggle_shows_them(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R11
    await hub.publish("tool.call", "alpha", {"message": "grep"})
    await flush(console)
    page = await open_tab()
    assert hidden_kinds(page) == {"tool", "model"}
    tool_entries = page.all('#log [data-kind="tool"]')
    assert len(tool_entries) == 1  # in the log, hidden by the page's style rule only
    response = await page.check('input[type=checkbox][data-kind="tool"]')
    assert response is not None
    assert response.status == 204
    assert hidden_kinds(page) == {"model"}
    # The filter belongs to the tab: another tab still hides tool events.
    assert hidden_kinds(await open_tab(stream=False)) == {"tool", "model"}


async def test_clearing_the_log_empties_it_for_every_tab(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R11
    await hub.publish("agent.started", "alpha", {"task": "index"})
    await flush(console)
    first, second = await open_tab(), await open_tab()
    assert items(first, "log") == items(second, "log") != []
    response = await first.click("button", text="Clear")
    assert response is not None
    assert response.status == 204
    await follow(first, lambda _: items(first, "log") == [] and bool(first.all(".console-notice")))
    await follow(second, lambda _: items(second, "log") == [])
    assert "Event log cleared." in first.text(".console-notice")
    assert list(hub.state.log) == []
    assert console.pages.views.html("log") == '<ul id="log" class="console-log"></ul>'


# -- R12 / R13: agent badges and progress -----------------------------------------------------


async def test_every_agent_has_one_row_with_a_badge_for_its_state(
    console: Console, hub: Hub, open_tab: OpenTab
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
    await flush(console)
    page = await open_tab(stream=False)
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
        row = page.query(f"#agent-{name}")
        assert row.get("data-state") == state
        badges = row.all(f".console-badge--{state}")
        assert len(badges) == 1, (name, row.html)
    assert sorted(e.id or "" for e in page.all('[id^="agent-"]')) == sorted(
        f"agent-{n}" for n in expected
    )


def progress_of(markup: str) -> tuple[str, str, str]:
    """(state, text, bar width) of the progress panel."""
    progress = part(markup, "progress")
    fill = progress.query(".console-bar-fill")
    assert fill is not None, progress.html
    return str(progress.get("data-state")), progress.text, str(fill.get("style"))


async def test_progress_counts_completed_and_failed_agents_of_the_total(
    console: Console, hub: Hub
) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 4})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await hub.publish("agent.completed", "b", {"summary": "ok"})
    await hub.publish("agent.failed", "c", {"error": "boom"})
    await flush(console)
    state, words, width = progress_of(console.pages.views.html("progress"))
    assert state == "running"
    assert "2/4 agents completed (1 failed)" in words
    assert width == "width: 50.0%"


async def test_the_progress_bar_is_never_nan_without_a_total(console: Console, hub: Hub) -> None:
    # R13
    assert progress_of(console.pages.views.html("progress"))[2] == "width: 0.0%"
    await hub.publish("run.started", "", {"total": 0})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await flush(console)
    markup = console.pages.views.html("progress")
    _, words, width = progress_of(markup)
    assert "1/0 agents completed (0 failed)" in words
    assert width == "width: 0.0%"
    assert "nan" not in markup.lower()


async def test_a_failed_run_reads_failed_with_its_error(console: Console, hub: Hub) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 3})
    await hub.publish("run.failed", "", {"error": "disk full"})
    await flush(console)
    state, words, _ = progress_of(console.pages.views.html("progress"))
    assert state == "failed"
    assert "Failed: disk full" in words


async def test_a_completed_run_reads_completed_at_100_percent(console: Console, hub: Hub) -> None:
    # R13
    await hub.publish("run.started", "", {"total": 3})
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await hub.publish("run.completed", "", {})
    await flush(console)
    state, words, width = progress_of(console.pages.views.html("progress"))
    assert state == "completed"
    assert "Completed" in words
    assert width == "width: 100.0%"


# -- R14: results -----------------------------------------------------------------------------


async def test_results_show_the_newest_ten_escaped(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R14
    for n in range(11):
        await hub.publish("agent.completed", f"agent-{n:02d}", {"summary": f"summary {n:02d}"})
    await hub.publish("agent.completed", "evil", {"summary": "<img src=x onerror=alert(1)>"})
    await flush(console)
    page = await open_tab(stream=False)
    rows = page.all("#results li")
    assert len(rows) == 10
    shown = page.text("#results")
    assert shown.index("<img src=x onerror=alert(1)>") < shown.index("summary 10")
    assert shown.index("summary 10") < shown.index("summary 09")
    assert "summary 02" in shown
    assert "summary 01" not in shown
    assert page.response is not None
    assert "<img src=x" not in page.response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.response.text


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
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R15
    payload = question_asked("req-1", "alpha", "Deploy?", ["yes", "no"])
    await hub.publish("question.asked", "alpha", payload)
    await hub.publish("question.asked", "alpha", payload)
    await flush(console)
    page = await open_tab(stream=False)
    cards = page.all("#questions li")
    assert [c.get("data-question") for c in cards] == ["req-1"]


async def test_a_card_has_a_button_per_option_a_text_input_and_send_otherwise(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R15 (issue 16: one of the options is a button each)
    choose = await hub.ask("alpha", "Which region?", options=["eu", "us"])
    free = await hub.ask("beta", "Name the release")
    await flush(console)
    page = await open_tab(stream=False)
    with_options = page.query(f"#question-{choose.id}")
    tags = [e.name for e in with_options.all("*")]
    assert "select" not in tags
    assert "input" not in tags
    buttons = with_options.all("button")
    assert [b.get("value") for b in buttons] == ["eu", "us"]
    assert [b.get("type") for b in buttons] == ["submit", "submit"]
    assert "@alpha" in texts(with_options)
    assert "Which region?" in texts(with_options)
    free_text = page.query(f"#question-{free.id}")
    inputs = free_text.all("input")
    assert "select" not in [e.name for e in free_text.all("*")]
    assert [i.get("type") for i in inputs] == ["text"]
    assert [b.get("type") for b in free_text.all("button")] == ["submit"]
    assert "Send" in texts(free_text)


async def test_answering_on_one_page_removes_the_card_from_every_page(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R16
    await hub.publish("agent.started", "alpha", {"task": "deploy"})
    question = await hub.ask("alpha", "Deploy?", options=["yes", "no"])
    await flush(console)
    first, second = await open_tab(), await open_tab()
    card = f"question-{question.id}"
    assert items(first, "questions") == items(second, "questions") == [card]
    response = await answer(first, question.id, "yes")
    assert response is not None
    assert response.status == 204
    await follow(
        first,
        lambda _: card not in items(first, "questions") and bool(first.all(".console-notice")),
    )
    await follow(second, lambda _: card not in items(second, "questions"))
    assert items(first, "questions") == items(second, "questions") == []
    assert "Answered @alpha: yes" in first.text(".console-notice")
    assert hub.question(question.id).state == "answered"
    assert hub.question(question.id).answer == "yes"
    assert hub.state.agents["alpha"].state == "running"  # unblocked
    assert any(e.topic == "question.answered" for e in hub.state.log)


async def test_an_empty_answer_sets_a_notice_and_changes_nothing(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R17
    question = await hub.ask("alpha", "Name the release")
    await flush(console)
    page = await open_tab()
    response = await answer(page, question.id, "   ")
    assert response is not None
    assert response.status == 204
    shown = await notice(page)
    assert "Type an answer" in shown
    assert hub.question(question.id).state == "pending"
    assert not any(e.topic == "question.answered" for e in hub.state.log)
    assert f"question-{question.id}" in ids_in(console.pages.views.html("questions"))


async def test_answering_an_unknown_question_shows_the_error(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R17
    page = await open_tab()
    events_before = hub.state.events_seen
    response = await page.post(answer_url(page, "no-such-question", "yes"))  # no card for it
    assert response.status == 204
    shown = await notice(page)
    assert "no question with id 'no-such-question'" in shown
    assert hub.state.events_seen == events_before  # no event published


async def test_an_answer_that_is_not_an_option_is_refused_with_a_notice(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R17
    question = await hub.ask("alpha", "Deploy?", options=["yes", "no"])
    await flush(console)
    page = await open_tab()
    await page.post(answer_url(page, question.id, "maybe"))  # not something the card offers
    shown = await notice(page)
    assert "expected one of ['yes', 'no']" in shown
    assert hub.question(question.id).state == "pending"


# -- R18: question timeout --------------------------------------------------------------------


async def test_an_expired_question_leaves_the_page_and_is_logged(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R18
    page = await open_tab()
    question = await hub.ask("alpha", "Quick?", timeout=0.2)
    card = f"question-{question.id}"
    await follow(page, lambda _: card in items(page, "questions"))
    events = await follow(
        page,
        lambda evs: (
            card not in items(page, "questions")
            and any(e.selector == "#log" and "question.expired" in e.elements for e in evs)
        ),
    )
    (expiry,) = [
        i
        for e in events
        if e.selector == "#log"
        for i in ids_in(e.elements)
        if "question.expired" in part(e.elements, i).text
    ]
    assert expiry in items(page, "log")
    assert items(page, "log") == items(console.pages.views.html("log"), "log")
    assert hub.question(question.id).state == "expired"
    # A late answer is refused with a notice, and nothing is delivered.
    await page.post(answer_url(page, question.id, "yes"))
    shown = await notice(page)
    assert "expired" in shown
    assert hub.question(question.id).answer is None


# -- R19: escaping and safe Datastar expressions ----------------------------------------------

NASTY = '<script>alert("x")</script>: it\'s'


async def test_user_text_is_escaped_everywhere_on_the_page(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R19
    agent = f"agent {NASTY}"
    options = [f"yes {NASTY}", "no: 'really'", 'say "hi"']
    await hub.publish("agent.started", agent, {"task": NASTY})
    question = await hub.ask(agent, f"Question {NASTY}", options=options)
    await hub.publish("agent.progress", agent, {"message": NASTY, "extra": NASTY})
    await flush(console)
    page = await open_tab(stream=False)
    assert page.response is not None
    assert "<script>alert" not in page.response.text
    card = page.query(f"#question-{question.id}")
    assert [b.get("value") for b in card.all("button")] == options
    assert f"@{agent}" in texts(card)
    assert f"Question {NASTY}" in texts(card)
    assert NASTY in page.text("#log")


def send_expression(page: Page, ident: str) -> str:
    """The Send expression of the question card `#ident` (its form's data-on:submit)."""
    forms = page.query(by_id(ident)).all("form")
    [send] = [str(f.get("data-on:submit")) for f in forms]
    return send


async def test_the_send_expression_carries_no_user_text_only_the_input_signal(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R19
    question = await hub.ask(f"agent {NASTY}", f"Q {NASTY}", options=[f"a {NASTY}", "b:c"])
    await flush(console)
    page = await open_tab(stream=False)
    send = send_expression(page, f"question-{question.id}")
    for user_text in ("<", "script", "b:c", "agent", "Q "):
        assert user_text not in send
    signal = cards.answer_signal(question.id)
    assert f"answer: ${signal}}}" in send
    assert send.startswith("@post($_answer + '?p=' + encodeURIComponent(JSON.stringify(")


async def test_question_ids_from_other_producers_make_valid_distinct_signal_names(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R19: question.asked may come from any producer (the API, NATS) with its own ids, such as
    # UUIDs. The draft signal is used as `$answer_<id>` in the Send expression, so it must be a
    # JavaScript identifier (a `-` would read as a subtraction), and distinct ids need
    # distinct signals (or two cards would share one draft).
    ids = ["3f2a-9c1e", "3f2a_9c1e", "req.1", "req:1"]
    for qid in ids:
        await hub.publish("question.asked", "alpha", question_asked(qid, "alpha", "?", None))
    await flush(console)
    page = await open_tab(stream=False)
    signals: list[str] = []
    for qid in ids:
        send = send_expression(page, panels.dom_id("question", qid))
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
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R23
    await hub.publish("service.status", "nats", service("nats", "Running", "started", port=4222))
    await hub.publish("service.status", "web", service("web", "Standby", "health check"))
    await flush(console)
    page = await open_tab("/status", stream=False)
    banner = page.text("#health")
    assert any(
        words in banner for words in ("All systems operational", "Degraded", "Attention required")
    )
    assert "2 services" in banner
    figures = page.text("#figures")
    for label in ("Open streams", "Live conversations", "Stored conversations", "Bus events / s"):
        assert label in figures
    assert "Last updated" in figures
    nats = page.query("#service-nats")
    assert "nats:4222" in texts(nats)
    assert "Running" in texts(nats)
    assert nats.all(".console-pill--ok")
    assert "Last: started" in page.text("#service-nats")
    assert "Last: health check" in page.text("#service-web")


async def test_a_stopped_service_turns_the_banner_to_degraded_or_attention(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R23
    await hub.publish("service.status", "nats", service("nats", "Running"))
    await hub.publish("service.status", "web", service("web", "Running"))
    await flush(console)
    page = await open_tab("/status")
    await hub.publish("service.status", "web", service("web", "Stopped", "crashed"))
    banner = await until(page, lambda t: "health" in ids_in(t))
    shown = part(banner, "health").text
    assert "Degraded" in shown or "Attention required" in shown
    tone = part(banner, "health").get("class") or ""
    assert "console-health--degraded" in tone or "console-health--critical" in tone


async def test_a_service_status_reaches_an_open_status_page_as_its_card_only(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R24
    await hub.publish("service.status", "nats", service("nats", "Running", "started"))
    await hub.publish("service.status", "web", service("web", "Running", "started"))
    await flush(console)
    page = await open_tab("/status")
    await hub.publish("service.status", "web", service("web", "Stale", "restart"))
    card = await until(page, lambda t: "service-web" in ids_in(t))
    assert "Stale" in texts(part(card, "service-web"))
    assert "Last: restart" in part(card, "service-web").text
    assert "services" not in ids_in(card)
    assert "service-nats" not in ids_in(card)
    assert "Last: restart" in page.text("#service-web")  # and the page shows it


async def test_the_figures_view_changes_when_the_ticker_samples(
    console: Console, open_tab: OpenTab
) -> None:
    # R23
    page = await open_tab("/status")
    assert "Stored conversations —" in page.text("#figures")
    console.figures.take(stored=0)  # what the ticker does every `tick` seconds
    console.pages.views.invalidate("health", "figures", "readiness", "config")
    console.pages.views.flush()
    await until(page, lambda t: "figures" in ids_in(t))
    shown = page.text("#figures")
    assert "Stored conversations 0" in shown
    assert "Open streams 1" in shown
    assert re.search(r"Last updated \d\d:\d\d:\d\d", shown)


# -- R25: the Config page ---------------------------------------------------------------------


async def test_the_config_page_counts_set_variables_and_never_shows_values(
    console: Console, open_tab: OpenTab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R25
    monkeypatch.setenv("PARLOUR_CONSOLE_TOKEN", "tokenvalue-123")
    monkeypatch.setenv("PARLOUR_SECRET", "supersecretvalue")
    console.figures.take(stored=0)
    console.pages.views.invalidate("readiness", "config")
    console.pages.views.flush()
    page = await open_tab("/config", stream=False)
    pills = [
        e.text
        for e in page.all(".console-pill--ok, .console-pill--warn")
        if e.text in ("SET", "MISSING")
    ]
    assert len(pills) == len(ENV_NAMES)
    counter = f"{pills.count('SET')} of {len(pills)} set"
    assert counter == f"2 of {len(ENV_NAMES)} set"
    assert counter in page.text("#readiness")
    assert counter in page.text("#config")
    assert page.response is not None
    assert "supersecretvalue" not in page.response.text
    assert "tokenvalue-123" not in page.response.text


def setting(name: str) -> str:
    """The control of setting `name` on the Config page (its input, or with ` button`, its
    Save button)."""
    return f".console-setting:has(input[name={name}])"


async def test_saving_a_bad_window_names_the_field_and_changes_nothing(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R25
    page = await open_tab("/config")
    before = hub.state.settings
    await page.fill(f"{setting('window')} input", "abc")
    response = await page.click(f"{setting('window')} button", text="Save")
    assert response is not None
    assert response.status == 204
    shown = await notice(page)
    assert "window: expected seconds between 0 and 1, got 'abc'" in shown
    assert hub.state.settings == before
    assert not any(e.topic == "config.changed" for e in hub.state.log)


async def test_saving_a_good_window_publishes_it_and_every_config_page_shows_it(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    # R25
    first, second = await open_tab("/config"), await open_tab("/config")
    since_a, since_b = len(first.events), len(second.events)
    await first.fill(f"{setting('window')} input", "0.2")
    response = await first.click(f"{setting('window')} button", text="Save")
    assert response is not None
    assert response.status == 204

    def updated(markup: str) -> bool:
        return "settings" in ids_in(markup) and "0.2 s" in markup

    seen_a = await read_until(first, updated, has_notice, since=since_a)
    seen_b = await read_until(second, updated, since=since_b)
    for seen in (seen_a, seen_b):
        assert "Coalescing window 0.2 s" in part(last(seen, updated), "settings").text
    assert "Saved: 0.2" in notice_of(last(seen_a, has_notice))
    assert hub.state.settings.window == 0.2
    assert console.pages.views.window == 0.2  # live: the views coalesce over the new window
    changed = [e for e in hub.state.log if e.topic == "config.changed"]
    assert len(changed) == 1


# -- R26: navigation --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/config", "/status"])
async def test_the_nav_is_sorted_by_order_and_marks_the_current_page(
    open_tab: OpenTab, path: str
) -> None:
    # R26
    page = await open_tab(path, stream=False)
    links = page.query("nav.console-nav").all("a.console-nav-item")
    assert [link.get("href") for link in links] == ["/", "/config", "/status"]
    labels = [
        link.text.removeprefix(link.query(".console-nav-icon").text).strip() for link in links
    ]  # type: ignore[union-attr]
    assert labels == ["Agents", "Config", "Status"]
    current = [link.get("href") for link in links if link.get("aria-current") == "page"]
    assert current == [path]
