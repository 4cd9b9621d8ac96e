"""`SqliteStore`: conversations in one SQLite file, the embedded default.

One table, one row per conversation:

    conversations(cid TEXT PRIMARY KEY, data BLOB NOT NULL, touched REAL NOT NULL,
                  version INTEGER NOT NULL)      + index conversations_touched(touched)

`version` is `STORE_FORMAT_VERSION` when the row was written; `load` refuses rows of any
other version with `StoreFormatError`. The database's `PRAGMA user_version` records the
schema version too, so a file laid out by a newer parlour is refused when it is opened,
before any query can misread it.

The database runs in WAL mode with `synchronous=NORMAL`: a save is one short transaction
without an fsync (a checkpoint fsyncs later), readers never wait for the writer, and a
power cut may lose the latest saves but never corrupts the file.

All database work runs on ONE dedicated worker thread that owns the only connection
(`SqliteWorker`, shared with the console's journal): operations take effect in the order
they were called, and `close` runs after everything queued before it. A cancelled `save`
may still complete: the cancellation only stops the waiting.

The constructor opens the database (creating parent directories) and waits for it, so a
wrong path fails at startup rather than at the first click.

What it does not do: share one file between several processes safely under heavy write
load (use the distributed store), vacuum, or back up (copy the file with `sqlite3 .backup`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .protocol import STORE_FORMAT_VERSION, StoreFormatError, check_cid, check_touched
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
)
_UPSERT = """
    INSERT INTO conversations (cid, data, touched, version) VALUES (?, ?, ?, ?)
    ON CONFLICT (cid) DO UPDATE
    SET data = excluded.data, touched = excluded.touched, version = excluded.version
"""


class SqliteStore:
    """A `ConversationStore` in one SQLite database file, driven from one worker thread."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        """Open (or create) the database at `path`.

        `timeout` is how long a write waits for another process's lock before failing
        with `database is locked`.
        """
        self._path = Path(path).expanduser().absolute()
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

        await self._run(upsert)

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
            return data

        return await self._run(load)

    async def delete(self, cid: str) -> None:
        check_cid(cid)

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM conversations WHERE cid = ?", (cid,))

        await self._run(delete)

    async def idle_since(self, before: float) -> list[str]:
        sql = "SELECT cid FROM conversations WHERE touched < ? ORDER BY touched, cid"
        return await self._run(lambda conn: [cid for (cid,) in conn.execute(sql, (before,))])

    async def count(self) -> int:
        return await self._run(
            lambda conn: int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])
        )

    async def close(self) -> None:
        """Run everything queued so far, then close the database."""
        await self._db.close()

    async def _run[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.run(work)

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
