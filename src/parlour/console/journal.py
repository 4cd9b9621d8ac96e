"""The console's journal: every event it folded, so a restart shows what it showed before.

    journal = open_journal("console.db")          # or "memory"
    await journal.append(event)                   # idempotent on event.id
    await journal.read(after=0, limit=100, pattern="agent.>")   # id order
    journal.last_id()                             # newest id ever appended (0 if none)
    await journal.close()

Data shape: one row per event, keyed by its bus id,

    parlour_console_events(id INTEGER PRIMARY KEY, topic TEXT, time REAL, source TEXT,
                           payload BLOB)         -- payload is the event's JSON

Appending an id that is already there does nothing (`INSERT OR IGNORE`), so replaying an
event seen both in history and live is harmless. Retention is bounded: the journal keeps
the newest `keep` events (default 10 000) and deletes older ones as new ones arrive.

`SqliteJournal` runs every statement on ONE worker thread that owns the connection
(WAL, `synchronous=NORMAL`), so the event loop only awaits futures and operations take
effect in the order they were called. Its constructor opens the file (creating parent
directories) and reads the newest id, so a bad path fails at startup and `last_id()` is
known at once (the console passes `journal.last_id() + 1` to `InProcessBus(first_id=...)`).
`MemoryJournal` keeps the same contract in a dict, for tests and throwaway consoles.

What it does not do: fold events (`parlour.console.model` does), or share one file safely
between several consoles writing at once (each console should have its own journal).
"""

from __future__ import annotations

import bisect
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from parlour.bus.event import Event
from parlour.bus.patterns import TopicPattern, split_topic
from parlour.stores.sqlite_worker import SqliteWorker

__all__ = ["DEFAULT_KEEP", "Journal", "MemoryJournal", "SqliteJournal", "open_journal"]


DEFAULT_KEEP: Final = 10_000
_READ_CHUNK: Final = 500

