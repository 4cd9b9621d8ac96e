"""`SqliteWorker`: one SQLite connection, owned by one worker thread, awaited from the loop.

Both of parlour's SQLite files (the conversation store, the console's journal) are driven
the same way, so the way lives here once:

  * ONE dedicated thread owns the only connection: `sqlite3` objects must stay on the thread
    that made them, a single writer never meets `database is locked` inside its own process,
    and the event loop only ever awaits a future;
  * that thread runs its queue in order, so operations take effect in the order they were
    called and `close` runs after everything queued before it;
  * the file is opened in WAL mode with `synchronous=NORMAL` (a write is one short
    transaction without an fsync; readers never wait for the writer);
  * the constructor opens the file and waits, so a wrong path fails at startup.

The owner passes `setup(conn)`, run on the worker thread right after the pragmas, to create
or check its schema. What this module does not do: know any table.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["SqliteWorker"]

log = logging.getLogger(__name__)


class SqliteWorker:
    """One connection to the SQLite file at `path`, used only from one worker thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        setup: Callable[[sqlite3.Connection], None],
        name: str,
        timeout: float = 5.0,
    ) -> None:
        """Open (or create) the file and run `setup` on it; raises here if either fails.

        `name` names the owner in thread names and warnings (e.g. "sqlite:/x/state.sqlite");
        `timeout` is how long a write waits for another process's lock.
        """
        self.path = Path(path).expanduser().absolute()
        self.name = name
        self._timeout = timeout
        self._setup = setup
        self._conn: sqlite3.Connection | None = None
        self.closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parlour-sqlite")
        try:
            self._executor.submit(self._connect).result()
        except BaseException:
            self.closed = True
            self._executor.shutdown(wait=True)
            raise

    def __repr__(self) -> str:
        return f"SqliteWorker({str(self.path)!r})"

    async def run[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Queue `work(conn)` on the worker thread and await its result.

        A cancelled caller only stops waiting: the work may still complete.
        """
        if self.closed:
            raise RuntimeError(f"{self.name} is closed; open a new one instead of reusing it")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    def submit[T](self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """`run` without a coroutine: queue `work(conn)` and return the future of its result
        (for an owner that batches work and resolves its callers from a done callback)."""
        if self.closed:
            raise RuntimeError(f"{self.name} is closed; open a new one instead of reusing it")
        return asyncio.get_running_loop().run_in_executor(self._executor, self._call, work)

    async def close(self) -> None:
        """Run everything queued so far, close the connection, and end the worker thread."""
        if self.closed:
            return
        self.closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        finally:
            self._executor.shutdown(wait=False)  # its queue is empty: the thread exits now

    def _call[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        assert self._conn is not None, f"{self.name} used before it was opened"
        return work(self._conn)

    def _connect(self) -> None:
        """On the worker thread: open the file, switch to WAL, run the owner's setup."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, so every statement is its own transaction
        # unless the owner BEGINs one.
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if str(mode).lower() != "wal":
                log.warning(
                    "%s: SQLite refused WAL mode (journal_mode is %r); writes will be slower "
                    "and readers may wait for writers. Is the file on a network file system?",
                    self.name,
                    mode,
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            self._setup(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", None) == "SQLITE_NOTADB":
                exc.add_note(f"{self.path} exists but is not a SQLite database.")
            raise
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        """On the worker thread: close the connection (SQLite checkpoints the WAL)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
