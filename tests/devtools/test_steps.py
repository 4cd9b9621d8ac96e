"""`parlour.devtools.steps`: the step log records what made each step, only when attached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from htpy import Element, div

from parlour import Component, after, dispatch_to, event, io
from parlour.bus import InProcessBus
from parlour.core import kernel
from parlour.devtools.steps import QUIET, StepLog
from parlour.runtime import Runtime
from parlour.stores import MemoryStore

from .components import Board, Counter


class Child(Component, name="devtools_tests.Child"):
    def render(self) -> Element:
        return div(self.root)["child"]

    @event
    def tell(self) -> Any:
        return dispatch_to(self.parent.heard, "hello")


class Parent(Component, name="devtools_tests.Parent"):
    heard_from_child: str = ""

    def children(self) -> dict[str, Component]:
        return {"child": Child()}

    def render(self) -> Element:
        return div(self.root)[self.slot("child"), self.heard_from_child]

    def heard(self, message: str) -> None:
        self.heard_from_child = message


class Waiter(Component, name="devtools_tests.Waiter"):
    done: int = 0
    result: str = ""

    def render(self) -> Element:
        return div(self.root)[self.done]

    @event
    def soon(self) -> Any:
        return after(0, self.ring, "rung")

    def ring(self, payload: str) -> None:
        self.done += 1
        self.result = payload

    @event
    def work(self) -> Any:
        return io(lambda: "computed", self.finished)

    def finished(self, value: str) -> None:
        self.result = value

    @event
    def fail(self) -> Any:
        return io(_broken, self.finished)

    def on_error_finished(self, error: Exception) -> None:
        self.result = f"failed: {error}"


def _broken() -> str:
    raise RuntimeError("the service is down")


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    rt = Runtime(bus=InProcessBus())
    yield rt
    await rt.close()


async def until(check: Any, timeout: float = 2.0) -> None:
    """Wait, at most `timeout` seconds, for background work the log records (a bounded poll)."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - the state lives in the log, not an Event
            await asyncio.sleep(0.005)


async def test_without_attach_the_runtime_runs_its_own_method_untouched(runtime: Runtime) -> None:
    assert "_run" not in vars(runtime)  # no wrapper: nothing of the inspector runs per step


async def test_a_browser_event_is_recorded_with_its_changes_fragments_and_signals(
    runtime: Runtime,
) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    cid = live.conv.id

    await runtime.dispatch(cid, kernel.Event("p1", "inc", signals={"draft": "hi"}))

    (record,) = log.records(cid)
    assert (record.kind, record.what, record.depth_before, record.depth) == (
        "event",
        "p1.inc",
        0,
        1,
    )
    assert record.title == "event p1.inc"
    assert [str(c) for c in record.changes] == ["p1.count: 0 -> 1"]
    (patched,) = record.fragments
    assert patched.startswith("patch #p1 outer, ")
    assert patched.endswith(" bytes")
    assert record.signals == {"draft": "hi"}
    assert log.signals[cid][1] == {"draft": "hi"}


async def test_timers_and_io_results_are_recorded_as_such(runtime: Runtime) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Waiter(), owner=None, base="/_parlour")
    cid = live.conv.id

    await runtime.dispatch(cid, kernel.Event("p1", "soon"))
    await until(lambda: any(r.kind == "timer" for r in log.records(cid)))
    await runtime.dispatch(cid, kernel.Event("p1", "work"))
    await until(lambda: any(r.kind == "io" for r in log.records(cid)))
    await runtime.dispatch(cid, kernel.Event("p1", "fail"))
    await until(lambda: any(r.kind == "io error" for r in log.records(cid)))

    kinds = [(r.kind, r.what) for r in log.records(cid)]
    assert kinds == [
        ("event", "p1.soon"),
        ("timer", "p1.ring"),
        ("event", "p1.work"),
        ("io", "p1.finished"),
        ("event", "p1.fail"),
        ("io error", "p1.finished"),
    ]
    soon, timer, work, done, _, failed = log.records(cid)
    assert failed.payload == "RuntimeError('the service is down')"
    assert [str(c) for c in failed.changes] == [
        "p1.result: 'computed' -> 'failed: the service is down'"
    ]
    assert any(c.startswith("schedule timer") for c in soon.commands)
    assert timer.depth == soon.depth  # internal events take no history step
    assert work.commands == ("io -> p1.finished",)
    assert done.payload == "'computed'"


