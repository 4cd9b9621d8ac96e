"""Revisioned stores: every save of a shared store is a compare-and-set on a revision.

Several nodes share the store, so a node says which value it changed; a save that lost the
race is refused (`Conflict`) rather than overwriting the winner. Run against the real NATS
key-value store (tests/stores/conftest.py starts nats-server).
"""

from __future__ import annotations

import asyncio

import pytest

from parlour.stores import Conflict, RevisionedStore, StoreFormatError
from parlour.stores.nats_kv import NatsKvStore

from .conftest import OpenKind

REVISIONED = ["nats"]


@pytest.fixture(params=REVISIONED)
def store(request: pytest.FixtureRequest, open_kind: OpenKind) -> RevisionedStore:
    store = open_kind(request.param)
    assert isinstance(store, RevisionedStore)
    return store


async def test_create_then_compare_and_set(store: RevisionedStore) -> None:
    assert await store.load_revision("c1") is None
    first = await store.save_revision("c1", b"one", touched=1.0, revision=0)
    assert first > 0
    assert await store.load_revision("c1") == (b"one", first)
    second = await store.save_revision("c1", b"two", touched=2.0, revision=first)
    assert second > first
    assert await store.load_revision("c1") == (b"two", second)
    assert await store.load("c1") == b"two"


async def test_a_save_on_a_stale_revision_is_refused_and_changes_nothing(
    store: RevisionedStore,
) -> None:
    first = await store.save_revision("c1", b"one", touched=1.0, revision=0)
    second = await store.save_revision("c1", b"two", touched=2.0, revision=first)
    with pytest.raises(Conflict, match="another writer saved it first") as caught:
        await store.save_revision("c1", b"lost", touched=3.0, revision=first)
    assert caught.value.cid == "c1"
    assert caught.value.expected == first
    assert await store.load_revision("c1") == (b"two", second)


async def test_creating_what_exists_is_a_conflict(store: RevisionedStore) -> None:
    await store.save_revision("c1", b"one", touched=1.0, revision=0)
    with pytest.raises(Conflict):
        await store.save_revision("c1", b"again", touched=1.0, revision=0)
    assert await store.load("c1") == b"one"


async def test_a_deleted_conversation_is_gone_for_late_writers(store: RevisionedStore) -> None:
    rev = await store.save_revision("c1", b"one", touched=1.0, revision=0)
    await store.delete("c1")
    assert await store.load_revision("c1") is None
    assert await store.count() == 0
    with pytest.raises(Conflict):
        await store.save_revision("c1", b"late", touched=2.0, revision=rev)
    assert await store.load("c1") is None
    # Creating it anew (revision 0) is allowed: the marker counts as absent.
    again = await store.save_revision("c1", b"new", touched=3.0, revision=0)
    assert await store.load_revision("c1") == (b"new", again)


async def test_a_plain_save_moves_the_revision_on(store: RevisionedStore) -> None:
    first = await store.save_revision("c1", b"one", touched=1.0, revision=0)
    await store.save("c1", b"plain", touched=2.0)
    with pytest.raises(Conflict):
        await store.save_revision("c1", b"stale", touched=3.0, revision=first)
    entry = await store.load_revision("c1")
    assert entry is not None
    assert entry[0] == b"plain"


async def test_cids_with_dots_are_one_key(store: RevisionedStore) -> None:
    await store.save_revision("a.b.c", b"dots", touched=1.0, revision=0)
    assert await store.load("a.b.c") == b"dots"
    assert await store.idle_since(10.0) == ["a.b.c"]


async def test_concurrent_writers_lose_no_update(open_kind: OpenKind) -> None:
    """Two nodes (two connections) increment one counter 40 times each, read-modify-write with
    a retry on conflict: every increment lands exactly once."""
    first, second = open_kind("nats"), open_kind("nats")
    assert isinstance(first, NatsKvStore)
    assert isinstance(second, NatsKvStore)
    await first.save_revision("counter", b"0", touched=1.0, revision=0)
    conflicts = 0

    async def increment(store: NatsKvStore) -> None:
        nonlocal conflicts
        for _ in range(100):  # bounded retries
            entry = await store.load_revision("counter")
            assert entry is not None
            data, rev = entry
            await asyncio.sleep(0)  # let the other writer in between read and write
            try:
                await store.save_revision(
                    "counter", str(int(data) + 1).encode(), touched=2.0, revision=rev
                )
                return
            except Conflict:
                conflicts += 1
        raise AssertionError("an increment kept losing for 100 rounds")

    async def writer(store: NatsKvStore) -> None:
        for _ in range(40):
            await increment(store)

    await asyncio.gather(writer(first), writer(second))
    assert await first.load("counter") == b"80"
    assert conflicts > 0, "the two writers never raced: the test proves nothing"


async def test_a_value_parlour_did_not_write_is_refused(
    store: RevisionedStore, nats_url: str
) -> None:
    assert isinstance(store, NatsKvStore)
    await store.connect()
    await store.client.jetstream().publish(f"$KV.{store.bucket}.foreign", b"hello")
    with pytest.raises(StoreFormatError, match="not written by parlour"):
        await store.load("foreign")
