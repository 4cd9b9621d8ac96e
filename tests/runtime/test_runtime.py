"""`parlour.runtime.runtime`: locks, saving, streams, timers, io, the bus, ending.

The runtime is driven directly (no HTTP). Anything that happens in the background (a timer,
an io thread, a bus delivery) is awaited with `until(...)`: a bounded poll of the runtime's
own state, never a sleep that hopes the work is done by then.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter as Tally
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from htpy import Element, div, span

from parlour import Component, after, end, event, io, patch_signals, publish, subscribe
from parlour.bus import InProcessBus
from parlour.bus.event import Event as BusEvent
from parlour.core import kernel
from parlour.core.codec import decode
from parlour.core.fragments import Close, Elements, Fragment, Signals
from parlour.runtime import Connection, RestoreBusy, Runtime
from parlour.runtime.runtime import new_cid
from parlour.stores import MemoryStore
from parlour.stores.protocol import ConversationStore

# -- components ----------------------------------------------------------------------------------


class Counter(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[span(".count")[self.count]]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def ping(self) -> Any:
        """A patch that cannot be coalesced away (signals are never dropped)."""
        self.count += 1
        return patch_signals(count=self.count)

    @event
    def quit(self) -> Any:
        return end("bye")


class Ticker(Component):
    ticks: int = 0
    payloads: list[Any] = []

    def render(self) -> Element:
        return div(self.root)[self.ticks]

    @event
    def soon(self) -> Any:
        return after(0, self.tick, "now")

    @event
    def later(self) -> Any:
        return after(100, self.tick, "later")

    def tick(self, payload: Any) -> None:
        self.ticks += 1
        self.payloads.append(payload)


work_threads: list[int] = []
release_work = threading.Event()


def work(payload: str) -> str:
    work_threads.append(threading.get_ident())
    if payload == "wait":
        assert release_work.wait(5), "the test never released the io work"
    if payload == "boom":
        raise ValueError("boom")
    return payload.upper()


class Worker(Component):
    result: str = ""
    error: str = ""

    def render(self) -> Element:
        return div(self.root)[self.result, self.error]

    @event
    def fetch(self, payload: str) -> Any:
        return io(lambda: work(payload), resume=self.fetched)

    def fetched(self, value: str) -> None:
        self.result = value

    def on_error_fetched(self, error: Exception) -> None:
        self.error = f"{type(error).__name__}: {error}"


class CarelessWorker(Component):
    """Has no `on_error_<method>`: a failure shows as an error block."""

    def render(self) -> Element:
        return div(self.root)["careless"]

    @event
    def fetch(self) -> Any:
        return io(lambda: work("boom"), resume=self.fetched)

    def fetched(self, value: str) -> None:
        pass


class Listener(Component):
    seen: list[int] = []

    def render(self) -> Element:
        return div(self.root)[len(self.seen)]

    def start(self) -> Any:
        return subscribe("news.*", self.arrived)

    def arrived(self, ev: BusEvent) -> None:
        self.seen.append(ev.payload["n"])

    @event
    def shout(self, n: int) -> Any:
        return publish("news.local", {"n": n})


class Waker(Component):
    woke: int = 0

    def render(self) -> Element:
        return div(self.root)[self.woke]

    def wakeup(self) -> None:
        self.woke += 1


# -- helpers -------------------------------------------------------------------------------------


class Clock:
    """A manual clock: the runtime reads it for `now`, real time is only used by asyncio."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait, at most `timeout` seconds, for `condition()` to hold (polling the loop)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the state lives in the runtime, not an Event
            await asyncio.sleep(0.001)