async def test_bus_events_are_recorded_with_their_topic(runtime: Runtime) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Board(), owner=None, base="/_parlour")
    cid = live.conv.id
    assert runtime.bus is not None

    await runtime.bus.publish("news.today", {"x": 1})
    await until(lambda: any(r.kind == "bus" for r in log.records(cid)))

    (record,) = [r for r in log.records(cid) if r.kind == "bus"]
    assert (record.what, record.payload) == ("p1.heard", "news.today")
    assert [str(c) for c in record.changes] == ["p1.ticks: 0 -> 100"]


async def test_going_back_drops_the_records_of_the_steps_it_left(runtime: Runtime) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    cid = live.conv.id
    for _ in range(3):
        await runtime.dispatch(cid, kernel.Event("p1", "inc"))

    await runtime.back(cid, to=1)

    assert [(r.kind, r.depth) for r in log.records(cid)] == [("event", 1), ("back", 1)]
    assert log.records(cid)[-1].title == "back to step 1"


async def test_a_plain_re_render_and_a_quiet_call_are_not_recorded(runtime: Runtime) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    cid = live.conv.id

    connection = await runtime.connect(cid)  # a stream opened: a full render
    assert connection is not None

    def quiet(conv: Any) -> kernel.Step:
        return kernel.Step(conv)

    setattr(quiet, QUIET, True)
    await runtime.apply(cid, quiet)

    assert log.records(cid) == []


async def test_the_log_is_bounded_per_conversation_and_in_conversations(runtime: Runtime) -> None:
    log = StepLog(limit=2, conversations=1)
    log.attach(runtime)
    first, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    for _ in range(3):
        await runtime.dispatch(first.conv.id, kernel.Event("p1", "inc"))
    second, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    await runtime.dispatch(second.conv.id, kernel.Event("p1", "inc"))

    assert log.records(first.conv.id) == []  # the least recently changed was forgotten
    assert [r.depth for r in log.records(second.conv.id)] == [1]


async def test_a_step_wakes_whoever_listens_to_its_conversation(runtime: Runtime) -> None:
    log = StepLog()
    log.attach(runtime)
    live, _ = await runtime.mint(Counter(), owner=None, base="/_parlour")
    waiter = log.listen(live.conv.id)

    await runtime.dispatch(live.conv.id, kernel.Event("p1", "inc"))

    assert waiter.is_set()
    log.unlisten(live.conv.id, waiter)


async def test_dispatch_to_the_end_and_a_restore_are_recorded_as_such() -> None:
    store = MemoryStore()
    first = Runtime(store=store)
    live, _ = await first.mint(Parent(), owner=None, base="/_parlour")
    cid = live.conv.id
    second = Runtime(store=store)  # another process: the conversation comes from the store
    log = StepLog()
    log.attach(second)
    try:
        assert await second.connect(cid) is not None  # its first stream wakes it up
        await second.dispatch(cid, kernel.Event("p2", "tell"))
        await until(lambda: any(r.kind == "dispatch_to" for r in log.records(cid)))
        await second.end(cid)

        assert [(r.kind, r.what) for r in log.records(cid)] == [
            ("wakeup", "restored from the store: wakeup"),
            ("event", "p2.tell"),
            ("dispatch_to", "p1.heard"),
            ("end", "the conversation ended"),
        ]
        assert log.records(cid)[2].payload == "'hello'"
        assert log.records(cid)[-1].title == "the conversation ended"
    finally:
        await second.close()
        await first.close()
