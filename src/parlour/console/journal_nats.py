"""`StreamJournal`: the console's journal is the NATS bus's own JetStream stream.

    bus = await NatsBus.connect(url)
    journal = await StreamJournal.open(bus, js)     # js: a JetStreamContext on any connection
    await journal.read(after=0, limit=1000, pattern="question.>")   # the stream, in id order

Why. On NATS every event is already stored once, in the bus's stream, with its sequence as
its id (`parlour.bus.nats`), and every console on that bus hears it. So consoles that share
the bus (the nodes of a cluster) need no journal of their own: each reads the stream when it
starts (the hub replays it to rebuild its state), `/api/replay` and the history pages read
it, and they all see the same events in the same order. `extend` stores nothing: the event
was stored when it was published, whichever node published it.

Retention is the stream's: its newest `history_size` events (10 000 by default, the same as
a SQLite journal's `keep`), counting every event on the bus.

What it does not do: keep events anywhere but in NATS (a console that wants a local copy as
well is given `journal=` a SQLite path), or create the stream (the bus does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from nats.js import JetStreamContext

from parlour.bus.event import Event
from parlour.bus.nats import NatsBus
from parlour.console.journal import Journal

__all__ = ["StreamJournal"]

_UNBOUNDED: Final = 2**63 - 1


class StreamJournal(Journal):
    """A `Journal` that reads the bus's stream; see the module docstring."""

    def __init__(self, bus: NatsBus, js: JetStreamContext, *, last_id: int, keep: int) -> None:
        """Low level: prefer `open`, which reads the stream's newest id and bound."""
        self.bus = bus
        self.keep = keep
        self._js = js
        self._last_id = last_id
        self._closed = False

    @classmethod
    async def open(cls, bus: NatsBus, js: JetStreamContext) -> StreamJournal:
        info = await js.stream_info(bus.stream)
        bound = int(info.config.max_msgs or 0)  # -1: a stream made unbounded by its owner
        keep = bound if bound > 0 else _UNBOUNDED
        return cls(bus, js, last_id=int(info.state.last_seq), keep=keep)

    def __repr__(self) -> str:
        return f"StreamJournal(stream={self.bus.stream!r}, keep={self.keep})"

    def describe(self) -> str:
        return f"the NATS stream {self.bus.stream}"

    async def extend(self, events: Sequence[Event]) -> None:
        self._check_open()
        if events:
            self._last_id = max(self._last_id, max(event.id for event in events))

    async def read(self, after: int = 0, limit: int = 1000, pattern: str = ">") -> list[Event]:
        self._check_open()
        return await self.bus.history(after=after, pattern=pattern, limit=limit)

    def last_id(self) -> int:
        return self._last_id

    async def count(self) -> int:
        self._check_open()
        info = await self._js.stream_info(self.bus.stream)
        return int(info.state.messages)

    async def close(self) -> None:
        self._closed = True  # the stream stays: it is the bus's

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; open a new journal instead of reusing it")