@pytest.fixture
async def runtimes() -> AsyncIterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(**options: Any) -> Runtime:
        runtime = Runtime(**options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(runtimes: Callable[..., Runtime], clock: Clock) -> Runtime:
    return runtimes(clock=clock)


async def mint(runtime: Runtime, root: Component) -> str:
    live, _ = await runtime.mint(root, owner="owner", base="/_parlour")
    return live.conv.id


def top(runtime: Runtime, cid: str) -> Any:
    conv = runtime.live[cid].conv
    assert conv.top is not None
    return conv.instances[conv.top].component


def browser_event(runtime: Runtime, cid: str, name: str, payload: Any = None) -> kernel.Event:
    iid = runtime.live[cid].conv.top
    assert iid is not None
    return kernel.Event(iid, name, payload, now=runtime.clock())


async def send(runtime: Runtime, cid: str, name: str, payload: Any = None) -> bool:
    return await runtime.dispatch(cid, browser_event(runtime, cid, name, payload))


async def stored(store: ConversationStore, cid: str) -> Any:
    data = await store.load(cid)
    assert data is not None, f"{cid} is not in the store"
    conv = decode(data)
    assert conv.top is not None
    return conv.instances[conv.top].component


async def drain(conn: Connection) -> list[Fragment]:
    batch = await conn.take(0)
    return batch or []


# -- conversations, locks, saving ------------------------------------------------------------


async def test_mint_saves_the_new_conversation(rt: Runtime) -> None:
    cid = await mint(rt, Counter(count=3))
    assert cid in rt.live
    assert (await stored(rt.store, cid)).count == 3
    assert rt.live[cid].conv.owner == "owner"


async def test_dispatch_saves_before_it_returns(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    assert await send(rt, cid, "inc")
    assert (await stored(rt.store, cid)).count == 1
    assert await send(rt, cid, "inc")
    assert (await stored(rt.store, cid)).count == 2


async def test_dispatch_to_an_unknown_conversation_is_false(rt: Runtime) -> None:
    assert not await rt.dispatch("nosuch", kernel.Event("p1", "inc"))
    assert not await rt.dispatch("../bad", kernel.Event("p1", "inc"))
    assert await rt.get("nosuch") is None


class YieldingStore(MemoryStore):
    """Saves take a few loop turns, and count how many run at once per conversation."""

    def __init__(self) -> None:
        super().__init__()
        self.active: Tally[str] = Tally()
        self.most: Tally[str] = Tally()
        self.saves = 0

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        await self._counted(cid, lambda: MemoryStore.save(self, cid, data, touched=touched))

    async def save_records(
        self, cid: str, head: bytes, records: list[bytes], *, touched: float
    ) -> None:  # how the runtime saves to a memory store (a RecordStore)
        await self._counted(
            cid, lambda: MemoryStore.save_records(self, cid, head, records, touched=touched)
        )

    async def _counted(self, cid: str, saving: Callable[[], Awaitable[None]]) -> None:
        self.active[cid] += 1
        self.most[cid] = max(self.most[cid], self.active[cid])
        try:
            for _ in range(self.saves % 4):
                await asyncio.sleep(0)
            self.saves += 1
            await saving()
        finally:
            self.active[cid] -= 1


async def test_one_lock_per_conversation_serialises_concurrent_events(
    runtimes: Callable[..., Runtime],
) -> None:
    store = YieldingStore()
    rt = runtimes(store=store)
    cid = await mint(rt, Counter())
    events = [browser_event(rt, cid, "inc") for _ in range(50)]
    results = await asyncio.gather(*(rt.dispatch(cid, e) for e in events))
    assert all(results)
    assert top(rt, cid).count == 50
    assert (await stored(store, cid)).count == 50  # the last save is the newest value
    assert store.most[cid] == 1  # never two saves of one conversation at once


async def test_different_conversations_do_not_wait_for_each_other(
    runtimes: Callable[..., Runtime],
) -> None:
    class GatedStore(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.blocked: str | None = None
            self.entered = asyncio.Event()
            self.gate = asyncio.Event()

        async def save_records(
            self, cid: str, head: bytes, records: list[bytes], *, touched: float
        ) -> None:  # how the runtime saves to a memory store (a RecordStore)
            if cid == self.blocked:
                self.entered.set()
                await self.gate.wait()
            await super().save_records(cid, head, records, touched=touched)

    store = GatedStore()
    rt = runtimes(store=store)
    slow, fast = await mint(rt, Counter()), await mint(rt, Counter())
    store.blocked = slow
    first = asyncio.ensure_future(send(rt, slow, "inc"))
    second = asyncio.ensure_future(send(rt, slow, "inc"))
    async with asyncio.timeout(5):
        await store.entered.wait()
    # `slow` is stuck in its save, holding its lock; `fast` goes ahead.
    async with asyncio.timeout(5):
        assert await send(rt, fast, "inc")
    assert (await stored(store, fast)).count == 1
    assert not first.done()
    assert not second.done()  # queued behind the first, on the same lock
    store.gate.set()
    async with asyncio.timeout(5):
        assert await first
        assert await second
    assert (await stored(store, slow)).count == 2


async def test_a_conversation_is_loaded_from_the_store_once(
    runtimes: Callable[..., Runtime],
) -> None:
    first = runtimes()
    cid = await mint(first, Counter(count=7))
    data = await first.store.load(cid)
    assert data is not None
    store = MemoryStore()
    await store.save(cid, data, touched=0.0)
    second = runtimes(store=store)
    lives = await asyncio.gather(*(second.get(cid) for _ in range(10)))
    assert all(live is lives[0] for live in lives)
    assert lives[0] is not None
    assert lives[0].restored


# -- streams -------------------------------------------------------------------------------------


async def test_connect_queues_a_full_render(rt: Runtime) -> None:
    cid = await mint(rt, Counter(count=4))
    conn = await rt.connect(cid)
    assert conn is not None
    batch = await drain(conn)
    assert len(batch) == 1
    render = batch[0]
    assert isinstance(render, Elements)
    assert (render.selector, render.mode, render.key) == ("#root", "inner", "#root")
    assert '<span class="count">4</span>' in render.html


async def test_connect_to_an_unknown_conversation_is_none(rt: Runtime) -> None:
    assert await rt.connect("nosuch") is None


async def test_events_reach_every_open_stream(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    one, two = await rt.connect(cid), await rt.connect(cid)
    assert one is not None
    assert two is not None
    await drain(one)
    await drain(two)
    await send(rt, cid, "inc")
    for conn in (one, two):
        [patch] = await drain(conn)
        assert isinstance(patch, Elements)
        assert patch.key == rt.live[cid].conv.top
        assert '<span class="count">1</span>' in patch.html


async def test_disconnect_releases_the_connection(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    before = rt.connection_count
    conn = await rt.connect(cid)
    assert conn is not None
    assert rt.connection_count == before + 1
    rt.disconnect(conn)
    assert rt.connection_count == before
    await drain(conn)  # the first render, queued before the disconnect
    await send(rt, cid, "inc")
    assert await drain(conn) == []  # a released connection gets nothing more
    rt.disconnect(conn)  # twice is harmless
    assert rt.connection_count == before


async def test_a_stale_stream_gets_one_fresh_full_render(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes(queue_limit=3)
    cid = await mint(rt, Counter())
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    for _ in range(3):
        await send(rt, cid, "ping")  # a morph + signals each; signals never coalesce
    assert conn.stale
    backlog = await drain(conn)
    assert not any(isinstance(f, Elements) for f in backlog)  # page patches dropped, not sent
    await rt.refresh(conn)
    assert not conn.stale
    [render] = await drain(conn)
    assert isinstance(render, Elements)
    assert render.selector == "#root"
    assert '<span class="count">3</span>' in render.html


async def test_a_reconnect_with_the_last_event_id_gets_what_it_missed(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    seen = conn.event_id
    rt.disconnect(conn)
    await send(rt, cid, "inc")
    await send(rt, cid, "ping")
    again = await rt.connect(cid, last_event_id=seen)
    assert again is not None
    assert again.replayed == 2
    batch = await drain(again)
    assert not any(isinstance(f, Elements) and f.selector == "#root" for f in batch)
    assert Signals({"count": 2}) in batch
    assert again.event_id == rt.live[cid].last_event_id


async def test_a_page_that_never_opened_a_stream_keeps_no_outbox(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    await send(rt, cid, "inc")  # no stream has an id to replay from: nothing to keep
    assert rt.live[cid].outbox is None
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    assert rt.live[cid].outbox is None  # an idle open page holds none either
    await send(rt, cid, "inc")
    outbox = rt.live[cid].outbox
    assert outbox is not None
    assert [seq for seq, _ in outbox] == [rt.live[cid].seq]


@pytest.mark.parametrize("last", ["", "garbage", "other.1", "x.99999"])
async def test_a_reconnect_with_an_unusable_id_gets_a_full_render(rt: Runtime, last: str) -> None:
    cid = await mint(rt, Counter())
    conn = await rt.connect(cid, last_event_id=last)
    assert conn is not None
    [render] = await drain(conn)
    assert isinstance(render, Elements)
    assert render.selector == "#root"


async def test_a_restored_conversation_wakes_up_and_renders(
    runtimes: Callable[..., Runtime],
) -> None:
    first = runtimes()
    cid = await mint(first, Waker())
    data = await first.store.load(cid)
    assert data is not None
    store = MemoryStore()
    await store.save(cid, data, touched=0.0)
    second = runtimes(store=store)
    conn = await second.connect(cid)
    assert conn is not None
    [render] = await drain(conn)
    assert isinstance(render, Elements)
    assert render.selector == "#root"
    assert top(second, cid).woke == 1
    assert (await stored(store, cid)).woke == 1  # the wakeup's change was saved
    # A second stream of the now-live conversation does not wake it again.
    assert await second.connect(cid) is not None
    assert top(second, cid).woke == 1


# -- ending --------------------------------------------------------------------------------------


async def test_an_ended_conversation_closes_its_streams_and_is_forgotten(rt: Runtime) -> None:
    cid = await mint(rt, Counter())
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    assert await send(rt, cid, "quit")
    batch = await drain(conn)
    assert batch[-1] == Close()
    assert conn.closed
    assert cid not in rt.live
    assert await rt.store.load(cid) is None
    assert not await send_raw(rt, cid)
    assert await rt.connect(cid) is None


async def send_raw(rt: Runtime, cid: str) -> bool:
    return await rt.dispatch(cid, kernel.Event("p1", "inc"))


async def test_end_cancels_the_conversations_timers(rt: Runtime) -> None:
    cid = await mint(rt, Ticker())
    await send(rt, cid, "later")
    assert rt.timer_count == 1
    assert await rt.end(cid)
    assert rt.timer_count == 0
    assert cid not in rt.live
    assert await rt.store.load(cid) is None
    assert not await rt.end(cid)


async def test_reap_ends_idle_conversations(runtimes: Callable[..., Runtime], clock: Clock) -> None:
    rt = runtimes(clock=clock, ttl=60.0)
    idle = await mint(rt, Counter())
    clock.now += 100
    busy = await mint(rt, Counter())
    assert await rt.reap() == [idle]
    assert idle not in rt.live
    assert await rt.store.load(idle) is None
    assert busy in rt.live


async def test_close_closes_every_stream_and_cancels_timers(
    runtimes: Callable[..., Runtime],
) -> None:
    rt = runtimes()
    cid = await mint(rt, Ticker())
    conn = await rt.connect(cid)
    assert conn is not None
    await send(rt, cid, "later")
    await rt.close()
    assert rt.timer_count == 0
    assert conn.closed
    assert (await drain(conn))[-1] == Close()
    await rt.close()  # idempotent


async def test_too_many_restores_at_once_is_refused(runtimes: Callable[..., Runtime]) -> None:
    rt = runtimes(max_restores=0)
    with pytest.raises(RestoreBusy):
        await rt.get("somecid")


# -- timers --------------------------------------------------------------------------------------


async def test_a_timer_fires_and_its_result_is_saved(rt: Runtime) -> None:
    cid = await mint(rt, Ticker())
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    await send(rt, cid, "soon")
    await until(lambda: top(rt, cid).ticks == 1)
    assert top(rt, cid).payloads == ["now"]
    assert rt.timer_count == 0
    assert rt.live[cid].conv.timers == ()
    await until(lambda: len(conn) > 0)
    [patch] = await drain(conn)
    assert isinstance(patch, Elements)
    assert ">1</div>" in patch.html
    assert (await stored(rt.store, cid)).ticks == 1


async def test_a_pending_timer_is_recorded_and_not_fired_early(rt: Runtime) -> None:
    cid = await mint(rt, Ticker())
    await send(rt, cid, "later")
    assert rt.timer_count == 1
    [timer] = rt.live[cid].conv.timers
    assert timer.method == "tick"
    assert timer.due == rt.clock() + 100
    for _ in range(20):
        await asyncio.sleep(0)
    assert top(rt, cid).ticks == 0
    stored_conv = decode(await rt.store.load(cid) or b"")
    assert len(stored_conv.timers) == 1  # persisted with the conversation


async def test_timers_survive_a_restart(runtimes: Callable[..., Runtime]) -> None:
    before = Clock(1000.0)
    first = runtimes(clock=before)
    cid = await mint(first, Ticker())
    await send(first, cid, "later")  # due at 1100
    data = await first.store.load(cid)
    assert data is not None
    store = MemoryStore()
    await store.save(cid, data, touched=1000.0)
    second = runtimes(store=store, clock=Clock(2000.0))  # restarted after the due time
    assert await second.get(cid) is not None
    await until(lambda: top(second, cid).ticks == 1)
    assert top(second, cid).payloads == ["later"]


# -- io ------------------------------------------------------------------------------------------


async def test_io_runs_off_the_loop_and_delivers_its_result(rt: Runtime) -> None:
    cid = await mint(rt, Worker())
    other = await mint(rt, Counter())
    release_work.clear()
    work_threads.clear()
    await send(rt, cid, "fetch", "wait")
    await until(lambda: len(work_threads) == 1)
    # The work is blocked in its thread; the loop still serves other conversations.
    assert await send(rt, other, "inc")
    assert top(rt, cid).result == ""
    release_work.set()
    await until(lambda: top(rt, cid).result == "WAIT")
    assert work_threads[0] != threading.get_ident()
    assert (await stored(rt.store, cid)).result == "WAIT"


async def test_an_io_error_goes_to_on_error(rt: Runtime) -> None:
    cid = await mint(rt, Worker())
    await send(rt, cid, "fetch", "boom")
    await until(lambda: top(rt, cid).error != "")
    assert top(rt, cid).error == "ValueError: boom"
    assert top(rt, cid).result == ""


async def test_an_io_error_without_a_handler_shows_an_error_block(rt: Runtime) -> None:
    cid = await mint(rt, CarelessWorker())
    conn = await rt.connect(cid)
    assert conn is not None
    await drain(conn)
    await send(rt, cid, "fetch")
    seen: list[Fragment] = []
    async with asyncio.timeout(5):
        while not any(isinstance(f, Elements) and f.error for f in seen):
            seen += await conn.take(5) or []
    [block] = [f for f in seen if isinstance(f, Elements) and f.error]
    assert 'role="alert"' in block.html
    assert "ValueError: boom" in block.html
    assert cid in rt.live  # the conversation carries on


# -- the bus -------------------------------------------------------------------------------------


async def test_a_subscription_delivers_bus_events(runtimes: Callable[..., Runtime]) -> None:
    bus = InProcessBus()
    rt = runtimes(bus=bus)
    try:
        cid = await mint(rt, Listener())
        assert rt.subscription_count == 1
        await bus.publish("news.world", {"n": 1})  # right away: nothing may be missed
        await bus.publish("sport.world", {"n": 2})  # not matching
        await send(rt, cid, "shout", 3)  # publish() from a handler
        await until(lambda: top(rt, cid).seen == [1, 3])
        assert await rt.end(cid)
        assert rt.subscription_count == 0
    finally:
        await rt.close()
        await bus.close()
    await until(lambda: bus.subscriber_count == 0)


async def test_without_a_bus_subscribe_and_publish_are_dropped(rt: Runtime) -> None:
    cid = await mint(rt, Listener())
    assert rt.subscription_count == 0
    assert await send(rt, cid, "shout", 1)
    assert top(rt, cid).seen == []


class Farewell(Component):
    """Publishes its own id when it is stopped, so a test can see stop hooks run."""

    def render(self) -> Element:
        return div(self.root)["bye"]

    def stop(self) -> Any:
        return publish("farewell", self.iid)


async def test_reaping_runs_stop_hooks_even_for_conversations_only_in_the_store(
    clock: Clock,
) -> None:
    store, bus = MemoryStore(), InProcessBus()
    first = Runtime(store=store, bus=bus, clock=clock, ttl=60.0)
    live_cid = await mint(first, Farewell())
    stored_cid = await mint(first, Farewell())
    first.live.pop(stored_cid)  # as after a restart: only the store knows it
    farewells = bus.subscribe("farewell")
    clock.now += 61
    assert sorted(await first.reap()) == sorted([live_cid, stored_cid])
    async with asyncio.timeout(2):
        said = {(await anext(farewells)).payload for _ in range(2)}
    assert said == {"p1"}  # each conversation's root said goodbye (both roots are p1)
    assert await store.count() == 0
    farewells.close()
    await first.close()
    await bus.close()


def test_a_new_conversation_id_never_starts_with_a_dash() -> None:
    # `parlour inspect CID` would read a leading '-' as an option; ids are pasted into shells.
    ids = [new_cid() for _ in range(2000)]
    assert all(not cid.startswith("-") for cid in ids)
    assert len(set(ids)) == len(ids)
    assert all(len(cid) == 16 for cid in ids)
