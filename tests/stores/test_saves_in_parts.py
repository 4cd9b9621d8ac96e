"""A click's save writes what changed, and SQLite commits once per turn of the event loop.

A conversation saved in parts is its head (itself a conversation without back history) and
its history records, the first full and the others deltas. The save after a click writes the
new head and the one new history record (and, once the history is full, the oldest record
again as a full one), not the whole history; what the store loads is the conversation whole,
read like any other, and conversations saved whole by earlier releases still read.

SQLite runs every operation of one turn of the event loop in one transaction (group commit),
and a save returns only after the commit that holds it: saved before acknowledged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import msgspec
import pytest
from htpy import Element, div, span
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour import Component, event
from parlour.core import kernel
from parlour.core.codec import decode, encode, encode_head, history_records, join
from parlour.core.conversation import Conversation
from parlour.runtime import Runtime
from parlour.stores import Change, PartStore, SqliteStore
from tests.core.test_conversation import fields, format_2, is_full_record


class Tally(Component, name="tests.saves_in_parts.Tally"):
    count: int = 0
    notes: list[str] = []

    def render(self) -> Element:
        return div(self.root)[span(".count")[self.count], *self.notes]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def note(self, text: str) -> None:
        self.notes = [*self.notes, text]


def clicked(times: int, *, limit: int = 50) -> Conversation:
    conv = kernel.boot(Tally(), cid="tally-1", history_limit=limit).conversation
    for _ in range(times):
        conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    return conv


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.sqlite")
    yield store
    await store.close()


# -- the codec's parts ------------------------------------------------------------------------


@pytest.mark.parametrize("times", [0, 1, 7, 50, 80])
def test_the_head_and_the_history_records_join_into_what_encode_gives(times: int) -> None:
    conv = clicked(times)
    assert join(encode_head(conv), history_records(conv)) == encode(conv)


def test_a_head_alone_reads_as_the_conversation_without_back_history() -> None:
    conv = clicked(60)
    alone = decode(encode_head(conv))
    assert alone.instances["p1"].component.count == 60
    assert alone.history == ()
    assert alone.depth == conv.history_base == 10  # the depth is kept: 60 clicks, 50 kept


def test_a_conversation_saved_whole_in_the_earlier_field_order_still_reads() -> None:
    conv = clicked(3)
    stored = fields(format_2(encode(conv)))  # a map, as the release before format 3 wrote it
    earlier = {k: stored[k] for k in ["v", "id", "base", "stack", "instances", "history"]}
    earlier |= {k: v for k, v in stored.items() if k not in earlier}  # history before the rest
    again = decode(msgspec.msgpack.encode(earlier))
    assert again.instances["p1"].component.count == 3
    assert [s.conversation().instances["p1"].component.count for s in again.history] == [0, 1, 2]


# -- what a change holds ----------------------------------------------------------------------


def test_the_first_save_writes_every_record_and_later_ones_only_the_new_record() -> None:
    conv = clicked(5)
    first = Change.of(
        encode_head(conv), touched=1.0, base=0, records=history_records(conv), before=None
    )
    assert first.fresh
    assert [d for d, _ in first.written] == [0, 1, 2, 3, 4]
    after = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    change = Change.of(
        encode_head(after),
        touched=2.0,
        base=after.history_base,
        records=history_records(after),
        before=(conv.history_base, history_records(conv)),
    )
    assert not change.fresh
    assert not change.trim
    assert [d for d, _ in change.written] == [5]  # the snapshot before the sixth click


def test_once_the_history_is_full_a_save_writes_the_new_record_and_the_new_oldest() -> None:
    conv = clicked(60)
    after = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
    change = Change.of(
        encode_head(after),
        touched=2.0,
        base=after.history_base,
        records=history_records(after),
        before=(conv.history_base, history_records(conv)),
    )
    assert change.trim
    assert (change.base, change.count) == (11, 50)
    assert [d for d, _ in change.written] == [11, 60]  # the oldest is now a full record


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.just(("inc", 0)), st.tuples(st.just("back"), st.integers(0, 3)), st.just(("x", 0))
        ),
        max_size=40,
    ),
    limit=st.integers(1, 8),
)
def test_applying_every_change_in_turn_holds_exactly_the_history_records(
    steps: list[tuple[str, int]], limit: int
) -> None:
    """A model store in parts: after each change it holds what a whole save would."""
    conv = kernel.boot(Tally(), cid="tally-1", history_limit=limit).conversation
    held: dict[int, bytes] = {}
    before: tuple[int, list[bytes]] | None = None
    for action, n in steps:
        if action == "inc":
            conv = kernel.dispatch(conv, kernel.Event("p1", "inc")).conversation
        elif action == "back":
            for _ in range(n):
                conv = kernel.back(conv).conversation
        else:  # a restore in between: the runtime knows nothing of the last save
            conv, before = decode(encode(conv)), None
        records = history_records(conv)
        change = Change.of(
            encode_head(conv), touched=1.0, base=conv.history_base, records=records, before=before
        )
        if change.fresh:
            held.clear()
        elif change.trim:
            held = {d: r for d, r in held.items() if change.base <= d < change.base + change.count}
        held.update(change.written)
        assert [held[d] for d in sorted(held)] == records
        assert sorted(held) == list(range(conv.history_base, conv.depth))
        before = (conv.history_base, records)


# -- SQLite in parts --------------------------------------------------------------------------


async def test_sqlite_keeps_a_conversation_in_parts_and_loads_it_whole(
    store: SqliteStore,
) -> None:
    assert isinstance(store, PartStore)
    conv = clicked(12)
    records = history_records(conv)
    change = Change.of(encode_head(conv), touched=5.0, base=0, records=records, before=None)
    await store.save_change("tally-1", change)
    assert await store.load("tally-1") == encode(conv)
    assert rows(store.path, "SELECT depth FROM history ORDER BY depth") == [(d,) for d in range(12)]
    assert rows(store.path, "SELECT data FROM conversations") == [(encode_head(conv),)]


async def test_a_whole_save_replaces_the_parts(store: SqliteStore) -> None:
    conv = clicked(4)
    records = history_records(conv)
    await store.save_change(
        "tally-1", Change.of(encode_head(conv), touched=1.0, base=0, records=records, before=None)
    )
    await store.save("tally-1", encode(conv), touched=2.0)
    assert rows(store.path, "SELECT count(*) FROM history") == [(0,)]
    assert await store.load("tally-1") == encode(conv)
    await store.delete("tally-1")
    assert await store.load("tally-1") is None


async def test_a_click_saves_the_head_and_one_history_record(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    runtime = Runtime(store=store)
    live, _ = await runtime.mint(Tally(), owner=None, base="/_parlour")
    cid = live.conv.id
    for _ in range(60):
        await runtime.dispatch(cid, kernel.Event("p1", "inc"))
    written: list[str] = []

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(written.append)

    await store._run(trace)  # pyright: ignore[reportPrivateUsage]
    await runtime.dispatch(cid, kernel.Event("p1", "inc"))
    inserts = [s for s in written if s.startswith("INSERT OR REPLACE INTO history")]
    assert len(inserts) == 2  # the new record, and the new oldest as a full record
    assert sum("INSERT INTO conversations" in s for s in written) == 1
    assert await store.load(cid) == encode(live.conv)
    assert rows(store.path, "SELECT min(depth), max(depth), count(*) FROM history") == [
        (11, 60, 50)
    ]
    await runtime.close()


async def test_a_conversation_saved_whole_restores_and_goes_on_in_parts(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    conv = clicked(8)
    with closing(sqlite3.connect(path)) as conn, conn:  # as an earlier release wrote it
        conn.execute(
            "CREATE TABLE conversations (cid TEXT PRIMARY KEY, data BLOB NOT NULL, "
            "touched REAL NOT NULL, version INTEGER NOT NULL)"
        )
        conn.execute("INSERT INTO conversations VALUES (?, ?, 1.0, 1)", (conv.id, encode(conv)))
        conn.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    runtime = Runtime(store=store)
    await runtime.dispatch(conv.id, kernel.Event("p1", "inc"))
    live = runtime.live[conv.id]
    assert live.conv.instances["p1"].component.count == 9
    assert await store.load(conv.id) == encode(live.conv)
    assert rows(path, "SELECT count(*) FROM history") == [(9,)]
    await runtime.close()


async def test_a_conversation_saved_in_parts_by_the_release_before_format_3_goes_on(
    tmp_path: Path,
) -> None:
    conv = clicked(12)
    old = [format_2(r) if is_full_record(r) else r for r in history_records(conv)]
    store = SqliteStore(tmp_path / "state.sqlite")
    change = Change.of(format_2(encode_head(conv)), touched=5.0, base=0, records=old, before=None)
    await store.save_change(conv.id, change)  # the head and records of format 2
    runtime = Runtime(store=store)
    await runtime.dispatch(conv.id, kernel.Event("p1", "inc"))
    live = runtime.live[conv.id]
    assert live.conv.instances["p1"].component.count == 13
    assert await store.load(conv.id) == encode(live.conv)
    [(head,)] = rows(store.path, "SELECT data FROM conversations")
    assert isinstance(head, bytes)
    assert fields(head)["v"] == 3  # the head saved after the click
    assert rows(store.path, "SELECT record FROM history WHERE depth = 0") == [(old[0],)]  # kept
    await runtime.close()


# -- group commit -----------------------------------------------------------------------------


async def test_two_saves_in_one_loop_turn_are_one_commit_and_both_return_after_it(
    store: SqliteStore,
) -> None:
    order: list[str] = []

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda sql: order.append(sql) if sql == "COMMIT" else None)

    await store._run(trace)  # pyright: ignore[reportPrivateUsage]
    commits = store.commits

    async def save(cid: str) -> None:
        await store.save(cid, encode(clicked(1)), touched=1.0)
        order.append(f"saved {cid}")

    await asyncio.gather(save("a"), save("b"))  # both called in the same turn
    assert store.commits == commits + 1
    assert order == ["COMMIT", "saved a", "saved b"]


async def test_saves_called_while_a_commit_runs_share_the_next_one(store: SqliteStore) -> None:
    gate = asyncio.get_running_loop().create_future()
    entered = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stuck(conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(entered.set)
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(gate), 10), loop).result()
        conn.execute("INSERT INTO conversations VALUES ('held', x'00', 1.0, 1)")

    first = asyncio.ensure_future(store._run(stuck, write=True))  # pyright: ignore[reportPrivateUsage]
    await entered.wait()
    commits = store.commits
    later = [
        asyncio.ensure_future(store.save(cid, encode(clicked(1)), touched=1.0))
        for cid in ("c", "d", "e")
    ]
    await asyncio.sleep(0)
    gate.set_result(None)
    await first
    await asyncio.gather(*later)
    assert store.commits == commits + 2  # the stuck batch, then one for the three saves


async def test_a_failed_transaction_fails_every_save_in_it(store: SqliteStore) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    results = await asyncio.gather(
        store.save("a", encode(clicked(1)), touched=1.0),
        store._run(broken, write=True),  # pyright: ignore[reportPrivateUsage]
        return_exceptions=True,
    )
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)
    assert await store.load("a") is None  # rolled back: nothing of the batch was kept
    await store.save("a", encode(clicked(2)), touched=1.0)  # the store goes on
    assert decode(await store.load("a") or b"").instances["p1"].component.count == 2


async def test_two_clicks_in_one_turn_on_two_conversations_commit_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    runtime = Runtime(store=store)
    one, _ = await runtime.mint(Tally(), owner=None, base="/_parlour")
    two, _ = await runtime.mint(Tally(), owner=None, base="/_parlour")
    commits = store.commits
    await asyncio.gather(
        runtime.dispatch(one.conv.id, kernel.Event("p1", "inc")),
        runtime.dispatch(two.conv.id, kernel.Event("p1", "inc")),
    )
    assert store.commits == commits + 1
    for live in (one, two):
        assert decode(await store.load(live.conv.id) or b"").instances["p1"].component.count == 1
    await runtime.close()


# -- the memory store holds the records as they are ----------------------------------------------


async def test_the_memory_store_holds_a_head_and_its_records_and_loads_them_whole() -> None:
    from parlour.stores import MemoryStore, RecordStore

    store = MemoryStore()
    assert isinstance(store, RecordStore)
    for times in (0, 1, 3, 60):
        conv = clicked(times, limit=8)
        await store.save_records(
            "tally-1", encode_head(conv), history_records(conv), touched=float(times)
        )
        assert await store.load("tally-1") == encode(conv)
        assert await store.idle_since(float(times) + 1) == ["tally-1"]
    await store.save("tally-1", encode(clicked(2)), touched=1.0)  # whole again
    assert await store.load("tally-1") == encode(clicked(2))
    with pytest.raises(ValueError, match="invalid conversation id"):
        await store.save_records("../x", b"", [], touched=1.0)
    with pytest.raises(ValueError, match="finite"):
        await store.save_records("tally-2", b"", [], touched=float("nan"))


async def test_a_runtime_saves_each_click_to_a_memory_store_as_head_and_records() -> None:
    from parlour.stores import MemoryStore

    class Watched(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.held: list[int] = []

        async def save(self, cid: str, data: bytes, *, touched: float) -> None:
            raise AssertionError("a click's save joined the whole conversation")

        async def save_records(
            self, cid: str, head: bytes, records: list[bytes], *, touched: float
        ) -> None:
            self.held.append(len(records))
            await super().save_records(cid, head, records, touched=touched)

    store = Watched()
    rt = Runtime(store=store, history_limit=5)
    live, _ = await rt.mint(Tally(), owner=None, base="/_parlour")
    for _ in range(8):
        assert await rt.dispatch(live.conv.id, kernel.Event("p1", "inc", source="browser"))
        assert await store.load(live.conv.id) == encode(live.conv)  # saved before acknowledged
    assert store.held == [0, 1, 2, 3, 4, 5, 5, 5, 5]
    await rt.close()
