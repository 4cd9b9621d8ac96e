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
import html
import random
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from parlour.console.app import Console
from parlour.console.hub import Hub
from parlour.console.panels import dom_id
from parlour.core.fragments import Elements, Fragment
from parlour.runtime.connection import Connection
from parlour.testing import AsgiClient, SseEvent, SseStream

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
    """Every non-empty batch a connection's writer took, by connection id: its size."""
    taken: dict[int, list[int]] = {}
    take = Connection.take

    async def counting(
        self: Connection, timeout: float | None = None, *, window: float = 0.0
    ) -> list[Fragment] | None:
        batch = await take(self, timeout, window=window)
        if batch:
            taken.setdefault(self.id, []).append(len(batch))
        return batch

    monkeypatch.setattr(Connection, "take", counting)
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


class _Rows(HTMLParser):
    """The agent rows (id -> data-state) and question cards in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.agents: dict[str, str] = {}
        self.questions: list[str] = []
        self.cards: dict[str, str] = {}
        """The question cards: element id -> question id."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        ident = attr.get("id") or ""
        self.ids.add(ident)
        classes = (attr.get("class") or "").split()
        if "console-agent" in classes and ident.startswith("agent-"):
            self.agents[ident] = attr.get("data-state") or ""
        qid = attr.get("data-question")
        if qid:
            self.questions.append(qid)
            self.cards[ident] = qid


def rows(markup: str) -> _Rows:
    parser = _Rows()
    parser.feed(markup)
    parser.close()
    return parser


def selected_ids(selector: str | None) -> list[str]:
    """The ids of a selector such as `#a, #b` (the only selectors the views send)."""
    assert selector, "a patch without a selector"
    parts = [part.strip() for part in selector.split(",")]
    assert all(re.fullmatch(r"#[^\s#.,]+", part) for part in parts), selector
    return [part[1:] for part in parts]


class PageModel:
    """The agents and questions a tab shows, kept up to date as Datastar applies patches:
    morphed by id (a whole list replaces its items, a single item replaces itself in place),
    prepended into a list (new items in front of those shown), or removed by id."""

    def __init__(self) -> None:
        self.agents: dict[str, str] = {}
        """Agent row id -> its data-state, in page order."""
        self.questions: dict[str, str] = {}
        """Question card id -> its question id, in page order."""
        self.patches = 0

    def apply(self, event: SseEvent) -> None:
        if event.type != "datastar-patch-elements":
            return
        self.patches += 1
        if event.mode == "remove":
            assert not event.elements, "a remove carries no elements"
            for ident in selected_ids(event.selector):
                if ident in self.agents:
                    del self.agents[ident]
                elif ident in self.questions:
                    del self.questions[ident]
                else:  # the log's entries, which this model does not follow
                    assert not ident.startswith(("agent-", "question-")), (
                        f"a remove of #{ident}, which the page does not show"
                    )
            return
        found = rows(event.elements)
        if event.mode == "prepend":
            (container,) = selected_ids(event.selector)
            if container == "agents":
                assert found.agents, "a prepend into #agents without rows"
                assert not found.cards
                twice = set(found.agents) & set(self.agents)
                assert not twice, f"{twice} prepended while shown: the page would show them twice"
                self.agents = {**found.agents, **self.agents}
            elif container == "questions":
                assert found.cards, "a prepend into #questions without cards"
                assert not found.agents
                twice = set(found.cards) & set(self.questions)
                assert not twice, f"{twice} prepended while shown: the page would show them twice"
                self.questions = {**found.cards, **self.questions}
            else:  # the log: no rows or cards in it
                assert container == "log", f"a prepend into #{container}"
                assert not found.agents
                assert not found.cards
            return
        # Morphed by id: `outer`, or `inner` for the first render, which fills `#root`.
        assert event.mode == "outer" or (event.mode == "inner" and event.selector), (
            f"unexpected mode {event.mode!r} (selector {event.selector!r})"
        )
        if "agents" in found.ids:  # the whole list (or the whole page): replaces the rows
            self.agents = dict(found.agents)
        else:  # single rows, morphed into their place
            for ident, state in found.agents.items():
                assert ident in self.agents, f"a patch for {ident}, which the page does not show"
                self.agents[ident] = state
        if "questions" in found.ids:
            self.questions = dict(found.cards)
        else:
            for ident, qid in found.cards.items():
                assert self.questions.get(ident) == qid, f"a patch for {ident}, not shown"

    def shows(self, expected: tuple[dict[str, str], set[str]]) -> bool:
        questions = set(self.questions.values())
        return (self.agents, questions) == expected and len(questions) == len(self.questions)


def expected(hub: Hub) -> tuple[dict[str, str], set[str]]:
    """What every tab must show: the rows and pending questions of `/api/snapshot`."""
    snapshot = hub.state.snapshot()
    agents = {dom_id("agent", a["name"]): a["state"] for a in snapshot["agents"]}
    return agents, {q["id"] for q in snapshot["questions"]}


