"""`parlour.runtime.fanout`: a shared view's update reaches every stream, a chunk of streams per
loop turn (so other work, a click, runs in between), and updates reach each stream in order."""

from __future__ import annotations

import asyncio

import pytest

from parlour.core.fragments import Elements, Fragment
from parlour.runtime import Connection
from parlour.runtime.fanout import FanOut
from parlour.runtime.views import view_key


class Stream(Connection):
    """A connection that notes every update offered to it, in order."""

    def __init__(self, cid: str) -> None:
        super().__init__(cid)
        self.offered: list[int] = []

    def offer(self, fragments: tuple[Fragment, ...]) -> None:
        (patch,) = fragments
        assert isinstance(patch, Elements)
        self.offered.append(int(patch.html.split(">")[1].split("<")[0]))
        super().offer(fragments)


def update(n: int) -> tuple[Elements, ...]:
    return (Elements(f'<div id="tile">{n}</div>', key=view_key("tile")),)


def streams(count: int) -> list[Stream]:
    return [Stream(f"c{i}") for i in range(count)]


def reached(group: list[Stream], n: int) -> int:
    return sum(1 for s in group if n in s.offered)


async def test_a_small_update_reaches_every_stream_at_once() -> None:
    fan, group = FanOut(chunk=10), streams(10)
    fan.send(group, update(1))
    assert reached(group, 1) == 10
    assert fan.pending == 0


async def test_a_large_update_goes_out_a_chunk_per_loop_turn_and_reaches_all() -> None:
    fan, group = FanOut(chunk=100), streams(250)
    fan.send(group, update(1))
    assert reached(group, 1) == 100  # the first chunk at once
    await asyncio.sleep(0)  # other work (a click's request) runs between chunks
    assert reached(group, 1) == 200
    await asyncio.sleep(0)
    assert reached(group, 1) == 250
    assert fan.pending == 0
    assert all(s.collect() == list(update(1)) for s in group)


async def test_a_newer_update_never_overtakes_an_older_one_on_its_way() -> None:
    fan, group = FanOut(chunk=100), streams(250)
    fan.send(group, update(1))
    fan.send(group[:10], update(2))  # small, but behind the first: it waits its turn
    fan.send(group, update(3))
    for _ in range(6):  # 510 pushes, 100 per loop turn
        await asyncio.sleep(0)
    assert fan.pending == 0
    for index, stream in enumerate(group):
        assert stream.offered == ([1, 2, 3] if index < 10 else [1, 3])
        assert stream.collect() == list(update(3))  # the queue kept the newest


async def test_flush_pushes_everything_still_on_its_way() -> None:
    fan, group = FanOut(chunk=10), streams(95)
    fan.send(group, update(1))
    fan.flush()
    assert reached(group, 1) == 95
    assert fan.pending == 0


def test_without_a_running_loop_everything_goes_at_once() -> None:
    fan, group = FanOut(chunk=10), streams(95)
    fan.send(group, update(1))
    assert reached(group, 1) == 95


def test_a_chunk_holds_at_least_one_stream() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FanOut(chunk=0)
