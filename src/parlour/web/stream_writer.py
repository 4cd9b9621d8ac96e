"""The writer of one SSE stream (`parlour.web.stream`), run by the event loop's callbacks.

An idle open stream is what every open tab costs the server, so the writer is no task: the
connection calls it when something is pushed, and it writes from a callback, sending at once
when the server's `send` does not wait (the usual case); only what must wait (a full send
buffer, a heartbeat's reauthentication, a stale stream's refresh) runs in a task while it
lasts. An idle stream then holds the writer's fields and nothing else of its own: no task, no
coroutine, no future.

What this module does not do: open, refuse or end the stream's request (`Streams`), or know
how fragments are spelled on the wire (`parlour.wire`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any, cast

from starlette.types import Message, Scope, Send

from parlour.core.fragments import Fragment, Script
from parlour.runtime import Connection
from parlour.runtime.live import Live
from parlour.runtime.views import is_shared
from parlour.web.responses import EMPTY
from parlour.wire import encode
from parlour.wire.compress import GzipStream

if TYPE_CHECKING:
    from parlour.web.stream import Streams

__all__ = ["Writer", "last"]


class Writer:
    """The writer of one stream, run by the event loop's callbacks rather than by a task.

    The connection calls `wake` from inside a push (or a beat, nudge, close, hang_up); the
    writer then writes in the loop's next turn, after everything that turn pushed: a batch
    held for the coalescing `window` (background updates) waits on a timer, ended at once by
    an urgent push; a batch is collected, encoded and sent, and the writer listens again.
    Sends are driven at once: the server's `send` writes to its transport and returns without
    waiting, the usual case, so no task is needed. What must wait (the server's send buffer
    is full, the request is authenticated again at a heartbeat, a stale stream's refresh, the
    end of the stream after one of these) is finished by a task of its own, and then the
    writer goes on listening. Every callback and task runs in the request's context.

    When the writer ends the stream (the page ended, a reload, an error) it cancels the
    request's wait for the client; the request takes that cancellation back (`uncancel`), so
    one from elsewhere still stands.
    """

    __slots__ = (
        "connection",
        "context",
        "due",
        "ended",
        "error",
        "gzip",
        "live",
        "loop",
        "nonce",
        "request",
        "retry",
        "scope",
        "send",
        "streams",
        "task",
        "timer",
        "waiting",
    )

    def __init__(
        self,
        streams: Streams,
        connection: Connection,
        send: Send,
        retry: int | None,
        nonce: str | None,
        scope: Scope,
        live: Live,
        gzip: GzipStream | None,
    ) -> None:
        request = asyncio.current_task()
        assert request is not None, "a stream is served inside a task"
        self.request: asyncio.Task[Any] = request
        self.streams = streams
        self.connection = connection
        self.send = send
        self.retry = retry
        """Sent on the first event only (the client's reconnect delay)."""
        self.nonce = nonce
        self.scope = scope
        self.live = live
        self.gzip = gzip
        self.loop = asyncio.get_running_loop()
        # The request's own context rather than a copy of it (64 bytes per open stream): a
        # callback runs only between the request's steps, and what it sets it resets.
        self.context = request.get_context()
        self.due = False
        """A step is scheduled (`wake`)."""
        self.timer: asyncio.TimerHandle | None = None
        """The end of the coalescing window of a held batch."""
        self.task: asyncio.Task[None] | None = None
        """Finishing what had to wait; the writer does nothing else meanwhile."""
        self.waiting = True
        """The request still waits for the client (the writer may cancel that wait)."""
        self.ended = False
        """The writer ended the stream (the page ended, a reload, an error)."""
        self.error: BaseException | None = None

    def start(self) -> None:
        """Write what is queued (the full render, or the batches missed), then listen."""
        if not self.connection.listen(self):
            self.wake()

    def wake(self) -> None:
        if not self.due:
            self.due = True
            self.loop.call_soon(self._step, context=self.context)

    def stop(self) -> None:
        """The stream is over: no more writing, no timer, no task."""
        self.connection.unlisten()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _step(self) -> None:
        self.due = False
        timer = self.timer
        if timer is not None:
            # Woken inside the window (an urgent push, a nudge, the end): no second window.
            timer.cancel()
            self.timer = None
        self._run(timer is not None)

    def _held(self) -> None:
        self.timer = None
        if not self.due:  # (else a step is on its way and goes on without waiting again)
            self.connection.unlisten()
            self._run(True)

    def _run(self, held: bool) -> None:
        """Write batch after batch while they are ready, then listen again."""
        connection = self.connection
        try:
            while not connection.gone and self.task is None:
                if not held:
                    window = self.streams.window
                    if window > 0 and connection.holds(window):
                        connection.listen(self, urgent_only=True)
                        self.timer = self.loop.call_later(window, self._held, context=self.context)
                        return
                held = False
                if not self._write(connection.collect()) or connection.listen(self):
                    return
        except Exception as exc:
            self._fail(exc)

    def _write(self, batch: list[Fragment] | None) -> bool:
        """Write `batch` (a heartbeat when None) at once; False when the writer stops here (the
        stream ended, or a task finishes the rest)."""
        connection = self.connection
        gzip = self.gzip
        streams = self.streams
        if (
            batch is not None
            and len(batch) == 1
            and self.retry is None
            and not connection.nudged
            and not connection.stale
            and is_shared(batch[0])
        ):
            # A dashboard update, the common case: its bytes as every stream sends them.
            body = streams.encode_shared(batch[0])
            if gzip is not None:
                body = gzip.write_shared(body)
            return self._sent(_more(body), False)
        if batch is None or connection.nudged:
            if streams.ownership.authenticate is not None:
                self._later(self._handle(batch))  # the request is authenticated again
                return False
            connection.nudged = False  # nothing can change: a request's cookie is fixed
        if batch is not None and connection.stale:
            self._later(self._handle(batch))
            return False
        body, done = streams.body(batch, connection, self.retry, self.nonce, gzip)
        if body and batch is not None:
            self.retry = None
        if body and not self._sent(_more(body), done):
            return False
        if connection.gone:
            return False
        if done:
            self._sent(self._last(), True)
            return False
        return True

    def _sent(self, message: Message, last: bool) -> bool:
        """Send `message` now; True when it went at once and more may follow. With `last`,
        the stream ends after it (the end itself is sent after a last batch)."""
        awaitable = self.send(message)
        sending = cast(
            "Coroutine[Any, Any, None] | Generator[Any, Any, None]",
            awaitable if type(awaitable) is CoroutineType else awaitable.__await__(),
        )
        try:
            pending = sending.send(None)
        except StopIteration:
            if last and not message["more_body"]:
                self._end()
                return False
            return True
        self._later(self._finish_send(_Resumed(sending, pending), message, last))
        return False

    def _last(self) -> Message:
        return EMPTY if self.gzip is None else last(self.gzip.end())

    async def _finish_send(self, sending: _Resumed, message: Message, last: bool) -> bool:
        await sending
        if not message["more_body"] or self.connection.gone:
            return True
        if last:
            await self.send(self._last())
            return True
        return False

    async def _handle(self, batch: list[Fragment] | None) -> bool:
        """What cannot be done at once: a heartbeat's (or a nudge's) authentication, a stale
        stream's refresh. True when the stream has ended."""
        connection = self.connection
        streams = self.streams
        gzip = self.gzip
        if (batch is None or connection.nudged) and await streams.revoked(
            self.scope, self.live, connection
        ):
            body = encode(Script("window.location.reload()"), nonce=self.nonce).encode()
            if gzip is not None:
                body = gzip.write((body,), (False,))
            await self.send(_more(body))
            await self.send(self._last())
            return True
        if batch is not None and connection.stale:
            await streams.runtime.refresh(connection)
        body, done = streams.body(batch, connection, self.retry, self.nonce, gzip)
        if body and batch is not None:
            self.retry = None
        if body:
            await self.send(_more(body))
        if connection.gone:
            return True
        if done:
            await self.send(self._last())
            return True
        return False

    def _later(self, work: Coroutine[Any, Any, bool]) -> None:
        self.task = self.loop.create_task(self._finish(work), context=self.context)

    async def _finish(self, work: Coroutine[Any, Any, bool]) -> None:
        try:
            ended = await work
        except Exception as exc:
            self.task = None
            self._fail(exc)
            return
        self.task = None
        if ended:
            if not self.connection.gone:
                self._end()
        elif not self.connection.listen(self):
            self._run(False)

    def _end(self) -> None:
        self.ended = True
        self.connection.unlisten()
        if self.waiting:
            self.request.cancel()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._end()


class _Resumed:
    """Awaits the rest of an awaitable that was started by hand (its `__await__` iterator)
    and had to wait: what it waits for goes up to the awaiting task, as if it were awaited
    directly."""

    __slots__ = ("coroutine", "pending")

    def __init__(
        self,
        coroutine: Coroutine[Any, Any, Any] | Generator[Any, Any, Any],
        pending: object,
    ) -> None:
        self.coroutine = coroutine
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, pending = self.coroutine, self.pending
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # a cancellation: the coroutine gets it
                try:
                    pending = coroutine.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coroutine.send(value)
                except StopIteration as stop:
                    return stop.value


def _more(body: bytes) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": True}


def last(body: bytes) -> Message:
    """The stream's last message."""
    return {"type": "http.response.body", "body": body, "more_body": False}
