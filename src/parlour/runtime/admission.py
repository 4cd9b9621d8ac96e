"""Admission of restores: a bounded number at once, the others in line, a click's first.

After a restart every open tab reconnects at once, and each reconnect restores its
conversation (load, decode, `wakeup`, a full render, a save). Run all of them together and
every turn of the event loop carries thousands of them: a click of someone already back
waits behind the whole storm. So at most `slots` restores run at a time; the others wait in
line, at most `limit` in all (past that a restore is refused with `RestoreBusy`, a 503 the
client retries), and a restore a click is waiting for (`urgent`) goes before every stream's.
A click on a conversation already in memory never waits here at all.

The conversations a storm restores are long-lived, and every quarter of growth of the heap
makes the collector scan all of it (a full collection: 0.1 s, then 0.25, 0.5 s as they pile
up, during which nothing else runs, a click's answer included). So every `FREEZE_EVERY`
restores the objects alive are moved out of the collected generations (`gc.freeze()`):
a full collection then scans only what came after. What is frozen is freed as usual when
its last reference goes (by reference counting); only a cycle of garbage that existed at
that instant is never collected.

    admission = Admission(slots=8, limit=64)
    await admission.enter(urgent=False, key=cid)   # may wait; RestoreBusy past `limit`
    try: ... restore ...
    finally: admission.leave()
    admission.promote(cid)                         # a click now waits for cid's restore

What this module does not do: restore anything (see `runtime`), or know about HTTP.
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque

__all__ = ["FREEZE_EVERY", "Admission", "Refused"]

FREEZE_EVERY = 256
"""Restores between two `gc.freeze()` calls (see the module docstring)."""


class Refused(Exception):
    """The line is full: `limit` restores are running or waiting already."""


class Admission:
    """At most `slots` holders at once; waiters in line, urgent ones first, at most `limit`."""

    __slots__ = ("_keys", "_urgent", "_waiting", "done", "limit", "running", "slots")

    def __init__(self, *, slots: int, limit: int) -> None:
        if slots < 1:
            raise ValueError(f"Admission(slots={slots!r}): at least one restore must run")
        self.slots = slots
        self.limit = limit
        self.running = 0
        self.done = 0
        """Restores over (each `leave`); the collector is told every `FREEZE_EVERY`."""
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._keys: dict[str, asyncio.Future[None]] = {}

    def __repr__(self) -> str:
        return (
            f"Admission(running={self.running}/{self.slots}, urgent={len(self._urgent)}, "
            f"waiting={len(self._waiting)}, limit={self.limit})"
        )

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._waiting)

    async def enter(self, *, urgent: bool, key: str | None = None) -> None:
        """Take a slot, waiting in line for one if none is free; `Refused` past `limit`."""
        if self.running + self.waiting >= self.limit:
            raise Refused(f"{self.running} restores running and {self.waiting} waiting")
        line = self._urgent if urgent else self._waiting
        if self.running < self.slots and not self._urgent and (urgent or not self._waiting):
            self.running += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(future)
        if key is not None:
            self._keys[key] = future
        try:
            await future  # resolved by `leave`, which hands its slot over
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.leave()  # the slot came just as the wait was cancelled: pass it on
            else:
                for queue in (self._urgent, self._waiting):
                    if future in queue:
                        queue.remove(future)
            raise
        finally:
            if key is not None and self._keys.get(key) is future:
                del self._keys[key]

    def leave(self) -> None:
        """Give the slot back: to the first urgent waiter, else the first waiter, else free."""
        self.done += 1
        if self.done % FREEZE_EVERY == 0:
            gc.freeze()  # the restored conversations leave the collected generations
        for line in (self._urgent, self._waiting):
            while line:
                future = line.popleft()
                if not future.done():
                    future.set_result(None)  # the slot passes on: `running` is unchanged
                    return
        self.running -= 1

    def promote(self, key: str) -> None:
        """A click now waits for `key`'s restore: move it to the front part of the line."""
        future = self._keys.get(key)
        if future is not None and future in self._waiting:
            self._waiting.remove(future)
            self._urgent.append(future)
