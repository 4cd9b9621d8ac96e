"""`EventBus`: the contract every bus backend keeps.

    publish(topic, payload, source=)   -> Event   the stored event, with its id
    subscribe(pattern, maxsize=)       -> Subscription (bounded, drops oldest)
    history(after=, pattern=, limit=)  -> list[Event], oldest first
    subscriber_count                   open subscriptions (tests check release)
    close()

Guarantees a caller may rely on, whichever backend:

* Event ids strictly increase in publish order, per bus (on NATS: per stream, across
  every process sharing it). A subscriber sees its events in id order.
* `publish` never waits for a subscriber. It returns once the event is stored (memory:
  at once; NATS: when JetStream acknowledged it), before any subscriber has read it.
* A subscription receives every matching event published after `subscribe` returned
  (on NATS it may also receive a few published just before, still in flight). To show
  "what happened before" without a gap or a duplicate: subscribe first, then read
  `history`, then skip live events whose id is not above the last history id.
* `history` is bounded (the backend keeps the newest N events; older ones are gone) and
  returns events with `id > after`, oldest first, at most `limit`. To page, pass the
  last id you got as the next `after`.
* Topics and patterns follow `parlour.bus.patterns`; bad ones raise `ValueError` at the
  call. Payloads must be JSON data; anything else raises `TypeError` at `publish`.

What this module does not do: implement a bus. Beyond the protocol it holds only
`check_history_args`, so every backend rejects bad `history` arguments alike.
`InProcessBus` (memory) and `NatsBus` (nats) are the implementations;
`parlour.bus.open_bus(url)` picks one.
"""

from __future__ import annotations

from typing import Any, Protocol

from parlour.bus.event import Event
from parlour.bus.patterns import TopicPattern
from parlour.bus.subscription import Subscription

__all__ = ["EventBus", "check_history_args"]


class EventBus(Protocol):
    """Topic publish/subscribe with a typed `Event` envelope and bounded history."""

    async def publish(self, topic: str, payload: Any = None, *, source: str = "") -> Event:
        """Publish one event on `topic` and return it with its `id` and `time`."""
        ...

    def subscribe(self, pattern: str, *, maxsize: int = 1024) -> Subscription:
        """A bounded live feed of events matching `pattern`, starting now."""
        ...

    async def history(
        self, *, after: int = 0, pattern: str = ">", limit: int = 1000
    ) -> list[Event]:
        """Kept events with `id > after` matching `pattern`, oldest first, at most `limit`."""
        ...

    @property
    def subscriber_count(self) -> int:
        """Open subscriptions on this bus (in this process)."""
        ...

    async def close(self) -> None:
        """Close every subscription and release the backend; idempotent."""
        ...


def check_history_args(*, after: int, pattern: str, limit: int) -> TopicPattern:
    """Validate `history` arguments the same way for every backend; returns the pattern."""
    if after < 0:
        raise ValueError(
            f"history(after={after!r}): expected an event id >= 0; 0 means from the "
            "oldest kept event, and the id of the last event you saw means 'what is new'."
        )
    if limit < 0:
        raise ValueError(f"history(limit={limit!r}): expected a count >= 0 of events to return.")
    return TopicPattern.parse(pattern)
