"""A live conversation: its current value, its lock, its open streams and its outbox.

The runtime keeps one `Live` per conversation in use. Every batch of fragments the
conversation produces gets the next sequence number and, once a stream has opened, is kept in
an outbox bounded in bytes, so a stream that reconnects with `Last-Event-ID` gets exactly what
it missed, and a tab costs the server the same memory however long its person has clicked.

What this module does not do: lock, save or push anything (see `parlour.runtime.runtime`).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from parlour.core.conversation import Conversation
from parlour.core.fragments import Elements, Fragment, History, Redirect, Script, Signals
from parlour.runtime.connection import Connection
from parlour.stores.protocol import Saved

__all__ = ["OUTBOX_BYTES", "Connections", "Live", "Outbox", "batch_bytes"]

OUTBOX_BYTES = 64 * 1024
"""The most a conversation's outbox holds, in bytes of its batches (`batch_bytes`).

A click on a dashboard re-renders the whole page, tens of kilobytes with its panels; a count
of batches (256 of them, for the conversation's 24 hours) let one clicking tab hold megabytes.
64 KB keeps a reconnect after a short outage exact (a network blip, a proxy's idle cut), and
a reconnect from further back gets a full render, as one before any stream did."""

_FRAGMENT_OVERHEAD = 64
"""What a fragment costs besides its strings: the object, its slot in a tuple."""


def _fragment_bytes(fragment: Fragment) -> int:
    kind = type(fragment)  # by type, not `match`: a click's batch is counted here
    if kind is Elements:
        e = cast(Elements, fragment)
        text = sys.getsizeof(e.html) + len(e.selector or "") + len(e.key or "")
    elif kind is Script:
        text = sys.getsizeof(cast(Script, fragment).js)
    elif kind is History or kind is Redirect:
        text = len(cast(History | Redirect, fragment).url or "")
    elif kind is Signals:
        text = sys.getsizeof(repr(cast(Signals, fragment).data))
    else:
        text = 0
    return _FRAGMENT_OVERHEAD + text


def batch_bytes(fragments: tuple[Fragment, ...]) -> int:
    """The memory a batch holds, as the outbox counts it: its strings (as Python keeps them)
    and a fixed overhead per fragment."""
    return sum(_fragment_bytes(f) for f in fragments)


class Outbox:
    """The newest batches of one conversation, at most `limit` bytes of them, oldest dropped.

    Iterating gives `(seq, fragments)` pairs, oldest first. A batch larger than `limit` on its
    own empties the outbox: it cannot be kept, and a replay must be gap-free, so nothing
    before it could be replayed either (a stream from before it gets a full render).
    """

    __slots__ = ("_batches", "bytes", "limit")

    def __init__(self, limit: int = OUTBOX_BYTES) -> None:
        if type(limit) is not int or limit < 0:
            raise ValueError(f"Outbox(limit={limit!r}): expected a whole number of bytes >= 0")
        self.limit = limit
        self.bytes = 0
        """The bytes of the batches held now (never above `limit`)."""
        self._batches: deque[tuple[int, tuple[Fragment, ...], int]] = deque()

    def __repr__(self) -> str:
        return f"Outbox({len(self._batches)} batches, {self.bytes} of {self.limit} bytes)"

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[tuple[int, tuple[Fragment, ...]]]:
        return ((seq, fragments) for seq, fragments, _ in self._batches)

    def append(self, seq: int, fragments: tuple[Fragment, ...]) -> None:
        """Keep batch `seq`, dropping the oldest batches until all fit in `limit` bytes."""
        size = batch_bytes(fragments)
        if size > self.limit:
            self._batches.clear()
            self.bytes = 0
            return
        self._batches.append((seq, fragments, size))
        self.bytes += size
        while self.bytes > self.limit:
            self.bytes -= self._batches.popleft()[2]


class Connections:
    """The open streams of one conversation: a set's `add`, `discard`, `len` and iteration.

    A tab has one stream, rarely two, and every idle open tab holds one of these: a single
    stream is kept as itself, more in a list (an empty set alone was 216 bytes, a list of one
    88)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: Connection | list[Connection] | None = None

    def __repr__(self) -> str:
        return f"Connections({list(self)!r})"

    def __len__(self) -> int:
        items = self._items
        if items is None:
            return 0
        return len(items) if type(items) is list else 1

    def __iter__(self) -> Iterator[Connection]:
        items = self._items
        if items is None:
            return iter(())
        if type(items) is list:
            return iter(items)
        return iter((cast(Connection, items),))

    def __contains__(self, connection: object) -> bool:
        items = self._items
        if type(items) is list:
            return connection in items
        return items is not None and items is connection

    def add(self, connection: Connection) -> None:
        items = self._items
        if items is None:
            self._items = connection
        elif type(items) is list:
            if connection not in items:
                items.append(connection)
        elif items is not connection:
            self._items = [cast(Connection, items), connection]

    def discard(self, connection: Connection) -> None:
        items = self._items
        if type(items) is list:
            if connection in items:
                items.remove(connection)
                if len(items) == 1:
                    self._items = items[0]
                elif not items:
                    self._items = None
        elif items is connection:
            self._items = None


@dataclass(eq=False, slots=True)
class Live:
    """A conversation in use: its current value, its lock, its open streams, its outbox.

    Every batch of fragments gets the next sequence number and is kept in an outbox bounded
    in bytes (`Outbox`), so a stream that reconnects with `Last-Event-ID: EPOCH.SEQ` receives
    exactly what it missed. The epoch changes whenever the conversation is loaded into a
    process, so ids from before a restart never match (that stream gets a full render).
    """

    conv: Conversation
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: Connections = field(default_factory=Connections)
    restored: bool = False
    """Loaded from the store: the next stream runs `wakeup` before it renders."""
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    seq: int = 0
    outbox: Outbox | None = None
    """The newest batches (up to `OUTBOX_BYTES`), kept from the first stream on: before any
    stream has opened, no client can hold an id to replay from, and an idle page holds no
    outbox."""
    streamed: bool = False
    """A stream has opened in this epoch: from now on batches go to the outbox."""
    views: frozenset[str] = frozenset()
    """The shared views the page shows (as of its last render): who gets their updates."""
    revision: int = 0
    """The shared store's revision of `conv` (a cluster node's; `parlour.runtime.cluster`)."""
    stale: bool = False
    """Another node saved a newer value: reload before use (a cluster node's)."""
    saved: Saved | None = None
    """What a store in parts holds of the history after the last save (`Runtime._save`);
    None when unknown (nothing saved in this process yet): the next save writes it all."""
    principal: object = None
    """Who the conversation belongs to, as `authenticate` last said it for a request of its
    own (kept in memory only: the store keeps the owner, see `parlour.web.identity`); what
    `principal()` gives its components, timers and bus events included."""

    @property
    def last_event_id(self) -> str:
        return f"{self.epoch}.{self.seq}"

    def missed_since(
        self, last_event_id: str | None
    ) -> list[tuple[int, tuple[Fragment, ...]]] | None:
        """The batches after `last_event_id`, in order; None when they cannot all be replayed."""
        if not last_event_id:
            return None
        epoch, _, raw = last_event_id.partition(".")
        if epoch != self.epoch or not raw.isdigit():
            return None
        seen = int(raw)
        if seen > self.seq:
            return None
        missed = [(n, frags) for n, frags in self.outbox or () if n > seen]
        expected = self.seq - seen
        return missed if len(missed) == expected else None
