"""The contract every conversation store keeps, and the rules shared by all of them.

A store is where a conversation lives between two events. The kernel serialises a
conversation to opaque `bytes`; the runtime saves those bytes after every dispatch and
loads them when a tab comes back (after a restart, or on another node). A store keeps,
per conversation id (`cid`):

    data      the serialised conversation, opaque bytes (never parsed here)
    touched   unix seconds of the conversation's last activity (for the reaper)
    version   `STORE_FORMAT_VERSION` at the time of writing (how the row/file is laid out)

Every method is a coroutine because a save must never block the event loop: the stores
that touch a disk do their I/O on worker threads. Operations on one cid take effect in
the order they were called, even when the caller does not await one before starting the
next.

A store may also keep a conversation in parts (`PartStore`): its head and its history
records one by one, so that the save after a click writes what changed (the head and the one
new history record, a `Change`) instead of the whole history again. What such a store loads
is the conversation whole again (`parlour.core.codec.join`), read like any other.

What this module does not do: know anything about the conversation format (that is the
kernel's business, so the stores can never drift from it), lock conversations (the
runtime holds one lock per conversation), or choose a store (see `open_store`).
"""

from __future__ import annotations

import math
import re
from typing import Protocol, runtime_checkable

import msgspec

__all__ = [
    "CID_PATTERN",
    "STORE_FORMAT_VERSION",
    "Change",
    "Conflict",
    "ConversationStore",
    "PartStore",
    "RecordStore",
    "RevisionedStore",
    "StoreFormatError",
    "check_cid",
    "check_touched",
]

STORE_FORMAT_VERSION = 1
"""The layout version this parlour writes and reads (SQLite `version` column, file header).

Bump it when the layout of what a store writes changes, and teach the stores to read the
older versions they must still accept.
"""

CID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
"""What a conversation id may look like: 1-128 URL-safe characters, not starting with a dot.

Every store enforces the same rule (not just the file store, which needs it to build safe
file names) so that moving from one store to another never makes a valid cid invalid.
`secrets.token_urlsafe()` output always fits.
"""


@runtime_checkable
class ConversationStore(Protocol):
    """Where conversations live between events: opaque bytes by conversation id.

    Implementations: `MemoryStore` (tests, throwaway demos), `FileStore` (one file per
    conversation, easy to inspect), `SqliteStore` (the embedded default). `open_store`
    builds one from a `--store` spec.
    """

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        """Insert or replace `cid`'s bytes; `touched` is unix seconds of last activity."""
        ...

    async def load(self, cid: str) -> bytes | None:
        """The bytes last saved for `cid`, or `None` when there are none.

        Raises `StoreFormatError` when they were written in a format this parlour cannot
        read (by a newer parlour, say): guessing would hand the kernel garbage.
        """
        ...

    async def delete(self, cid: str) -> None:
        """Forget `cid`. Deleting an unknown cid is not an error (the reaper may race)."""
        ...

    async def idle_since(self, before: float) -> list[str]:
        """The cids whose `touched` is earlier than `before`, oldest first (for the reaper)."""
        ...

    async def count(self) -> int:
        """How many conversations the store holds (for logs, metrics and the inspector)."""
        ...

    async def close(self) -> None:
        """Release files, connections and threads. Idempotent; the store is unusable after."""
        ...

    def describe(self) -> str:
        """A short description for logs, in `open_store` syntax, e.g. `sqlite:/x/state.sqlite`."""
        ...


@runtime_checkable
class RevisionedStore(ConversationStore, Protocol):
    """A store that several processes share: every save is a compare-and-set on a revision.

    One process's lock cannot serialise what another process does, so a node that saves a
    conversation says which stored value it changed (the revision it loaded). When another
    node saved in between, the save is refused with `Conflict` instead of overwriting that
    node's work; the runtime then reloads and applies its event to the current value. A
    runtime whose store is revisioned runs as one node of a cluster (`parlour.runtime.cluster`).

    Revisions are positive integers that grow with every save of a cid; `0` means "nothing
    stored": `save_revision(cid, data, revision=0)` creates the conversation, and fails if
    it already exists.
    """

    async def load_revision(self, cid: str) -> tuple[bytes, int] | None:
        """`(data, revision)` of `cid`, or None when nothing is stored."""
        ...

    async def save_revision(self, cid: str, data: bytes, *, touched: float, revision: int) -> int:
        """Store `data` if `cid` is still at `revision`; the new revision. Else `Conflict`."""
        ...

    async def delete_revision(self, cid: str, *, revision: int) -> None:
        """Forget `cid` if it is still at `revision`, else `Conflict` (a newer value wins)."""
        ...


type Saved = tuple[int, list[bytes]]
"""What a store in parts holds of a conversation's history after a save: `(base, records)`,
the depth of the first record and the records (the runtime keeps it to make the next
`Change`)."""


