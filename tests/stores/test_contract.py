"""The `ConversationStore` contract, run against every store kind.

Whatever a store keeps its bytes in, the runtime must be able to swap one for another
without noticing: same answers, same errors, same ordering.
"""

from __future__ import annotations

import asyncio
import math
import os

import pytest

from parlour.stores import ConversationStore, open_store

from .conftest import OpenKind


async def test_is_a_conversation_store(store: ConversationStore) -> None:
    assert isinstance(store, ConversationStore)


async def test_save_then_load_round_trips(store: ConversationStore) -> None:
    await store.save("c1", b"\x00\x01msgpack\xff", touched=100.0)
    assert await store.load("c1") == b"\x00\x01msgpack\xff"


async def test_empty_bytes_round_trip(store: ConversationStore) -> None:
    await store.save("c1", b"", touched=1.0)
    assert await store.load("c1") == b""


async def test_unknown_cid_loads_none(store: ConversationStore) -> None:
    assert await store.load("never-saved") is None


async def test_save_overwrites_data_and_touched(store: ConversationStore) -> None:
    await store.save("c1", b"old", touched=10.0)
    await store.save("c1", b"new", touched=50.0)
    assert await store.load("c1") == b"new"
    assert await store.count() == 1
    assert await store.idle_since(20.0) == []
    assert await store.idle_since(60.0) == ["c1"]


async def test_delete_is_idempotent(store: ConversationStore) -> None:
    await store.save("c1", b"x", touched=1.0)
    await store.save("c2", b"y", touched=1.0)
    await store.delete("c1")
    await store.delete("c1")
    await store.delete("never-saved")
    assert await store.load("c1") is None
    assert await store.load("c2") == b"y"
    assert await store.count() == 1


async def test_idle_since_is_strict_and_oldest_first(store: ConversationStore) -> None:
    assert await store.idle_since(1e12) == []
    for cid, touched in [("c", 30.0), ("a", 10.0), ("d", 40.0), ("b", 20.0), ("e", 20.0)]:
        await store.save(cid, cid.encode(), touched=touched)
    assert await store.idle_since(30.0) == ["a", "b", "e"]  # 30 is not before 30
    assert await store.idle_since(1e12) == ["a", "b", "e", "c", "d"]
    assert await store.idle_since(0.0) == []


async def test_count(store: ConversationStore) -> None:
    assert await store.count() == 0
    for i in range(5):
        await store.save(f"c{i}", b"x", touched=float(i))
    assert await store.count() == 5
    await store.delete("c0")
    assert await store.count() == 4


async def test_big_blob(store: ConversationStore) -> None:
    blob = os.urandom(1024 * 1024)
    await store.save("big", blob, touched=1.0)
    assert await store.load("big") == blob


@pytest.mark.parametrize(
    "cid", ["", "../escape", "a/b", "a\\b", ".hidden", "..", "a b", "nul\x00", "é", "x" * 129]
)
async def test_invalid_cid_is_refused_everywhere(store: ConversationStore, cid: str) -> None:
    with pytest.raises(ValueError, match="invalid conversation id") as caught:
        await store.save(cid, b"x", touched=1.0)
    assert "Fix:" in str(caught.value)
    with pytest.raises(ValueError, match="invalid conversation id"):
        await store.load(cid)
    with pytest.raises(ValueError, match="invalid conversation id"):
        await store.delete(cid)
    assert await store.count() == 0


@pytest.mark.parametrize("touched", [math.nan, math.inf, -math.inf])
async def test_non_finite_touched_is_refused(store: ConversationStore, touched: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        await store.save("c1", b"x", touched=touched)
    assert await store.count() == 0


async def test_closed_store_refuses_work_and_close_is_idempotent(
    store: ConversationStore,
) -> None:
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.save("c1", b"x", touched=1.0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.load("c1")


async def test_unawaited_saves_of_one_cid_apply_in_call_order(store: ConversationStore) -> None:
    await asyncio.gather(*(store.save("c1", str(i).encode(), touched=float(i)) for i in range(20)))
    assert await store.load("c1") == b"19"


async def test_describe_reopens_the_same_kind(store: ConversationStore) -> None:
    described = store.describe()
    again = open_store(described)
    try:
        assert type(again) is type(store)
        assert again.describe() == described
    finally:
        await again.close()


# -- disk stores only -----------------------------------------------------------------


async def test_survives_close_and_reopen(open_kind: OpenKind, disk_kind: str) -> None:
    first = open_kind(disk_kind)
    blob = os.urandom(1024 * 1024)
    await first.save("kept", b"state", touched=5.0)
    await first.save("big", blob, touched=7.0)
    await first.save("gone", b"x", touched=6.0)
    await first.delete("gone")
    await first.close()

    second = open_kind(disk_kind)
    assert await second.load("kept") == b"state"
    assert await second.load("big") == blob
    assert await second.load("gone") is None
    assert await second.count() == 2
    assert await second.idle_since(100.0) == ["kept", "big"]


async def test_close_waits_for_saves_already_under_way(open_kind: OpenKind, disk_kind: str) -> None:
    first = open_kind(disk_kind)
    saves = [asyncio.create_task(first.save(f"c{i}", b"x", touched=1.0)) for i in range(50)]
    await asyncio.sleep(0)  # every save task takes its first step (queues its I/O)
    await first.close()
    assert all(task.done() for task in saves)
    await asyncio.gather(*saves)

    second = open_kind(disk_kind)
    assert await second.count() == 50


async def test_saves_do_not_block_the_event_loop(open_kind: OpenKind, disk_kind: str) -> None:
    store = open_kind(disk_kind)
    stop = False
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10_000_000):  # bounded; `stop` ends it long before
            if stop:
                return
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ran_during: list[int] = []
    try:
        for i in range(200):
            before = ticks
            await store.save(f"c{i % 20}", os.urandom(2048), touched=float(i))
            ran_during.append(ticks - before)
    finally:
        stop = True
        await task
    # Every save handed the loop back while its I/O ran on a worker thread.
    assert all(n >= 1 for n in ran_during), ran_during
