"""`SqliteStore`: conversations in one SQLite file, the embedded default.

A row per conversation, and a row per history record of a conversation saved in parts:

    conversations(cid TEXT PRIMARY KEY, data BLOB NOT NULL, touched REAL NOT NULL,
                  version INTEGER NOT NULL)      + index conversations_touched(touched)
    history(cid TEXT, depth INTEGER, record BLOB NOT NULL, PRIMARY KEY (cid, depth))

A conversation is its `data`, joined with its `history` records in depth order when it has
any (`parlour.core.codec.join`). `save` writes the conversation whole (and drops its history
rows); `save_change` (a `PartStore`) writes the head and only the history records that
changed: after a click, the head and one new record, not the whole history again. A head is
itself a conversation without back history, so a parlour that predates the `history` table
reads a conversation saved in parts, without its back history.

`version` is `STORE_FORMAT_VERSION` when the row was written; `load` refuses rows of any
other version with `StoreFormatError`. The database's `PRAGMA user_version` records the
schema version too, so a file laid out by a newer parlour is refused when it is opened,
before any query can misread it.

The database runs in WAL mode with `synchronous=NORMAL`: a transaction commits without an
fsync (a checkpoint fsyncs later), readers never wait for the writer, and a power cut may
lose the latest saves but never corrupts the file.

Group commit: every operation joins a batch, and a batch runs as ONE transaction, so SQLite
commits at most once per turn of the event loop however many conversations saved in it.
The batch starts at the end of the loop turn in which its first operation was called, or,
while one is running, as soon as that one has committed (everything called meanwhile
joins the next, up to `_BATCH_LIMIT` operations, so that a click's save never waits for a
whole storm of restores). A `save` returns only after the commit that holds it: saved before it is
acknowledged, as before. If the transaction fails, every write in it raises.

All database work runs on ONE dedicated worker thread that owns the only connection
(`SqliteWorker`, shared with the console's journal): operations take effect in the order
they were called, and `close` runs after everything called before it. A cancelled `save`
may still complete: the cancellation only stops the waiting.

The constructor opens the database (creating parent directories) and waits for it, so a
wrong path fails at startup rather than at the first click.

What it does not do: share one file between several processes safely under heavy write
load (use the distributed store), vacuum, or back up (copy the file with `sqlite3 .backup`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parlour.core.codec import join

from .protocol import STORE_FORMAT_VERSION, Change, StoreFormatError, check_cid, check_touched
from .sqlite_worker import SqliteWorker

__all__ = ["SqliteStore"]


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS conversations (
        cid TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        touched REAL NOT NULL,
        version INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS conversations_touched ON conversations (touched)",
    """CREATE TABLE IF NOT EXISTS history (
        cid TEXT NOT NULL,
        depth INTEGER NOT NULL,
        record BLOB NOT NULL,
        PRIMARY KEY (cid, depth)
    ) WITHOUT ROWID""",
)
_UPSERT = """
    INSERT INTO conversations (cid, data, touched, version) VALUES (?, ?, ?, ?)
    ON CONFLICT (cid) DO UPDATE
    SET data = excluded.data, touched = excluded.touched, version = excluded.version
"""


_BATCH_LIMIT = 64
"""The most operations one transaction runs: a save called during a reconnect storm waits
for at most one batch of restores' loads and saves, not for all of them."""