class Change(msgspec.Struct, frozen=True):
    """One save of a conversation to a store in parts: what changed since the save before.

        head      the conversation without its history (`codec.encode_head`), replaced whole
        touched   unix seconds of its last activity
        base      history depth of the first record kept; records `base .. base+count-1`
        count     how many history records the conversation has now
        written   `(depth, record)` to store: the records that are new or differ
        fresh     every record is in `written`: drop whatever the store held of the history
        trim      the range `base .. base+count-1` shrank at an end: drop what is outside it

    Made by `Change.of` from the records of the save before, which are compared by value
    (records that did not change are the same bytes objects, so this is cheap). A frozen
    struct: one is made on every save of a click, and its constructor is C code.
    """

    head: bytes
    touched: float
    base: int
    count: int
    written: tuple[tuple[int, bytes], ...]
    fresh: bool
    trim: bool

    @classmethod
    def of(
        cls, head: bytes, *, touched: float, base: int, records: list[bytes], before: Saved | None
    ) -> Change:
        """The change from `before` (the `(base, records)` of the last save, None when there
        is none this process knows of) to the history `records` starting at depth `base`."""
        count = len(records)
        if before is None:
            written = tuple([(base + i, record) for i, record in enumerate(records)])
            return cls(head, touched, base, count, written, True, True)
        old_base, old = before
        shift = base - old_base  # record i now was record i + shift then
        lo, hi = max(0, -shift), max(0, min(count, len(old) - shift))
        changed = list(range(min(lo, count)))
        if lo < hi:
            # Both hold depths lo..hi-1: compare the ends one by one and the middle in C.
            if records[lo] != old[lo + shift]:
                changed.append(lo)
            if hi - lo > 1 and records[lo + 1 : hi] != old[lo + 1 + shift : hi + shift]:
                changed += [i for i in range(lo + 1, hi) if records[i] != old[i + shift]]
        changed += range(max(hi, lo), count)
        trim = shift > 0 or base + count < old_base + len(old)
        written = tuple([(base + i, records[i]) for i in changed])
        return cls(head, touched, base, count, written, False, trim)


@runtime_checkable
class PartStore(ConversationStore, Protocol):
    """A store that keeps a conversation in parts: its head and each history record.

    `save_change` writes a `Change` (the new head, the history records that are new or
    differ); `load` gives the conversation whole (`parlour.core.codec.join` of the head and
    the records in depth order), so a conversation saved in parts reads like any other. A
    plain `save` replaces the conversation whole, history parts included.
    """

    async def save_change(self, cid: str, change: Change) -> None:
        """Apply `change` to `cid` (creating it): after it, the store holds `change.head` and
        the records of depths `change.base .. change.base + change.count - 1`."""
        ...


@runtime_checkable
class RecordStore(ConversationStore, Protocol):
    """A store in this process's memory that holds a conversation as its head and its history
    records themselves: the bytes objects its snapshots hold (`codec.history_records`), which
    nobody changes. A save then encodes the head and the one new record and copies nothing,
    where a whole conversation would be joined into new bytes on every click (`MemoryStore`).
    `load` joins them (`parlour.core.codec.join`); a plain `save` replaces them whole.
    """

    async def save_records(
        self, cid: str, head: bytes, records: list[bytes], *, touched: float
    ) -> None:
        """Hold `head` (`codec.encode_head`) and `records` (`codec.history_records`, kept as
        they are, never changed) as `cid`, replacing what it held."""
        ...


class Conflict(Exception):
    """A compare-and-set save lost: another writer changed the conversation since it was read.

    Not an error to show anyone: the runtime reloads the conversation and applies the event
    again, to the value that won.
    """

    def __init__(self, cid: str, *, expected: int) -> None:
        self.cid = cid
        self.expected = expected
        super().__init__(
            f"conversation {cid!r} is no longer at revision {expected}: another writer saved "
            "it first. Fix: reload it (load_revision) and apply the change to the new value."
        )


class StoreFormatError(Exception):
    """Stored data is in a layout this parlour cannot read.

    Raised instead of returning something half-understood: a newer parlour may have
    written the store (a rollback after a deploy), or the file is not a store at all.
    """

    def __init__(self, where: str, *, found: int | str, supported: int = STORE_FORMAT_VERSION):
        self.where = where
        self.found = found
        self.supported = supported
        if isinstance(found, int) and found > supported:
            why = f"format version {found}, written by a newer parlour"
        else:
            why = f"format version {found!s}, which no parlour release writes"
        super().__init__(
            f"{where} is stored in {why}; this parlour reads format version {supported} "
            "only. Fix: upgrade parlour to the release that wrote it, or clear the store "
            "(its conversations are lost; open tabs start fresh)."
        )


def check_cid(cid: str) -> str:
    """Return `cid` unchanged if it is a valid conversation id, else raise `ValueError`.

    Called by every store on every operation: a cid reaches the store from a URL, and
    the file store turns it into a file name, so anything that could name another file
    (`../x`, `a/b`, `.hidden`) must be refused before it gets near the disk.
    """
    if not isinstance(cid, str) or CID_PATTERN.fullmatch(cid) is None:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            f"invalid conversation id {cid!r}: expected 1-128 characters from A-Z a-z 0-9 "
            "'_' '-' '.', not starting with '.' (e.g. secrets.token_urlsafe() output). "
            "Fix: mint cids with parlour's runtime, never from user input."
        )
    return cid


def check_touched(touched: float) -> float:
    """Return `touched` if it is a finite number of seconds, else raise `ValueError`.

    A NaN or infinite timestamp would make the conversation invisible to the reaper
    forever (every comparison with NaN is false), so it is refused at the door.
    """
    if isinstance(touched, bool) or not isinstance(touched, int | float):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"touched must be unix seconds (a float), got {touched!r}")
    if not math.isfinite(touched):
        raise ValueError(f"touched must be finite unix seconds (e.g. time.time()), got {touched}")
    return float(touched)
