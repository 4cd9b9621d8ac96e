"""A live conversation: its current value, its lock, its open streams and its outbox.

The runtime keeps one `Live` per conversation in use. Every batch of fragments the
conversation produces gets the next sequence number and, once a stream has opened, is kept in
a bounded outbox, so a stream that reconnects with `Last-Event-ID` gets exactly what it missed.

What this module does not do: lock, save or push anything (see `parlour.runtime.runtime`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field

from parlour.core.conversation import Conversation
from parlour.core.fragments import Fragment
from parlour.runtime.connection import Connection

__all__ = ["OUTBOX_LENGTH", "Live"]

OUTBOX_LENGTH = 256
"""Batches kept per conversation for streams that reconnect with `Last-Event-ID`."""


@dataclass(eq=False)
class Live:
    """A conversation in use: its current value, its lock, its open streams, its outbox.

    Every batch of fragments gets the next sequence number and is kept in a bounded outbox,
    so a stream that reconnects with `Last-Event-ID: EPOCH.SEQ` receives exactly what it
    missed. The epoch changes whenever the conversation is loaded into a process, so ids from
    before a restart never match (that stream gets a full render instead).
    """

    conv: Conversation
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: set[Connection] = field(default_factory=set[Connection])
    restored: bool = False
    """Loaded from the store: the next stream runs `wakeup` before it renders."""
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    seq: int = 0
    outbox: deque[tuple[int, tuple[Fragment, ...]]] | None = None
    """The newest batches (up to 256), kept from the first stream on: before any stream has
    opened, no client can hold an id to replay from, and an idle page holds no outbox."""
    streamed: bool = False
    """A stream has opened in this epoch: from now on batches go to the outbox."""
    views: frozenset[str] = frozenset()
    """The shared views the page shows (as of its last render): who gets their updates."""
    revision: int = 0
    """The shared store's revision of `conv` (a cluster node's; `parlour.runtime.cluster`)."""
    stale: bool = False
    """Another node saved a newer value: reload before use (a cluster node's)."""
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
