"""Fan-out: a shared view's update pushed to its streams, a chunk of streams per loop turn.

Pushing an update to ten thousand streams wakes ten thousand writers, and the event loop runs
all of them before it reads a socket again: a click that arrives meanwhile waits for every
viewer's write (0.2-0.5 s at 10,000 viewers, docs/benchmarks.md). `FanOut` pushes to `chunk`
streams, then lets the loop turn (`call_soon`) before the next chunk, so a click's request and
its answer are handled between chunks; the fan-out as a whole takes about as long.

Updates go out in the order they were sent: an update sent while an earlier one is still on
its way waits for it, so no stream gets a view's older patch after its newer one. A small
update, with nothing on its way, is pushed at once.

What this module does not do: know which streams show a view (the runtime gives them), or
coalesce (each `Connection` does).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from parlour.core.fragments import Fragment
from parlour.runtime.connection import Connection

__all__ = ["CHUNK", "FanOut"]

CHUNK = 500
"""Streams pushed per loop turn: about 10 ms of their writes on the benchmark box, between
which a click gets through (a click's p99 during a fan-out to 10,000: 25 ms, not 200-460)."""


class _Job:
    __slots__ = ("connections", "fragments", "next")

    def __init__(self, connections: Sequence[Connection], fragments: tuple[Fragment, ...]) -> None:
        self.connections = connections
        self.fragments = fragments
        self.next = 0


class FanOut:
    """Pushes updates to their streams, `chunk` streams per loop turn, in order."""

    def __init__(self, chunk: int = CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"FanOut(chunk=...) must be at least 1, got {chunk}")
        self.chunk = chunk
        self._jobs: deque[_Job] = deque()
        self._scheduled = False

    def __repr__(self) -> str:
        left = sum(len(j.connections) - j.next for j in self._jobs)
        return f"FanOut(chunk={self.chunk}, pending={left})"

    @property
    def pending(self) -> int:
        """Updates not yet pushed to all their streams."""
        return len(self._jobs)

    def send(self, connections: Sequence[Connection], fragments: tuple[Fragment, ...]) -> None:
        """Push `fragments` to `connections` (urgent: the views' window coalesced them): the
        first chunk now, the rest over the next loop turns, after any update still going."""
        if not connections:
            return
        if not self._jobs and len(connections) <= self.chunk:
            for connection in connections:
                connection.offer(fragments)
            return
        self._jobs.append(_Job(connections, fragments))
        if not self._scheduled:
            self._step()

    def _step(self) -> None:
        self._scheduled = False
        budget = self.chunk
        jobs = self._jobs
        while jobs and budget > 0:
            job = jobs[0]
            end = min(len(job.connections), job.next + budget)
            fragments = job.fragments
            for connection in job.connections[job.next : end]:
                connection.offer(fragments)
            budget -= end - job.next
            job.next = end
            if end >= len(job.connections):
                jobs.popleft()
        if jobs:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): finish here
                self._step()
                return
            self._scheduled = True
            loop.call_soon(self._step)

    def flush(self) -> None:
        """Push everything still on its way now (the runtime is closing, or a test)."""
        while self._jobs:
            self._step()
