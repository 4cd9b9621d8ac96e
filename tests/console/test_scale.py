"""The console under the demo profile of R22, in-process: 70 agents starting at once, then a
few hundred mixed events; every tab ends up showing exactly what `/api/snapshot` says, streams
get a few coalesced batches instead of one patch per event, and per-stream queues stay bounded
(R3, R5, R22 of ../shared/reference/dashboards-remora-infra.md §7).

Nothing here asserts on wall-clock time. Most tests hold the shared views' window timer off
(`views.window` set to an hour) and flush by hand, so the number of flushes is theirs to
choose; one runs with the real 0.1 s window and checks relations that hold whatever the timing
(a stream never gets more batches than there were flushes). Waits for SSE events are bounded.
`benchmarks/console_scale.py` measures the same profile against a real server, in time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import pytest

from parlour.console.app import Console
from parlour.console.hub import Hub
from parlour.console.panels import dom_id
from parlour.core.fragments import Elements, Fragment
from parlour.runtime.connection import Connection
from parlour.testing import AsgiClient, Document, Page

AGENTS = 70
MIXED = 300
WAIT = 5.0
"""How long a test waits for the stream to show the final state (bounded, never slept)."""
HELD = 3600.0
"""A views window no test outlives: the timer never fires, the test flushes by hand."""


# -- fixtures -----------------------------------------------------------------------------------


class Sunk:
    """What the shared views handed to the runtime: one entry per (flush, changed view)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    @property
    def fragments(self) -> int:
        return sum(n for _, n in self.calls)


@pytest.fixture
def sunk(console: Console) -> Iterator[Sunk]:
    views = console.pages.views
    fan_out = views.sink
    assert fan_out is not None
    record = Sunk()

    def sink(name: str, fragments: tuple[Fragment, ...]) -> None:
        record.calls.append((name, len(fragments)))
        fan_out(name, fragments)

    views.sink = sink
    yield record
    views.sink = fan_out


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[int]]:
    """Every non-empty batch a connection's writer took, by connection id: its size.

    The stream's writer collects each batch with `Connection.collect` (`take` ends in it too).
    """
    taken: dict[int, list[int]] = {}
    collect = Connection.collect

    def counting(self: Connection) -> list[Fragment] | None:
        batch = collect(self)
        if batch:
            taken.setdefault(self.id, []).append(len(batch))
        return batch

    monkeypatch.setattr(Connection, "collect", counting)
    return taken


def hold_window(console: Console) -> None:
    """The views' timer never fires during the test: flushes are the test's (`flush_now`)."""
    console.pages.views.window = HELD


def flush_now(console: Console) -> None:
    """What the window's timer does, now (the pending timer is cancelled first)."""
    views = console.pages.views
    views.close()
    views.flush()


# -- the page as a browser would have it ---------------------------------------------------------


class OpenTab(Protocol):
    def __call__(
        self, path: str = "/", *, stream: bool = True, strict: bool = True
    ) -> Awaitable[Page]: ...


@pytest.fixture
async def open_tab(console: Console, client: AsgiClient) -> AsyncIterator[OpenTab]:
    """Open a tab on the console (a `parlour.testing.Page`: it applies every patch as Datastar
    does, and fails on one whose target it does not show), closed after the test."""
    tabs: list[Page] = []

    async def open_(path: str = "/", *, stream: bool = True, strict: bool = True) -> Page:
        page = Page(client, runtime=console.pages.runtime, timeout=WAIT, strict=strict)
        tabs.append(page)
        return await page.open(path, stream=stream)

    yield open_
    for page in tabs:
        await page.close()


def agents_of(page: Page | Document) -> dict[str, str]:
    """The agent rows the page shows: row id -> its data-state, in page order."""
    rows = page.all('.console-agent[id^="agent-"]')
    return {row.id or "": row.get("data-state") or "" for row in rows}


def questions_of(page: Page | Document) -> list[str]:
    """The question ids of the cards the page shows, in page order."""
    return [card.get("data-question") or "" for card in page.all("[data-question]")]


def shows(page: Page, expected: tuple[dict[str, str], set[str]]) -> bool:
    """The page shows exactly the rows and pending questions of `expected`, each card once."""
    questions = questions_of(page)
    return (agents_of(page), set(questions)) == expected and len(set(questions)) == len(questions)


def patches(page: Page) -> int:
    """How many element patches the page applied (its stream's first render included)."""
    return sum(1 for e in page.events if e.type == "datastar-patch-elements")


