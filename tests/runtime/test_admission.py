"""A reconnect storm cannot starve clicks: restores are admitted a few at a time, clicks first.

After a restart every tab reconnects and restores its conversation. At most `restore_slots`
restores run at once and the rest wait in line (past `max_restores` in all, a 503 the client
retries); a restore a click waits for goes before the streams' ones, and a click on a
conversation already in memory does not wait for the storm at all.
"""

from __future__ import annotations

import asyncio
import gc

import pytest
from htpy import Element, div

from parlour import Component, event
from parlour.core import kernel
from parlour.core.codec import encode
from parlour.runtime import RestoreBusy, Runtime
from parlour.runtime.admission import Admission, Refused
from parlour.stores import MemoryStore


class Tab(Component, name="tests.admission.Tab"):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[self.count]

    @event
    def inc(self) -> None:
        self.count += 1


class GatedStore(MemoryStore):
    """A store whose loads wait until the test lets each one through, and say who loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Semaphore(0)
        self.loading = 0
        self.most = 0
        self.loaded: list[str] = []

    async def load(self, cid: str) -> bytes | None:
        self.loading += 1
        self.most = max(self.most, self.loading)
        try:
            await self.gate.acquire()
            self.loaded.append(cid)
            return await super().load(cid)
        finally:
            self.loading -= 1


async def stored_tabs(store: MemoryStore, n: int) -> list[str]:
    cids = [f"tab-{i}" for i in range(n)]
    for cid in cids:
        await store.save(cid, encode(kernel.boot(Tab(), cid=cid).conversation), touched=1.0)
    return cids


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_at_most_the_slots_restore_at_once_and_the_rest_wait_their_turn() -> None:
    store = GatedStore()
    runtime = Runtime(store=store, restore_slots=3)
    cids = await stored_tabs(store, 20)
    storm = [asyncio.ensure_future(runtime.get(cid)) for cid in cids]
    await settle()
    assert store.loading == 3
    assert runtime.admission.waiting == 17
    for _ in cids:
        store.gate.release()
    restored = await asyncio.gather(*storm)
    assert [live.conv.id for live in restored if live is not None] == cids
    assert store.most == 3
    await runtime.close()


async def test_a_clicks_restore_goes_before_the_streams_waiting_in_line() -> None:
    store = GatedStore()
    runtime = Runtime(store=store, restore_slots=1)
    cids = await stored_tabs(store, 6)
    streams = [asyncio.ensure_future(runtime.connect(cid)) for cid in cids[:5]]
    await settle()
    click = asyncio.ensure_future(runtime.dispatch(cids[5], kernel.Event("p1", "inc")))
    await settle()
    for _ in cids:
        store.gate.release()
        await settle()
    assert await click
    await asyncio.gather(*streams)
    assert store.loaded[:2] == [cids[0], cids[5]]  # the one running, then the click's
    assert runtime.live[cids[5]].conv.instances["p1"].component.count == 1
    await runtime.close()


async def test_a_click_waiting_for_a_streams_restore_moves_it_to_the_front() -> None:
    store = GatedStore()
    runtime = Runtime(store=store, restore_slots=1)
    cids = await stored_tabs(store, 5)
    streams = [asyncio.ensure_future(runtime.connect(cid)) for cid in cids]
    await settle()
    click = asyncio.ensure_future(runtime.dispatch(cids[4], kernel.Event("p1", "inc")))
    await settle()
    for _ in cids:
        store.gate.release()
        await settle()
    assert await click
    await asyncio.gather(*streams)
    assert store.loaded[:2] == [cids[0], cids[4]]
    await runtime.close()


async def test_a_click_on_a_conversation_in_memory_does_not_wait_for_the_storm() -> None:
    store = GatedStore()
    runtime = Runtime(store=store, restore_slots=2)
    here, _ = await runtime.mint(Tab(), owner=None, base="/_parlour")
    storm = [asyncio.ensure_future(runtime.get(cid)) for cid in await stored_tabs(store, 10)]
    await settle()
    assert await runtime.dispatch(here.conv.id, kernel.Event("p1", "inc"))
    assert here.conv.instances["p1"].component.count == 1
    assert store.loaded == []  # the whole storm is still waiting
    for _ in storm:
        store.gate.release()
    await asyncio.gather(*storm)
    await runtime.close()


async def test_past_the_line_a_restore_is_refused_as_busy() -> None:
    store = GatedStore()
    runtime = Runtime(store=store, restore_slots=2, restore_line=3)
    cids = await stored_tabs(store, 6)
    held = [asyncio.ensure_future(runtime.get(cid)) for cid in cids[:5]]
    await settle()
    with pytest.raises(RestoreBusy):
        await runtime.get(cids[5])
    for _ in held:
        store.gate.release()
    await asyncio.gather(*held)
    store.gate.release()
    assert await runtime.get(cids[5]) is not None  # once the line is shorter, it comes back
    await runtime.close()


async def test_a_cancelled_wait_gives_its_place_and_a_granted_slot_back() -> None:
    admission = Admission(slots=1, limit=10)
    await admission.enter(urgent=False)
    waiter = asyncio.ensure_future(admission.enter(urgent=False))
    await settle()
    waiter.cancel()
    await settle()
    assert admission.waiting == 0
    admission.leave()
    assert admission.running == 0
    with pytest.raises(ValueError, match="at least one"):
        Admission(slots=0, limit=1)
    full = Admission(slots=1, limit=1)
    await full.enter(urgent=True)
    with pytest.raises(Refused):
        await full.enter(urgent=True)


async def test_every_so_many_restores_the_restored_leave_the_collected_generations() -> None:
    """So a full collection during a storm scans what is new, not every conversation."""
    from parlour.runtime.admission import FREEZE_EVERY

    admission = Admission(slots=1, limit=10)
    gc.unfreeze()
    try:
        for _ in range(FREEZE_EVERY - 1):
            await admission.enter(urgent=False)
            admission.leave()
        assert gc.get_freeze_count() == 0
        await admission.enter(urgent=False)
        admission.leave()
        assert gc.get_freeze_count() > 0
        assert admission.done == FREEZE_EVERY
    finally:
        gc.unfreeze()