class SqliteStore:
    """A `ConversationStore` in one SQLite database file, driven from one worker thread."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        """Open (or create) the database at `path`.

        `timeout` is how long a write waits for another process's lock before failing
        with `database is locked`.
        """
        self._path = Path(path).expanduser().absolute()
        self._batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._batch_writes = False
        self._scheduled = False
        self._running = False
        self._idle: asyncio.Future[None] | None = None
        self.commits = 0
        """Transactions committed so far (group commit: one per batch of writes)."""
        where = self.describe()
        try:
            self._db = SqliteWorker(self._path, setup=self._setup, name=where, timeout=timeout)
        except BaseException as exc:
            if not isinstance(exc, StoreFormatError):
                exc.add_note(
                    f"while opening the conversation store {where}. Fix: point --store at a "
                    "path parlour may create and write, holding a parlour SQLite store or "
                    "nothing."
                )
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def describe(self) -> str:
        return f"sqlite:{self._path}"

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        row = (check_cid(cid), data, check_touched(touched), STORE_FORMAT_VERSION)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(_UPSERT, row)  # the cursor stays on the worker thread
            conn.execute("DELETE FROM history WHERE cid = ?", (cid,))

        await self._run(upsert, write=True)

    async def save_change(self, cid: str, change: Change) -> None:
        row = (check_cid(cid), change.head, check_touched(change.touched), STORE_FORMAT_VERSION)
        base, end = change.base, change.base + change.count
        written = [(cid, depth, record) for depth, record in change.written]

        def apply(conn: sqlite3.Connection) -> None:
            conn.execute(_UPSERT, row)
            if change.fresh:
                conn.execute("DELETE FROM history WHERE cid = ?", (cid,))
            elif change.trim:
                conn.execute("DELETE FROM history WHERE cid = ? AND depth < ?", (cid, base))
                conn.execute("DELETE FROM history WHERE cid = ? AND depth >= ?", (cid, end))
            if written:
                conn.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", written)

        await self._run(apply, write=True)

    async def load(self, cid: str) -> bytes | None:
        check_cid(cid)

        def load(conn: sqlite3.Connection) -> bytes | None:
            sql = "SELECT data, version FROM conversations WHERE cid = ?"
            row: tuple[bytes, Any] | None = conn.execute(sql, (cid,)).fetchone()
            if row is None:
                return None
            data, version = row
            if version != STORE_FORMAT_VERSION:
                raise StoreFormatError(f"conversation {cid!r} in {self.describe()}", found=version)
            sql = "SELECT record FROM history WHERE cid = ? ORDER BY depth"
            records: list[bytes] = [record for (record,) in conn.execute(sql, (cid,))]
            return join(data, records) if records else data

        return await self._run(load)

    async def delete(self, cid: str) -> None:
        check_cid(cid)

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM conversations WHERE cid = ?", (cid,))
            conn.execute("DELETE FROM history WHERE cid = ?", (cid,))

        await self._run(delete, write=True)

    async def idle_since(self, before: float) -> list[str]:
        sql = "SELECT cid FROM conversations WHERE touched < ? ORDER BY touched, cid"
        return await self._run(lambda conn: [cid for (cid,) in conn.execute(sql, (before,))])

    async def count(self) -> int:
        return await self._run(
            lambda conn: int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])
        )

    async def close(self) -> None:
        """Run everything called so far, then close the database."""
        if self._db.closed:
            return
        if self._batch or self._running:
            self._idle = asyncio.get_running_loop().create_future()
            if not self._running and not self._scheduled:
                self._start_batch()
            await self._idle
        await self._db.close()

    # -- group commit ---------------------------------------------------------------------

    async def _run[T](self, work: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        """Add `work` to the next batch and wait for its result (after the batch's commit)."""
        if self._db.closed:
            raise RuntimeError(f"{self.describe()} is closed; open a new store instead")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._batch.append((work, future))
        self._batch_writes = self._batch_writes or write
        if not self._scheduled and not self._running:
            self._scheduled = True
            loop.call_soon(self._start_batch)  # at the end of this turn: the turn's work joins
        return await future

    def _start_batch(self) -> None:
        self._scheduled = False
        batch = self._batch[:_BATCH_LIMIT]
        del self._batch[:_BATCH_LIMIT]
        writes = self._batch_writes
        self._batch_writes = bool(self._batch)  # unknown for the rest: assume they write
        if not batch:
            return
        self._running = True
        works = [work for work, _ in batch]
        done = self._db.submit(lambda conn: self._transaction(conn, works, writes))
        done.add_done_callback(lambda finished: self._finish_batch(batch, finished))

    def _transaction(
        self,
        conn: sqlite3.Connection,
        works: list[Callable[[sqlite3.Connection], Any]],
        writes: bool,
    ) -> list[tuple[bool, Any]]:
        """On the worker thread: run a batch, in one transaction if it writes; (ok, value)."""
        results: list[tuple[bool, Any]] = []
        if writes:
            conn.execute("BEGIN")
        try:
            for work in works:
                try:
                    results.append((True, work(conn)))
                except sqlite3.Error:
                    raise  # the transaction cannot be trusted: every write in it fails
                except Exception as exc:  # this operation's own failure (a format error)
                    results.append((False, exc))
            if writes:
                conn.execute("COMMIT")
                self.commits += 1
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, exc)] * len(works)
        return results

    def _finish_batch(
        self,
        batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]],
        finished: asyncio.Future[list[tuple[bool, Any]]],
    ) -> None:
        """On the loop, once the batch has committed: answer its callers, start the next."""
        self._running = False
        try:
            results = finished.result()
        except BaseException as exc:  # the worker itself failed (closed, or interrupted)
            results = [(False, exc)] * len(batch)
        for (_, future), (ok, value) in zip(batch, results, strict=True):
            if future.done():
                continue  # its caller stopped waiting (cancelled): the work happened anyway
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._batch:
            self._start_batch()  # what was called while this one ran: the next commit
        elif self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _setup(self, conn: sqlite3.Connection) -> None:
        """On the worker thread: create the schema, or check that this parlour can read it."""
        conn.execute("BEGIN IMMEDIATE")
        (schema_version,) = conn.execute("PRAGMA user_version").fetchone()
        if schema_version > STORE_FORMAT_VERSION:
            raise StoreFormatError(f"the database {self.describe()}", found=schema_version)
        for statement in _SCHEMA:
            conn.execute(statement)
        if schema_version == 0:
            conn.execute(f"PRAGMA user_version = {STORE_FORMAT_VERSION:d}")
        conn.execute("COMMIT")