def check_patches(page: Page) -> None:
    """The patches the views may send a tab: a remove carries no elements; a prepend brings
    rows into #agents, cards into #questions, entries (neither) into #log; anything else
    morphs by id (`outer`), or fills `#root` (`inner`, the first render). And no row or card
    is shown twice."""
    for event in page.events:
        if event.type != "datastar-patch-elements":
            continue
        if event.mode == "remove":
            assert not event.elements, "a remove carries no elements"
        elif event.mode == "prepend":
            new = Document(event.elements)
            container = (event.selector or "").removeprefix("#")
            if container == "agents":
                assert agents_of(new), "a prepend into #agents without rows"
                assert not questions_of(new)
            elif container == "questions":
                assert questions_of(new), "a prepend into #questions without cards"
                assert not agents_of(new)
            else:  # the log: no rows or cards in it
                assert container == "log", f"a prepend into #{container}"
                assert not agents_of(new)
                assert not questions_of(new)
        else:
            assert event.mode == "outer" or (event.mode == "inner" and event.selector), (
                f"unexpected mode {event.mode!r} (selector {event.selector!r})"
            )
    ids = [e.id for e in page.all('[id^="agent-"], [id^="question-"]')]
    twice = {i for i in ids if ids.count(i) > 1}
    assert not twice, f"{twice} shown twice"
    # A tab that is not strict lets patches miss, as the browser does: only log entries may
    # (a fresh full render may already lack the entries a queued remove names).
    for warning in page.warnings:
        assert "agent-" not in warning, warning
        assert "question-" not in warning, warning


def expected(hub: Hub) -> tuple[dict[str, str], set[str]]:
    """What every tab must show: the rows and pending questions of `/api/snapshot`."""
    snapshot = hub.state.snapshot()
    agents = {dom_id("agent", a["name"]): a["state"] for a in snapshot["agents"]}
    return agents, {q["id"] for q in snapshot["questions"]}


async def follow_until(page: Page, done: Callable[[], bool], timeout: float = WAIT) -> None:
    """Apply the stream's events to the page until `done()` (PageTimeout after `timeout`)."""
    await page.wait_for(lambda _: done(), timeout=timeout)
    check_patches(page)


# -- the profile ---------------------------------------------------------------------------------


def agent_names() -> list[str]:
    return [f"agent-{i:02d}" for i in range(AGENTS)]


async def start_all(hub: Hub) -> None:
    """70 agents report `agent.started` at once (one gather: the hub folds them as a batch)."""
    await asyncio.gather(
        *(hub.publish("agent.started", name, {"task": f"task {name}"}) for name in agent_names())
    )


async def mixed(
    hub: Hub,
    count: int,
    *,
    seed: int = 22,
    every: int = 0,
    flush: Callable[[], None] | None = None,
) -> None:
    """`count` mixed steps: progress, tool and model calls, completions, failures, questions,
    answers (each step publishes one event). With `every`, `flush()` runs after every `every`
    steps."""
    rng = random.Random(seed)
    names = agent_names()
    for step in range(count):
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.35:
            await hub.publish("agent.progress", name, {"message": f"step {step}"})
        elif roll < 0.60:
            await hub.publish("tool.call", name, {"tool": "grep", "n": step})
        elif roll < 0.72:
            await hub.publish("agent.completed", name, {"summary": f"done at {step}"})
        elif roll < 0.78:
            await hub.publish("agent.failed", name, {"error": f"boom at {step}"})
        elif roll < 0.92:
            options = ["yes", "no"] if rng.random() < 0.5 else None
            await hub.ask(name, f"Go on with step {step}?", options=options)
        elif roll < 0.97:
            pending = hub.state.pending_questions()
            if pending:
                question = rng.choice(pending)
                await hub.answer(question.id, (question.options or ("ok",))[0])
            else:
                await hub.publish("agent.progress", name, {"message": f"idle {step}"})
        else:
            await hub.publish("model.call", name, {"model": "small", "tokens": step})
        if every and flush is not None and (step + 1) % every == 0:
            flush()


# -- tests ---------------------------------------------------------------------------------------


