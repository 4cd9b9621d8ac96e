"""Subscriptions: one bounded queue per subscriber, so nobody waits for anybody.

`Subscription` is what `EventBus.subscribe(pattern)` returns. It owns an
`asyncio.Queue(maxsize)`; the bus *offers* each matching event with `put_nowait`, and
the subscriber reads at its own pace:

    async with bus.subscribe("agent.*", maxsize=256) as sub:
        async for event in sub:          # ends when the sub or the bus is closed
            ...

**Overflow drops the oldest event.** When a subscriber falls `maxsize` events behind,
the oldest queued event is discarded, the new one is queued and `sub.dropped` goes up by
one. A publisher therefore never awaits a consumer, and one stalled consumer never delays
the publisher or any other subscriber. Dropping the oldest (rather than the newest) is
the right default for live views: what a slow dashboard most needs is the recent state.
A consumer that must not miss anything watches `dropped` (or the gap in `Event.id`) and
catches up from `EventBus.history(after=last_id)`.

This is the lesson of Remora's bus, whose consumers shared one queue (each event went to
one of them), whose full queue silently dropped events for *every* subscriber, and whose
successor used unbounded queues (a stalled client grew memory without limit).

`Fanout` is the registry a backend keeps: subscriptions grouped by pattern text, so a
publish costs one match per distinct pattern plus one `put_nowait` per matching
subscriber, and never awaits. Both shipped backends use it; a third-party backend
should too.

What this module does not do: talk to any transport, assign ids, or keep history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self, final

from parlour.bus.event import Event
from parlour.bus.patterns import TopicPattern, split_topic

__all__ = ["DEFAULT_MAXSIZE", "Fanout", "Subscription"]

DEFAULT_MAXSIZE = 1024


@final
class Subscription:
    """A live feed of the events matching one pattern; async-iterable, closeable.

    Made by `EventBus.subscribe`, never directly. Iteration yields events in bus order
    and stops once the subscription (or its bus) is closed; events still queued at that
    moment are discarded. A subscription is meant for one consumer task.
    """

    __slots__ = ("_closed", "_dropped", "_on_close", "_pattern", "_queue")

    def __init__(
        self,
        pattern: TopicPattern,
        *,
        maxsize: int,
        on_close: Callable[[Subscription], None],
    ) -> None:
        self._pattern = pattern
        # `None` is the end-of-feed marker put by `close`, so waiting readers wake up.
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._dropped = 0
        self._closed = False
        self._on_close = on_close

    @property
    def pattern(self) -> str:
        return self._pattern.text

    @property
    def maxsize(self) -> int:
        return self._queue.maxsize

    @property
    def dropped(self) -> int:
        """How many events were discarded because this subscriber was `maxsize` behind."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Events queued and not yet read."""
        return 0 if self._closed else self._queue.qsize()

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> None:
        """Queue `event` without ever waiting (the bus side of the subscription).

        When the queue is full the oldest queued event is dropped to make room and
        `dropped` is incremented. After `close` this does nothing.
        """
        if self._closed:
            return
        queue = self._queue
        if queue.full():
            queue.get_nowait()
            self._dropped += 1
        queue.put_nowait(event)

    def drain(self) -> list[Event]:
        """Take every queued event at once, without waiting (possibly none).

        Handy for a consumer that folds a burst into one update: wake on the first event,
        then `drain()` the rest and render once.
        """
        if self._closed:
            return []
        events: list[Event] = []
        queue = self._queue
        while not queue.empty():
            item = queue.get_nowait()
            if item is not None:
                events.append(item)
        return events

    def close(self) -> None:
        """Stop the feed and release it from the bus. Idempotent; never blocks."""
        if self._closed:
            return
        self._closed = True
        queue = self._queue
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
        self._on_close(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            # Leave the marker for any other reader, then stop.
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pending={self.pending}/{self.maxsize}"
        return f"<Subscription {self.pattern!r} {state} dropped={self._dropped}>"


@final
class Fanout:
    """The subscriptions of one bus, grouped by pattern; delivers without awaiting."""

    __slots__ = ("_count", "_groups")

    def __init__(self) -> None:
        # pattern text -> (parsed pattern, subscriptions in subscribe order)
        self._groups: dict[str, tuple[TopicPattern, dict[Subscription, None]]] = {}
        self._count = 0

    def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_MAXSIZE) -> Subscription:
        """A new subscription; raises `ValueError` for a bad pattern or `maxsize`."""
        parsed = TopicPattern.parse(pattern)
        if maxsize < 1:
            raise ValueError(
                f"subscribe({pattern!r}, maxsize={maxsize!r}): maxsize must be at least 1 "
                f"so the queue is bounded. Pass the number of events this subscriber may "
                f"fall behind before the oldest are dropped (default {DEFAULT_MAXSIZE})."
            )
        sub = Subscription(parsed, maxsize=maxsize, on_close=self._release)
        group = self._groups.get(parsed.text)
        if group is None:
            group = self._groups[parsed.text] = (parsed, {})
        group[1][sub] = None
        self._count += 1
        return sub

    def deliver(self, event: Event) -> int:
        """Offer `event` to every matching subscription; returns how many matched."""
        tokens = split_topic(event.topic)
        delivered = 0
        # No snapshots needed: `offer` never closes or adds a subscription.
        for parsed, subs in self._groups.values():
            if parsed.match(tokens):
                for sub in subs:
                    sub.offer(event)
                    delivered += 1
        return delivered

    @property
    def count(self) -> int:
        """Open subscriptions."""
        return self._count

    def close(self) -> None:
        """Close every subscription (their iterators end)."""
        for _, subs in tuple(self._groups.values()):
            for sub in tuple(subs):
                sub.close()
        self._groups.clear()
        self._count = 0

    def _release(self, sub: Subscription) -> None:
        group = self._groups.get(sub.pattern)
        if group is None or sub not in group[1]:
            return
        del group[1][sub]
        self._count -= 1
        if not group[1]:
            del self._groups[sub.pattern]
