"""`SqliteStore`: schema, pragmas, format versions, and the one worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from parlour.stores import STORE_FORMAT_VERSION, SqliteStore, StoreFormatError


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.sqlite")
    yield store
    await store.close()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Run `sql` on a separate, properly closed connection (as an operator's shell would)."""
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql).fetchall()


async def test_wal_mode_is_on(store: SqliteStore) -> None:
    assert query(store.path, "PRAGMA journal_mode") == [("wal",)]


async def test_synchronous_is_normal_on_the_store_connection(store: SqliteStore) -> None:
    def synchronous(conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA synchronous").fetchone()[0]  # 1 is NORMAL

    assert await store._run(synchronous) == 1  # pyright: ignore[reportPrivateUsage]


async def test_schema(store: SqliteStore) -> None:
    columns = query(store.path, "PRAGMA table_info(conversations)")
    assert [(c[1], c[2], c[3], c[5]) for c in columns] == [
        ("cid", "TEXT", 0, 1),
        ("data", "BLOB", 1, 0),
        ("touched", "REAL", 1, 0),
        ("version", "INTEGER", 1, 0),
    ]
    index = query(store.path, "PRAGMA index_info(conversations_touched)")
    assert [c[2] for c in index] == ["touched"]
    assert query(store.path, "PRAGMA user_version") == [(STORE_FORMAT_VERSION,)]


async def test_rows_record_the_format_version(store: SqliteStore) -> None:
    await store.save("abc", b"x", touched=3.0)
    assert query(store.path, "SELECT cid, data, touched, version FROM conversations") == [
        ("abc", b"x", 3.0, STORE_FORMAT_VERSION)
    ]


async def test_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / ".parlour" / "deep" / "state.sqlite"
    store = SqliteStore(path)
    try:
        assert path.is_file()
        assert store.describe() == f"sqlite:{path}"
    finally:
        await store.close()


@pytest.mark.parametrize("found", [STORE_FORMAT_VERSION + 1, 0])
async def test_row_in_another_format_raises_store_format_error(
    store: SqliteStore, found: int
) -> None:
    await store.save("ok", b"fine", touched=1.0)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("INSERT INTO conversations VALUES ('abc', x'00', 1.0, ?)", (found,))

    with pytest.raises(StoreFormatError) as caught:
        await store.load("abc")
    message = str(caught.value)
    assert f"format version {found}" in message
    assert f"reads format version {STORE_FORMAT_VERSION}" in message
    assert "'abc'" in message
    assert store.describe() in message
    assert "upgrade parlour" in message
    assert "clear the store" in message
    assert ("newer parlour" in message) == (found > STORE_FORMAT_VERSION)
    assert await store.load("ok") == b"fine"  # one bad row does not poison the store


async def test_database_from_a_newer_parlour_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {STORE_FORMAT_VERSION + 1}")
    with pytest.raises(StoreFormatError, match="newer parlour"):
        SqliteStore(path)
    assert not [t for t in threading.enumerate() if t.name.startswith("parlour-sqlite")]


async def test_file_that_is_not_a_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database, it is a text file " * 100)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        SqliteStore(path)
    notes = "\n".join(caught.value.__notes__)
    assert "not a SQLite database" in notes
    assert "Fix:" in notes


async def test_all_work_runs_on_one_thread_that_is_not_the_loops(store: SqliteStore) -> None:
    def ident(conn: sqlite3.Connection) -> int:
        return threading.get_ident()

    idents = {await store._run(ident) for _ in range(5)}  # pyright: ignore[reportPrivateUsage]
    assert len(idents) == 1
    assert idents != {threading.get_ident()}


async def test_a_stuck_database_does_not_stall_the_loop(store: SqliteStore) -> None:
    gate = threading.Event()
    stuck = asyncio.create_task(store._run(lambda conn: gate.wait(10)))  # pyright: ignore[reportPrivateUsage]
    save = asyncio.create_task(store.save("abc", b"x", touched=1.0))
    for _ in range(100):  # the loop keeps running other work meanwhile
        await asyncio.sleep(0)
    assert not save.done()  # queued behind the stuck call, in order
    gate.set()
    assert await stuck is True
    await save
    assert await store.load("abc") == b"x"


async def test_two_stores_on_one_file_see_each_others_saves(tmp_path: Path) -> None:
    a = SqliteStore(tmp_path / "state.sqlite")
    b = SqliteStore(tmp_path / "state.sqlite")
    try:
        await a.save("abc", b"from a", touched=1.0)
        assert await b.load("abc") == b"from a"
    finally:
        await a.close()
        await b.close()
