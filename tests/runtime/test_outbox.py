"""The replay outbox is bounded in bytes, and shared views are never copied per tab.

A tab that clicks all day must cost the server what a tab that clicked once costs: the
outbox keeps the newest batches up to `OUTBOX_BYTES` (oldest dropped), a reconnect inside
that window replays exactly what it missed, one from further back gets a full render. A
shared view's update reaches every stream as the same fragment object, so a hundred tabs
hold one copy of it, not a hundred. No test here waits for time to pass.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from htpy import Element, div, p

from parlour import Component, event, shared
from parlour.core import kernel
from parlour.core.fragments import Elements, Fragment, Script, Signals
from parlour.runtime import Connection, Runtime
from parlour.runtime.live import OUTBOX_BYTES, Outbox, batch_bytes
from parlour.runtime.views import SharedViews

PAGE_TEXT = "x" * 20_000
"""A page of 20 KB: three clicks' renders overflow a 64 KB outbox."""


class BigPage(Component, name="tests.runtime.BigPage"):
    clicks: int = 0

    def render(self) -> Element:
        return div(self.root)[p[f"clicks {self.clicks}"], p[PAGE_TEXT]]

    @event
    def click(self) -> None:
        self.clicks += 1


class Dashboard(Component, name="tests.runtime.Dashboard"):
    def render(self) -> Element:
        return div(self.root)[shared("board")]


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    runtime = Runtime()
    yield runtime
    await runtime.close()


async def mint(runtime: Runtime, root: Component) -> str:
    live, _ = await runtime.mint(root, owner="owner", base="/_parlour")
    return live.conv.id


async def click(runtime: Runtime, cid: str) -> None:
    iid = runtime.live[cid].conv.top
    assert iid is not None
    assert await runtime.dispatch(cid, kernel.Event(iid, "click", None, now=runtime.clock()))


async def drain(connection: Connection) -> list[Fragment]:
    return await connection.take(0) or []


def held(outbox: Outbox) -> list[int]:
    return [seq for seq, _ in outbox]


# -- the bound --------------------------------------------------------------------------------


def test_the_outbox_never_holds_more_than_its_bound_and_keeps_the_newest_batches() -> None:
    rng = random.Random(16)
    outbox = Outbox(limit=10_000)
    for seq in range(1, 2001):
        size = rng.choice([10, 200, 1_000, 4_000, 9_000, 12_000])
        batch: tuple[Fragment, ...] = (Elements("y" * size, key="#i"), Signals({"n": seq}))
        outbox.append(seq, batch)
        assert outbox.bytes <= outbox.limit
        assert outbox.bytes == sum(batch_bytes(f) for _, f in outbox)
        seqs = held(outbox)
        # What it keeps is a gap-free run of the newest batches, ending with this one (or
        # nothing, when this one alone is larger than the bound).
        assert seqs == list(range(seq - len(seqs) + 1, seq + 1))
        if batch_bytes(batch) <= outbox.limit:
            assert seqs[-1:] == [seq]
        else:
            assert seqs == []


def test_a_batch_larger_than_the_bound_empties_the_outbox() -> None:
    outbox = Outbox(limit=1_000)
    outbox.append(1, (Script("a()"),))
    outbox.append(2, (Elements("z" * 5_000),))
    assert len(outbox) == 0
    assert outbox.bytes == 0
    outbox.append(3, (Script("b()"),))
    assert held(outbox) == [3]


def test_the_bytes_counted_are_what_the_strings_hold() -> None:
    small = batch_bytes((Elements("a"),))
    large = batch_bytes((Elements("a" * 10_001),))
    assert large - small == 10_000  # one byte per ASCII character
    wide = batch_bytes((Elements("€" * 10_001),))  # two bytes a character
    assert wide - large >= 10_000  # wider characters cost what Python keeps


@pytest.mark.parametrize("limit", [-1, 1.5, "64k"])
def test_an_outbox_bound_must_be_a_whole_number_of_bytes(limit: Any) -> None:
    with pytest.raises(ValueError, match="expected a whole number of bytes"):
        Outbox(limit=limit)


async def test_a_tab_that_clicks_a_thousand_times_keeps_at_most_the_bound(rt: Runtime) -> None:
    cid = await mint(rt, BigPage())
    connection = await rt.connect(cid)
    assert connection is not None
    for _ in range(1000):
        await click(rt, cid)
        await drain(connection)
        outbox = rt.live[cid].outbox
        assert outbox is not None
        assert outbox.bytes <= OUTBOX_BYTES
    assert outbox is not None
    assert held(outbox)[-1] == rt.live[cid].seq  # the newest click is kept
    assert len(outbox) == OUTBOX_BYTES // batch_bytes(next(iter(outbox))[1])


async def test_a_reconnect_inside_the_window_gets_exactly_what_it_missed(rt: Runtime) -> None:
    cid = await mint(rt, BigPage())
    connection = await rt.connect(cid)
    assert connection is not None
    await drain(connection)
    seen = connection.event_id
    rt.disconnect(connection)
    await click(rt, cid)
    await click(rt, cid)
    again = await rt.connect(cid, last_event_id=seen)
    assert again is not None
    assert again.replayed == 2
    [patch] = await drain(again)  # the two replayed patches of one element: the newest wins
    assert isinstance(patch, Elements)
    assert patch.selector != "#root"  # a replay, not a full render
    assert "clicks 2" in patch.html


async def test_a_reconnect_from_before_the_window_gets_a_full_render(rt: Runtime) -> None:
    cid = await mint(rt, BigPage())
    connection = await rt.connect(cid)
    assert connection is not None
    await drain(connection)
    seen = connection.event_id
    rt.disconnect(connection)
    for _ in range(10):  # 200 KB of renders: the first ones are gone from the outbox
        await click(rt, cid)
    again = await rt.connect(cid, last_event_id=seen)
    assert again is not None
    assert again.replayed == 0
    [render] = await drain(again)
    assert isinstance(render, Elements)
    assert render.selector == "#root"
    assert "clicks 10" in render.html


# -- shared views are not copied per tab ------------------------------------------------------


async def test_a_shared_view_update_reaches_a_hundred_streams_as_one_object() -> None:
    board = {"text": "first"}
    views = SharedViews(window=0.0)
    views.add("board", lambda: div("#board")[board["text"]])
    runtime = Runtime(views=views)
    try:
        connections: list[Connection] = []
        for _ in range(100):
            cid = await mint(runtime, Dashboard())
            connection = await runtime.connect(cid)
            assert connection is not None
            await drain(connection)
            connections.append(connection)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            board["text"] = "z" * 100_000  # a 100 KB view, queued for 100 streams
            views.invalidate("board")
            views.flush()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        queued = [connection._queue for connection in connections]  # pyright: ignore[reportPrivateUsage]
        assert all(len(queue) == 1 for queue in queued)
        assert len({id(queue[0]) for queue in queued}) == 1  # one fragment, a hundred streams
        # One copy of the view (its render, its cached HTML), not a hundred: well under 1 MB.
        assert grown < 500_000, f"{grown} bytes for one shared update to 100 streams"
    finally:
        await runtime.close()
