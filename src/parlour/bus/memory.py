"""`InProcessBus`: the default event bus, living inside one Python process.

    bus = InProcessBus(history_size=10_000)
    sub = bus.subscribe("agent.*")
    event = await bus.publish("agent.started", {"name": "a"}, source="worker-1")
    assert event.id == 1 and (await anext(sub)) == event
    await bus.history(after=0, pattern="agent.>", limit=100)   # -> [event]

Data shapes: ids count up from `first_id` (default 1) with no gaps; history is a
`collections.deque` of the newest `history_size` events (older ones fall off);
subscriptions live in a `Fanout`.

Publishing is synchronous work inside an `async def`: validate the topic (cached), round
the payload through JSON (see `normalise_payload`, so code that works here works on
NATS), append to history, and `put_nowait` into each matching subscriber's bounded
queue. It never suspends, so it never waits for a consumer and publishes from one task
are delivered in order; its cost is O(distinct patterns + matching subscribers).
Every subscriber and the history hold the same `Event` object (no per-subscriber copy,
which is what keeps publishing cheap), so consumers treat payloads as read-only.

What this module deliberately does not do: share events with other processes (use
`NatsBus`), persist anything across a restart, or run subscriber callbacks (subscribers
pull from their queues in their own tasks, so a failing consumer cannot hurt the
publisher).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from types import TracebackType
from typing import Any, Self, final

from parlour.bus.event import Event, normalise_payload
from parlour.bus.patterns import split_topic
from parlour.bus.protocol import check_history_args
from parlour.bus.subscription import DEFAULT_MAXSIZE, Fanout, Subscription

__all__ = ["DEFAULT_HISTORY_SIZE", "InProcessBus"]

DEFAULT_HISTORY_SIZE = 10_000


@final
class InProcessBus:
    """An `EventBus` for one process: no I/O, ids from 1, bounded in-memory history.

    `clock` supplies `Event.time` (unix seconds); tests may pass a fake one. `first_id`
    is the id of the first event published (default 1): a process that keeps events
    elsewhere (e.g. a journal) passes its last stored id + 1, so ids stay unique across
    restarts.
    """

    def __init__(
        self,
        *,
        history_size: int = DEFAULT_HISTORY_SIZE,
        clock: Callable[[], float] = time.time,
        first_id: int = 1,
    ) -> None:
        if type(first_id) is not int or first_id < 1:
            raise ValueError(
                f"InProcessBus(first_id={first_id!r}): expected a whole number >= 1, the id "
                "of the first event this bus publishes. To continue after events stored "
                "elsewhere (say a journal), pass the last stored id + 1; else leave the default 1."
            )
        if history_size < 0:
            raise ValueError(
                f"InProcessBus(history_size={history_size!r}): expected 0 (keep no "
                f"history) or more; the default keeps the newest {DEFAULT_HISTORY_SIZE}."
            )
        self._history_size = history_size
        self._history: deque[Event] = deque(maxlen=history_size)
        self._fanout = Fanout()
        self._clock = clock
        self._last_id = first_id - 1
        self._closed = False

    @property
    def history_size(self) -> int:
        return self._history_size

    @property
    def last_id(self) -> int:
        """The id of the newest event published (`first_id - 1` before the first)."""
        return self._last_id

    @property
    def subscriber_count(self) -> int:
        return self._fanout.count

    @property
    def closed(self) -> bool:
        return self._closed

    async def publish(self, topic: str, payload: Any = None, *, source: str = "") -> Event:
        self._check_open("publish")
        split_topic(topic)
        payload = normalise_payload(topic, payload)
        self._last_id += 1
        event = Event(
            id=self._last_id, topic=topic, time=self._clock(), source=source, payload=payload
        )
        self._history.append(event)
        self._fanout.deliver(event)
        return event

    def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_MAXSIZE) -> Subscription:
        self._check_open("subscribe")
        return self._fanout.subscribe(pattern, maxsize=maxsize)

    async def history(
        self, *, after: int = 0, pattern: str = ">", limit: int = 1000
    ) -> list[Event]:
        self._check_open("history")
        parsed = check_history_args(after=after, pattern=pattern, limit=limit)
        kept = self._history
        if not kept or limit == 0:
            return []
        # Ids are contiguous, so the first event with id > after sits at a known offset.
        start = max(0, after - kept[0].id + 1)
        events: list[Event] = []
        for event in islice(kept, start, None):
            if parsed.match(split_topic(event.topic)):
                events.append(event)
                if len(events) == limit:
                    break
        return events

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"<InProcessBus last_id={self._last_id} history={len(self._history)}/"
            f"{self.history_size} subscribers={self.subscriber_count}"
            f"{' closed' if self._closed else ''}>"
        )

    def _check_open(self, operation: str) -> None:
        if self._closed:
            raise RuntimeError(
                f"InProcessBus.{operation}() after close(): this bus is closed. "
                "Create a new bus (or keep this one open for the app's lifetime)."
            )