async def test_a_burst_reaches_an_open_tab_as_a_few_batches_and_ends_as_the_snapshot(
    console: Console,
    hub: Hub,
    open_tab: OpenTab,
    sunk: Sunk,
    batches: dict[int, list[int]],
) -> None:
    hold_window(console)
    page = await open_tab()  # the full render of a fresh stream applied
    assert agents_of(page) == {}
    (connection,) = console.pages.runtime.live[page.cid or ""].connections

    before = hub.last_id
    await start_all(hub)
    flush_now(console)
    await follow_until(page, lambda: len(agents_of(page)) == AGENTS)
    await mixed(hub, MIXED)
    flush_now(console)
    published = hub.last_id - before
    assert published >= AGENTS + MIXED

    final = expected(hub)
    await follow_until(page, lambda: shows(page, final))

    pending = final[1]
    assert len(final[0]) == AGENTS
    assert pending, "the profile leaves some questions waiting"
    assert set(final[0].values()) >= {"running", "completed", "failed", "blocked"}
    # Two flushes: the stream took at most the first render and one batch per flush, and
    # never more patches than the views produced (coalescing only removes).
    taken = batches[connection.id]
    assert len(taken) <= 1 + 2
    assert patches(page) <= 1 + sunk.fragments
    assert patches(page) < published / 4


async def test_a_page_opened_after_the_burst_renders_exactly_the_snapshot(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    hold_window(console)
    await start_all(hub)
    await mixed(hub, MIXED)
    flush_now(console)

    agents, pending = expected(hub)
    for path in ("/", "/projector", "/mobile"):
        shell = await open_tab(path, stream=False)
        assert len(agents_of(shell)) == AGENTS, path
        assert agents_of(shell) == agents, path
        assert sorted(questions_of(shell)) == sorted(pending), path  # each card exactly once

    # A fresh stream of such a page starts from the same state (R1).
    page = await open_tab()
    assert shows(page, (agents, pending))


async def test_with_the_real_window_a_stream_gets_at_most_one_batch_per_flush(
    console: Console, hub: Hub, open_tab: OpenTab, sunk: Sunk, batches: dict[int, list[int]]
) -> None:
    views = console.pages.views
    assert views.window == hub.state.settings.window == 0.1
    flushes = 0
    flush = views.flush

    def counting_flush() -> None:
        nonlocal flushes
        flushes += 1
        flush()

    views.flush = counting_flush  # the window's timer calls views.flush
    page = await open_tab()
    (connection,) = console.pages.runtime.live[page.cid or ""].connections
    await start_all(hub)
    await mixed(hub, MIXED)
    final = expected(hub)
    await follow_until(page, lambda: shows(page, final))
    await page.close()

    assert flushes >= 1
    assert len(batches[connection.id]) <= 1 + flushes
    assert patches(page) <= 1 + sunk.fragments
    assert views.renders <= len(views.names) + flushes * len(views.names)


async def test_queues_stay_bounded_and_a_stalled_tab_resnapshots_to_the_final_state(
    console: Console, hub: Hub, open_tab: OpenTab, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_window(console)
    runtime = console.pages.runtime
    runtime.queue_limit = 16  # fewer than the 70 rows one flush may change
    lengths: dict[int, int] = {}
    push = Connection.push

    def pushed(
        self: Connection, fragments: Any, *, seq: int | None = None, urgent: bool = False
    ) -> None:
        push(self, fragments, seq=seq, urgent=urgent)
        if self.id in lengths:
            lengths[self.id] = max(lengths[self.id], len(self))

    monkeypatch.setattr(Connection, "push", pushed)  # the runtime's fan-out calls push

    def watch(connection: Connection) -> None:
        lengths[connection.id] = len(connection)

    # The reader falls behind too and resnapshots: a remove queued before its fresh full
    # render may name log entries that render no longer has, which the browser ignores.
    page = await open_tab(stream=False, strict=False)
    stalled_tab = await open_tab(stream=False)
    stalled = await runtime.connect(stalled_tab.cid or "")  # a tab whose writer never takes
    assert stalled is not None
    try:
        await page.connect()
        (reader,) = runtime.live[page.cid or ""].connections
        for connection in (reader, stalled):
            assert connection.limit == 16
            watch(connection)

        await start_all(hub)
        flush_now(console)
        await mixed(hub, MIXED, every=30, flush=lambda: flush_now(console))
        flush_now(console)
        final = expected(hub)
        await follow_until(page, lambda: shows(page, final))
        await page.close()

        assert lengths[reader.id] <= 16
        assert lengths[stalled.id] <= 16
        assert stalled.stale, "70 changed rows overflow a 16-fragment queue"
        assert stalled.coalesced > 0

        # The stalled tab's writer catches up with one fresh full render, not the backlog.
        await runtime.refresh(stalled)
        batch = await stalled.take(1.0)
        assert batch is not None
        full = [f for f in batch if isinstance(f, Elements) and f.key == "#root"]
        assert len(full) == 1
        shown = Document(full[0].html)
        assert (agents_of(shown), set(questions_of(shown))) == final
    finally:
        runtime.disconnect(stalled)
