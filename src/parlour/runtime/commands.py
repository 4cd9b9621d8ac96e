"""Commands: the side effects a kernel step asks for, performed by the runtime.

    timers          ScheduleTimer / CancelTimer: `after(...)`, fired through `Runtime.apply`
    subscriptions   Subscribe / Unsubscribe: one listening task per (cid, iid, pattern)
    io, dispatch_to RunIo on a thread (or the loop, for `async def`), DispatchTo
    publish         Publish on the bus
    end             Ended: the app's `on_end(cid, value)`, and one log line

The kernel returns commands as plain values; this is the one place that turns them into
timers, tasks and bus traffic, and the one place that cancels them (a conversation forgotten,
the runtime closed). What it does not do: change a conversation (every effect on one goes
back through `Runtime.apply`, under that conversation's lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from parlour.bus.subscription import Subscription as BusSubscription
from parlour.core import commands as cmd
from parlour.core import kernel
from parlour.core.conversation import Conversation, Subscription, Timer

if TYPE_CHECKING:
    from parlour.runtime.runtime import Runtime

__all__ = ["Commands"]

log = logging.getLogger("parlour")


class Commands:
    """The timers, bus subscriptions and background tasks of one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self.subscriptions: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def resume(self, cid: str, conv: Conversation) -> None:
        """A conversation restored from the store: arm its timers, listen to its topics."""
        for timer in conv.timers:
            self._schedule(cid, timer)
        for sub in conv.subscriptions:
            self._subscribe(cid, sub)

    def drop(self, cid: str) -> None:
        """A conversation forgotten: cancel its timers and subscriptions."""
        for key in [k for k in self.timers if k[0] == cid]:
            self.timers.pop(key).cancel()
        for key in [k for k in self.subscriptions if k[0] == cid]:
            self.subscriptions.pop(key).cancel()

    def perform(self, command: cmd.Command) -> None:
        match command:
            case cmd.ScheduleTimer(cid, timer):
                self._schedule(cid, timer)
            case cmd.CancelTimer(cid, timer):
                handle = self.timers.pop((cid, timer.id), None)
                if handle is not None:
                    handle.cancel()
            case cmd.Subscribe(cid, sub):
                self._subscribe(cid, sub)
            case cmd.Unsubscribe(cid, sub):
                task = self.subscriptions.pop((cid, sub.iid, sub.pattern), None)
                if task is not None:
                    task.cancel()
            case cmd.RunIo(cid, iid, method, fn):
                self.spawn(self._run_io(cid, iid, method, fn))
            case cmd.DispatchTo(cid, iid, method, payload):
                now = self.rt.clock()
                self.spawn(
                    self.rt.apply(cid, lambda c: kernel.deliver(c, iid, method, payload, now=now))
                )
            case cmd.Publish(topic, payload, source):
                if self.rt.bus is None:
                    log.warning("parlour: publish(%r) with no bus configured; dropped", topic)
                else:
                    self.spawn(self.rt.bus.publish(topic, payload, source=source))
            case cmd.Ended(cid, value):
                self._ended(cid, value)

    def _ended(self, cid: str, value: Any) -> None:
        """Hand a finished conversation's value to the app's `on_end`, and log the end once."""
        log.info("parlour: conversation %s ended", cid)
        if self.rt.on_end is None:
            return
        try:
            result = self.rt.on_end(cid, value)
        except Exception:
            log.exception("parlour: on_end failed for conversation %s", cid)
            return
        if inspect.isawaitable(result):
            self.spawn(_awaited(result))

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("parlour: background work failed", exc_info=task.exception())

    def _schedule(self, cid: str, timer: Timer) -> None:
        delay = max(0.0, timer.due - self.rt.clock())
        loop = asyncio.get_running_loop()
        key = (cid, timer.id)
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self.timers.pop(key, None)
            now = self.rt.clock()
            self.spawn(self.rt.apply(cid, lambda c: kernel.fire_timer(c, timer.id, now)))

        self.timers[key] = loop.call_later(delay, fire)

    def _subscribe(self, cid: str, sub: Subscription) -> None:
        if self.rt.bus is None:
            log.warning("parlour: subscribe(%r) with no bus configured; ignored", sub.pattern)
            return
        key = (cid, sub.iid, sub.pattern)
        old = self.subscriptions.pop(key, None)
        if old is not None:
            old.cancel()
        # Subscribe now, not when the task first runs: an event published right after the
        # handler that subscribed returns must not be missed.
        subscription = self.rt.bus.subscribe(sub.pattern)
        task = asyncio.ensure_future(self._listen(cid, sub, subscription))
        task.add_done_callback(lambda _: subscription.close())  # even if never started
        self.subscriptions[key] = task

    async def _listen(self, cid: str, sub: Subscription, subscription: BusSubscription) -> None:
        try:
            async for event in subscription:
                now = self.rt.clock()
                await self.rt.apply(
                    cid, lambda c, e=event, t=now: kernel.deliver(c, sub.iid, sub.method, e, now=t)
                )
        finally:
            subscription.close()

    async def _run_io(self, cid: str, iid: str, method: str, fn: Callable[[], Any]) -> None:
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn()  # async work runs on the loop, not on a thread
            else:
                result = await asyncio.to_thread(fn)
        except Exception as exc:
            error, now = exc, self.rt.clock()
            await self.rt.apply(cid, lambda c: kernel.fail(c, iid, method, error, now=now))
            return
        now = self.rt.clock()
        await self.rt.apply(cid, lambda c: kernel.deliver(c, iid, method, result, now=now))

    async def close(self) -> None:
        """Cancel every timer, subscription and background task, and wait for them to end."""
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        tasks = [*self.subscriptions.values(), *self.tasks]
        self.subscriptions.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def _awaited(awaitable: Awaitable[object]) -> None:
    await awaitable