async def open_cid(client: AsgiClient, path: str = "/") -> tuple[str, str]:
    """Open a page: its conversation id and its HTML as sent."""
    response = await client.get(path)
    assert response.status == 200, response.text
    match = re.search(r"@get\(['\"][^'\"]*/sse/([^'\"]+)['\"]", html.unescape(response.text))
    assert match is not None, f"no SSE URL in the shell:\n{response.text[:2000]}"
    return match.group(1), response.text


async def follow_until(
    sse: SseStream, model: PageModel, done: Callable[[], bool], timeout: float = WAIT
) -> None:
    """Apply the stream's events to `model` until `done()` (TimeoutError after `timeout`)."""
    async with asyncio.timeout(timeout):
        while not done():
            model.apply(await sse.next_event(timeout))


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
    console: Console, hub: Hub, client: AsgiClient, sunk: Sunk, batches: dict[int, list[int]]
) -> None:
    hold_window(console)
    cid, _ = await open_cid(client)
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        model = PageModel()
        model.apply(await sse.next_event())  # the full render of a fresh stream
        assert model.agents == {}
        (connection,) = console.pages.runtime.live[cid].connections

        before = hub.last_id
        await start_all(hub)
        flush_now(console)
        await follow_until(sse, model, lambda: len(model.agents) == AGENTS)
        await mixed(hub, MIXED)
        flush_now(console)
        published = hub.last_id - before
        assert published >= AGENTS + MIXED

        final = expected(hub)
        await follow_until(sse, model, lambda: model.shows(final))

    pending = final[1]
    assert len(final[0]) == AGENTS
    assert pending, "the profile leaves some questions waiting"
    assert set(final[0].values()) >= {"running", "completed", "failed", "blocked"}
    # Two flushes: the stream took at most the first render and one batch per flush, and
    # never more patches than the views produced (coalescing only removes).
    taken = batches[connection.id]
    assert len(taken) <= 1 + 2
    assert model.patches <= 1 + sunk.fragments
    assert model.patches < published / 4


async def test_a_page_opened_after_the_burst_renders_exactly_the_snapshot(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    hold_window(console)
    await start_all(hub)
    await mixed(hub, MIXED)
    flush_now(console)

    agents, pending = expected(hub)
    for path in ("/", "/projector", "/mobile"):
        _, markup = await open_cid(client, path)
        shown = rows(markup)
        assert len(shown.agents) == AGENTS, path
        assert shown.agents == agents, path
        assert sorted(shown.questions) == sorted(pending), path  # each card exactly once

    # A fresh stream of such a page starts from the same state (R1).
    cid, _ = await open_cid(client)
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        model = PageModel()
        model.apply(await sse.next_event())
        assert model.shows((agents, pending))


async def test_with_the_real_window_a_stream_gets_at_most_one_batch_per_flush(
    console: Console, hub: Hub, client: AsgiClient, sunk: Sunk, batches: dict[int, list[int]]
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
    cid, _ = await open_cid(client)
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        model = PageModel()
        model.apply(await sse.next_event())
        (connection,) = console.pages.runtime.live[cid].connections
        await start_all(hub)
        await mixed(hub, MIXED)
        final = expected(hub)
        await follow_until(sse, model, lambda: model.shows(final))

    assert flushes >= 1
    assert len(batches[connection.id]) <= 1 + flushes
    assert model.patches <= 1 + sunk.fragments
    assert views.renders <= len(views.names) + flushes * len(views.names)


async def test_queues_stay_bounded_and_a_stalled_tab_resnapshots_to_the_final_state(
    console: Console, hub: Hub, client: AsgiClient
) -> None:
    hold_window(console)
    runtime = console.pages.runtime
    runtime.queue_limit = 16  # fewer than the 70 rows one flush may change
    lengths: dict[int, int] = {}

    def watch(connection: Connection) -> None:
        push = connection.push

        def pushed(fragments: Any, *, seq: int | None = None, urgent: bool = False) -> None:
            push(fragments, seq=seq, urgent=urgent)
            lengths[connection.id] = max(lengths.get(connection.id, 0), len(connection))

        connection.push = pushed  # the runtime's fan-out calls connection.push

    reader_cid, _ = await open_cid(client)
    stalled_cid, _ = await open_cid(client)
    stalled = await runtime.connect(stalled_cid)  # a tab whose writer never takes: a slow client
    assert stalled is not None
    try:
        async with client.stream(f"/_parlour/sse/{reader_cid}") as sse:
            model = PageModel()
            model.apply(await sse.next_event())
            (reader,) = runtime.live[reader_cid].connections
            for connection in (reader, stalled):
                assert connection.limit == 16
                watch(connection)

            await start_all(hub)
            flush_now(console)
            await mixed(hub, MIXED, every=30, flush=lambda: flush_now(console))
            flush_now(console)
            final = expected(hub)
            await follow_until(sse, model, lambda: model.shows(final))

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
        shown = rows(full[0].html)
        assert (shown.agents, set(shown.questions)) == final
    finally:
        runtime.disconnect(stalled)