_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS parlour_console_events (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    time REAL NOT NULL,
    source TEXT NOT NULL,
    payload BLOB NOT NULL
)"""
_INSERT: Final = (
    "INSERT OR IGNORE INTO parlour_console_events (id, topic, time, source, payload) "
    "VALUES (?, ?, ?, ?, ?)"
)
_SELECT: Final = (
    "SELECT id, topic, time, source, payload FROM parlour_console_events "
    "WHERE id > ? ORDER BY id LIMIT ?"
)
_PRUNE: Final = (
    "DELETE FROM parlour_console_events WHERE id IN "
    "(SELECT id FROM parlour_console_events ORDER BY id LIMIT ?)"
)

_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()


def _check_keep(keep: int) -> int:
    if type(keep) is not int or keep < 1:
        raise ValueError(
            f"journal keep={keep!r}: expected a whole number >= 1 of events to keep "
            f"(the newest are kept; default {DEFAULT_KEEP})."
        )
    return keep


def _check_read(after: int, limit: int, pattern: str) -> TopicPattern:
    if type(after) is not int or after < 0:
        raise ValueError(f"read(after={after!r}): expected an event id >= 0 (0: from the start).")
    if type(limit) is not int or limit < 0:
        raise ValueError(f"read(limit={limit!r}): expected a count >= 0 of events to return.")
    return TopicPattern.parse(pattern)


class Journal(ABC):
    """The event log a `Hub` replays at start and appends to as events arrive."""

    keep: int

    async def append(self, event: Event) -> None:
        """Store `event`; an id already stored is left as it is."""
        await self.extend((event,))

    @abstractmethod
    async def extend(self, events: Sequence[Event]) -> None:
        """Store several events in one go (one transaction); known ids are skipped."""

    @abstractmethod
    async def read(self, after: int = 0, limit: int = 1000, pattern: str = ">") -> list[Event]:
        """Stored events with `id > after` whose topic matches `pattern`, in id order,
        at most `limit`. Raises `ValueError` for a negative cursor or limit, or a bad
        pattern."""

    @abstractmethod
    def last_id(self) -> int:
        """The newest id ever appended (kept or not), 0 for an empty journal."""

    @abstractmethod
    async def count(self) -> int:
        """How many events are kept."""

    @abstractmethod
    async def close(self) -> None:
        """Finish queued work and release the journal; idempotent."""

    def describe(self) -> str:
        return type(self).__name__


class MemoryJournal(Journal):
    """A journal in a dict: the same contract as `SqliteJournal`, gone at exit."""

    def __init__(self, *, keep: int = DEFAULT_KEEP) -> None:
        self.keep = _check_keep(keep)
        self._events: dict[int, Event] = {}
        self._ids: list[int] = []  # sorted
        self._last_id = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryJournal(events={len(self._ids)}, keep={self.keep})"

    def describe(self) -> str:
        return "memory"

    async def extend(self, events: Sequence[Event]) -> None:
        self._check_open()
        ids = self._ids
        for event in events:
            if event.id in self._events:
                continue
            self._events[event.id] = event
            if not ids or event.id > ids[-1]:
                ids.append(event.id)
            else:
                bisect.insort(ids, event.id)
            self._last_id = max(self._last_id, event.id)
        excess = len(ids) - self.keep
        if excess > 0:
            for old in ids[:excess]:
                del self._events[old]
            del ids[:excess]

    async def read(self, after: int = 0, limit: int = 1000, pattern: str = ">") -> list[Event]:
        self._check_open()
        parsed = _check_read(after, limit, pattern)
        found: list[Event] = []
        if limit == 0:
            return found
        for index in range(bisect.bisect_right(self._ids, after), len(self._ids)):
            event = self._events[self._ids[index]]
            if parsed.match(split_topic(event.topic)):
                found.append(event)
                if len(found) == limit:
                    break
        return found

    def last_id(self) -> int:
        return self._last_id

    async def count(self) -> int:
        return len(self._ids)

    async def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; open a new journal instead of reusing it")


class SqliteJournal(Journal):
    """A journal in one SQLite file, driven from one worker thread."""

    def __init__(
        self, path: str | os.PathLike[str], *, keep: int = DEFAULT_KEEP, timeout: float = 5.0
    ) -> None:
        """Open (or create) the journal at `path`; fails here if it cannot."""
        self.keep = _check_keep(keep)
        self._path = Path(path).expanduser().absolute()
        self._count = 0
        self._last_id = 0
        try:
            self._db = SqliteWorker(
                self._path, setup=self._setup, name=self.describe(), timeout=timeout
            )
        except BaseException as exc:
            exc.add_note(
                f"while opening the console journal at {self._path}. Fix: pass a path "
                "parlour may create and write (a console journal or nothing), or 'memory'."
            )
            raise

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self._path)!r}, keep={self.keep})"

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return f"sqlite:{self._path}"

    async def extend(self, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [(e.id, e.topic, e.time, e.source, _encode.encode(e.payload)) for e in events]
        newest = max(e.id for e in events)

        def insert(conn: sqlite3.Connection) -> None:
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:  # one transaction: the rows and the pruning land together or not at all
                conn.executemany(_INSERT, rows)
                added = conn.total_changes - before
                excess = self._count + added - self.keep
                if excess > 0:
                    conn.execute(_PRUNE, (excess,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._count = min(self.keep, self._count + added)
            self._last_id = max(self._last_id, newest)

        await self._run(insert)

    async def read(self, after: int = 0, limit: int = 1000, pattern: str = ">") -> list[Event]:
        parsed = _check_read(after, limit, pattern)
        everything = parsed.text == ">"

        def select(conn: sqlite3.Connection) -> list[Event]:
            found: list[Event] = []
            cursor = after
            while len(found) < limit:  # each round moves the cursor on, or ends
                want = limit - len(found)
                chunk = want if everything else max(want, _READ_CHUNK)
                rows: list[tuple[Any, ...]] = conn.execute(_SELECT, (cursor, chunk)).fetchall()
                for row in rows:
                    event = _row_event(row)
                    if everything or parsed.match(split_topic(event.topic)):
                        found.append(event)
                        if len(found) == limit:
                            break
                if len(rows) < chunk:
                    break
                cursor = int(rows[-1][0])
            return found

        return await self._run(select)

    def last_id(self) -> int:
        return self._last_id

    async def count(self) -> int:
        return await self._run(
            lambda conn: int(
                conn.execute("SELECT count(*) FROM parlour_console_events").fetchone()[0]
            )
        )

    async def close(self) -> None:
        """Run everything queued so far, then close the file."""
        await self._db.close()

    async def _run[T](self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.run(work)

    def _setup(self, conn: sqlite3.Connection) -> None:
        """On the worker thread: the table, the count and the newest id."""
        conn.execute(_SCHEMA)
        count, newest = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM parlour_console_events"
        ).fetchone()
        self._count = int(count)
        self._last_id = int(newest)


def _row_event(row: tuple[Any, ...]) -> Event:
    id_, topic, time, source, payload = row
    return Event(
        id=int(id_),
        topic=str(topic),
        time=float(time),
        source=str(source),
        payload=_decode.decode(payload),
    )


def open_journal(spec: str | os.PathLike[str], *, keep: int = DEFAULT_KEEP) -> Journal:
    """The journal named by `spec`: "memory" for a `MemoryJournal`, else a SQLite file path
    (a "sqlite:" prefix is allowed), opened at once. Raises `ValueError` for an empty spec,
    and what SQLite raises (with a note saying how to fix it) for a path it cannot open."""
    text = os.fspath(spec)
    if text == "memory":
        return MemoryJournal(keep=keep)
    path = text.removeprefix("sqlite:")
    if not path.strip():
        raise ValueError(
            f"open_journal({spec!r}): expected 'memory' or the path of a SQLite file, "
            "e.g. 'console.db'."
        )
    return SqliteJournal(path, keep=keep)
