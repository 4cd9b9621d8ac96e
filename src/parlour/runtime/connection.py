"""A connection: the outgoing queue of one SSE stream.

Fragments for a conversation are pushed to each of its open connections; the stream's
writer takes them in batches. The queue is bounded and coalescing, so a burst of updates or a
slow client never grows memory without limit and never holds anyone else back:

  * an element patch that replaces (modes outer, inner, replace, remove) supersedes a queued,
    not yet sent patch with the same `key` (the same instance): only the newest survives, in
    the newest's place; one that adds (append, prepend, before, after: an item of a list, a
    widget's message) supersedes nothing, since every one of them counts;
  * a full render of `#root` supersedes every queued element patch before it, except those
    of the overlay beside it (`#parlour-overlay`: toasts), which it does not replace;
  * signals, scripts and redirects are not coalesced (they may change state);
  * past `limit` queued fragments, the queued page patches are dropped and the queue is marked
    `stale`: the writer then asks for one fresh full render instead of sending the backlog.
    Signals and scripts are kept, unless they alone exceed the limit (then all is dropped).

A writer waits in one of two ways: with a future from `waiter` (awaited by a task, as `take`
does), or as a listener (`listen`): the connection calls its `wake()` once, from inside the
push (or beat, nudge, close, hang_up) that ends the wait. The stream's writer listens, so an
idle stream holds no task, no coroutine and no future for its writer (parlour.web.stream).

Heartbeats: an idle writer waits without a timer of its own; one `Heartbeat` per app wakes
the writers that have been idle for a heartbeat (two of its sweeps), so a delivery to ten
thousand streams arms and cancels no timers (it was a quarter of parlour's own work per
delivery, docs/decisions/0012-stream-compression.md).

What this module does not do: encode fragments (see `parlour.wire`) or know about HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Protocol

from parlour.core.fragments import OVERLAY_SELECTOR, ROOT_SELECTOR, Close, Elements, Fragment

__all__ = ["Connection", "Heartbeat", "Listener"]

_REPLACING = frozenset({"outer", "inner", "replace", "remove"})
"""Patch modes after which only the newest patch of a target matters."""

_ids = itertools.count(1)


class Listener(Protocol):
    """A writer that waits without a future (`Connection.listen`)."""

    def wake(self) -> None:
        """Called once, inside the push (beat, nudge, close, hang_up) that ends the wait: it
        should do no more than schedule the writing."""
        ...


class Connection:
    """The outgoing, coalescing queue of one SSE stream of conversation `cid`."""

    # Slots: every open stream holds one, idle or not (56 bytes less each than a dict's).
    __slots__ = (
        "__weakref__",
        "_listener",
        "_queue",
        "_urgent",
        "_waiter",
        "_wants_urgent",
        "cid",
        "closed",
        "coalesced",
        "epoch",
        "gone",
        "id",
        "idle",
        "limit",
        "nudged",
        "replayed",
        "sent",
        "seq",
        "stale",
    )

    def __init__(self, cid: str, *, limit: int = 500) -> None:
        self.cid = cid
        self.id = next(_ids)
        self.limit = limit
        self.stale = False
        self.closed = False
        self.sent = 0
        self.coalesced = 0
        self.epoch = ""
        self.seq = 0
        """Sequence number of the newest batch pushed; the id of what `take` returns."""
        self.replayed = 0
        """How many missed batches were replayed into this stream when it opened."""
        self.gone = False
        """The client went away: the writer stops without sending what is queued."""
        self.nudged = False
        """The writer should check its request again (see `nudge`)."""
        self.idle = False
        """Nothing taken since the last sweep of the `Heartbeat` (set by it, cleared by take)."""
        self._queue: list[Fragment] | None = None
        """What is queued; None when nothing is (an idle stream holds no list: 56 bytes)."""
        self._urgent = False
        # One future while the writer waits, resolved by the push that ends the wait: an idle
        # stream holds no Event objects, no task and no timer, only this.
        self._waiter: asyncio.Future[None] | None = None
        self._listener: Listener | None = None
        """The writer listening for the end of its wait (`listen`), instead of a future."""
        self._wants_urgent = False

    def __repr__(self) -> str:
        return f"Connection(cid={self.cid!r}, id={self.id}, queued={len(self)})"

    def __len__(self) -> int:
        queue = self._queue
        return 0 if queue is None else len(queue)

    @property
    def waiting(self) -> bool:
        """Is the writer waiting (for a batch, or inside its window)?"""
        waiter = self._waiter
        return self._listener is not None or (waiter is not None and not waiter.done())

    @property
    def event_id(self) -> str:
        """`EPOCH.SEQ` of the newest batch queued: the SSE id a reconnect sends back."""
        return f"{self.epoch}.{self.seq}"

    def push(
        self,
        fragments: tuple[Fragment, ...] | list[Fragment],
        *,
        seq: int | None = None,
        urgent: bool = False,
    ) -> None:
        """Queue fragments for this stream (never blocks, never grows past `limit`).

        `urgent` marks the answer to this tab's own click: it is sent at once, ahead of any
        coalescing window, together with whatever is queued before it.
        """
        if self.closed:
            return
        if urgent:
            self._urgent = True
        if seq is not None:
            self.seq = seq
        queue = self._queue
        if queue is None:
            queue = self._queue = []
        for fragment in fragments:
            if (
                queue
                and isinstance(fragment, Elements)
                and fragment.key is not None
                and fragment.mode in _REPLACING
            ):
                queue = self._supersede(queue, fragment)
            queue.append(fragment)
        if len(queue) > self.limit:
            # Drop the page patches (a full render replaces them), keep what changes state.
            kept: list[Fragment] = [f for f in queue if not isinstance(f, Elements)]
            if len(kept) > self.limit:
                kept = []  # a flood of scripts/signals: nothing bounded can keep them all
            self.coalesced += len(queue) - len(kept)
            self._queue = kept
            self.stale = True
        if not self._wants_urgent or self._urgent or self.stale:
            self._wake()

    def offer(self, fragments: tuple[Fragment, ...]) -> None:
        """`push(fragments, urgent=True)` for a fan-out: the same, made short for the usual
        case (an idle stream, its queue empty), since it runs once per viewer per update."""
        if self._queue or self.closed or len(fragments) > self.limit:
            self.push(fragments, urgent=True)
            return
        self._queue = list(fragments)
        self._urgent = True
        self._wake()

    def _wake(self) -> None:
        listener = self._listener
        if listener is not None:
            self._listener = None
            self._wants_urgent = False
            listener.wake()
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None, *, urgent_only: bool) -> None:
        """Sleep until a push wakes the writer (only an urgent one if asked), or `timeout`."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._wants_urgent = urgent_only
        timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            self._wants_urgent = False
            if timer is not None:
                timer.cancel()

    def _supersede(self, queue: list[Fragment], fragment: Elements) -> list[Fragment]:
        """The queue without what `fragment` supersedes (the queue itself when nothing)."""
        full = fragment.key == ROOT_SELECTOR
        before = len(queue)
        kept = [
            f
            for f in queue
            if not (
                isinstance(f, Elements)
                and ((full and f.selector != OVERLAY_SELECTOR) or f.key == fragment.key)
            )
        ]
        if len(kept) == before:
            return queue
        self.coalesced += before - len(kept)
        self._queue = kept
        return kept

    async def take(
        self, timeout: float | None = None, *, window: float | Callable[[], float] = 0.0
    ) -> list[Fragment] | None:
        """Everything queued, waiting up to `timeout` seconds; None when nothing came.

        With a `window`, a batch of background updates (timers, the bus) waits up to that
        long for more to arrive, so a burst leaves as a few patches (newest per element wins);
        an urgent push ends the wait at once. A callable `window` is read when the first
        update arrives, so a window changed while the stream was idle applies at once.

        The stream's writer does the same in steps (`waiter`, `holds`/`hold`, `collect`), so
        that waiting makes no coroutine objects: with ten thousand streams, every object a
        wait leaves alive is scanned by the collector's young passes during a fan-out.
        """
        waiter = self.waiter()
        if waiter is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
        if callable(window):
            window = window()
        if self.holds(window):
            await self.hold(window)
        return self.collect()

    def waiter(self) -> asyncio.Future[None] | None:
        """A future that a push (or `beat`, `nudge`, `close`, `hang_up`) resolves, for the
        writer to await; None when something is ready now. Then `collect`."""
        if self._queue or self.stale or self.closed:
            return None
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    def listen(self, listener: Listener, *, urgent_only: bool = False) -> bool:
        """Have `listener.wake()` called once, by the next push (only by an urgent one, if
        asked: the writer is holding a batch for its coalescing window), beat, nudge, close or
        hang_up; the wait of a writer that is no task. False, and nothing armed, when a batch
        (or the end) is ready now and the wait is not for an urgent push: then `collect`."""
        if not urgent_only and (self._queue or self.stale or self.closed):
            return False
        self._listener = listener
        self._wants_urgent = urgent_only
        return True

    def unlisten(self) -> None:
        """Forget the listener (its window is over, or its stream has ended)."""
        self._listener = None
        self._wants_urgent = False

    def holds(self, window: float) -> bool:
        """Should what is queued wait out a coalescing `window` (background updates only)?"""
        return window > 0 and not self._urgent and not self.closed and not self.stale

    async def hold(self, window: float) -> None:
        """Wait up to `window` seconds for more, ended at once by an urgent push."""
        await self._wait(window, urgent_only=True)

    def collect(self) -> list[Fragment] | None:
        """Everything queued, in order; None when nothing is (a `beat` woke the writer)."""
        self._waiter = None
        self._listener = None
        self._wants_urgent = False
        self.idle = False
        self._urgent = False
        queue = self._queue
        if not queue:
            if not self.stale and not self.closed:
                return None
            queue = []
        # The queue itself: the next push starts a new one, and a stream that waits holds no
        # list (nor one more object for the collector to scan during a fan-out).
        self._queue = None
        self.sent += len(queue)
        return queue

    def beat(self) -> bool:
        """Wake a writer waiting for a batch (not one inside its coalescing window): it finds
        nothing (take answers None) and sends a heartbeat. False when it was not waiting."""
        if self._wants_urgent:
            return False
        listener = self._listener
        if listener is not None:
            self._listener = None
            listener.wake()
            return True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return False
        waiter.set_result(None)
        return True

    def nudge(self) -> None:
        """Ask the writer to check its request again now, not at its next heartbeat (someone
        signed out: `App.reauthenticate`); it wakes at once if it is waiting."""
        self.nudged = True
        self._wake()

    def close(self) -> None:
        """End the stream after what is queued (the conversation ended or was replaced)."""
        queue = self._queue
        if queue is None:
            self._queue = [Close()]
        else:
            queue.append(Close())
        self.closed = True
        self._wake()

    def hang_up(self) -> None:
        """The client went away: wake the writer so it stops and gives back the stream."""
        self.gone = True
        self.closed = True
        self._wake()


class Heartbeat:
    """Wakes the idle writers of the connections it is given, every `interval` seconds or so.

    A connection is woken (`Connection.beat`) at the second sweep that finds it waiting with
    nothing taken in between: at most two intervals after its last batch, and every two
    intervals while it stays idle. With `interval = heartbeat / 2` a stream idle for a
    heartbeat sends a comment. The sweep runs as one task while any connection is added, and
    ends when the last is discarded.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        # A dict rather than a set: below 50,000 items a set's table grows fourfold, and at
        # 5,000 open streams it held 105 bytes for each, a dict 30.
        self.connections: dict[Connection, None] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: Connection) -> None:
        self.connections[connection] = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sweep_forever())

    def discard(self, connection: Connection) -> None:
        self.connections.pop(connection, None)
        if not self.connections and self._task is not None:
            self._task.cancel()
            self._task = None

    def sweep(self) -> int:
        """One sweep: wake the connections idle since the last; how many were woken."""
        woken = 0
        for connection in self.connections:
            if not connection.waiting:
                continue  # busy writing: it is not idle
            if connection.idle:
                woken += connection.beat()
            else:
                connection.idle = True
        return woken

    async def _sweep_forever(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while self.connections:
                await asyncio.sleep(self.interval)
                self.sweep()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
