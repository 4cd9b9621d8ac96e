"""InProcessBus: fan-out, order, history since a cursor, and slow consumers.

No test sleeps and hopes: publishing in-process never suspends, so after `publish`
returns every matching queue already holds the event; waits are bounded with
`asyncio.wait_for`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from parlour.bus import Event, EventBus, InProcessBus, Subscription, open_bus

WAIT = 2.0  # seconds; upper bound for anything that should be immediate


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    clock = itertools.count(1_000)
    async with InProcessBus(history_size=100, clock=lambda: float(next(clock))) as bus:
        yield bus


async def next_event(sub: Subscription) -> Event:
    return await asyncio.wait_for(anext(sub), WAIT)


def test_satisfies_the_protocol() -> None:
    bus: EventBus = InProcessBus()  # checked by pyright in CI; here: it constructs
    assert bus.subscriber_count == 0


async def test_publish_returns_the_event_with_id_time_and_source(bus: InProcessBus) -> None:
    first = await bus.publish("agent.started", {"name": "a"}, source="worker-1")
    second = await bus.publish("agent.done")
    assert first == Event(
        id=1, topic="agent.started", time=1000.0, source="worker-1", payload={"name": "a"}
    )
    assert second == Event(id=2, topic="agent.done", time=1001.0)
    assert bus.last_id == 2


async def test_ids_increase_without_gaps_in_publish_order(bus: InProcessBus) -> None:
    events = [await bus.publish(f"t.{i % 3}", i) for i in range(50)]
    assert [e.id for e in events] == list(range(1, 51))


async def test_fan_out_by_pattern(bus: InProcessBus) -> None:
    star = bus.subscribe("agent.*")
    tail = bus.subscribe("agent.>")
    exact = bus.subscribe("agent.a")
    every = bus.subscribe(">")
    other = bus.subscribe("service.>")
    for topic in ["agent.a", "agent.a.tool", "agent.b", "service.db"]:
        await bus.publish(topic)

    def topics(sub: Subscription) -> list[str]:
        return [e.topic for e in sub.drain()]

    assert topics(star) == ["agent.a", "agent.b"]
    assert topics(tail) == ["agent.a", "agent.a.tool", "agent.b"]
    assert topics(exact) == ["agent.a"]
    assert topics(every) == ["agent.a", "agent.a.tool", "agent.b", "service.db"]
    assert topics(other) == ["service.db"]


async def test_same_pattern_subscribers_each_get_every_event(bus: InProcessBus) -> None:
    subs = [bus.subscribe("x.*") for _ in range(5)]
    published = [await bus.publish("x.y", i) for i in range(10)]
    for sub in subs:
        assert sub.drain() == published


async def test_events_arrive_in_order_through_async_iteration(bus: InProcessBus) -> None:
    sub = bus.subscribe(">")
    published = [await bus.publish("t", i) for i in range(200)]
    received = [await next_event(sub) for _ in range(200)]
    assert received == published


async def test_subscription_sees_only_events_after_subscribe(bus: InProcessBus) -> None:
    await bus.publish("t", "before")
    sub = bus.subscribe("t")
    after = await bus.publish("t", "after")
    assert sub.drain() == [after]


async def test_published_event_is_detached_from_the_publishers_objects(
    bus: InProcessBus,
) -> None:
    sub = bus.subscribe("t")
    payload = {"items": [1]}
    returned = await bus.publish("t", payload)
    payload["items"].append(2)  # the publisher keeps using its dict...
    assert returned.payload == {"items": [1]}  # ...which the event no longer shares
    assert sub.drain()[0].payload == {"items": [1]}
    assert (await bus.history())[0].payload == {"items": [1]}


async def test_payload_is_normalised_like_json(bus: InProcessBus) -> None:
    event = await bus.publish("t", {"pair": (1, 2), 3: "three"})
    assert event.payload == {"pair": [1, 2], "3": "three"}


async def test_non_json_payload_raises_and_publishes_nothing(bus: InProcessBus) -> None:
    sub = bus.subscribe(">")
    with pytest.raises(TypeError, match="not JSON data"):
        await bus.publish("t", object())
    assert sub.pending == 0
    assert bus.last_id == 0
    assert await bus.history() == []


@pytest.mark.parametrize("topic", ["", "a..b", "a.*", "a.>", "a b"])
async def test_invalid_topic_raises(bus: InProcessBus, topic: str) -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        await bus.publish(topic)
    assert bus.last_id == 0


@pytest.mark.parametrize("pattern", ["", "a..b", ">.a", "a*"])
def test_invalid_pattern_raises_and_registers_nothing(pattern: str) -> None:
    bus = InProcessBus()
    with pytest.raises(ValueError, match="invalid pattern"):
        bus.subscribe(pattern)
    assert bus.subscriber_count == 0


@pytest.mark.parametrize("maxsize", [0, -1])
def test_unbounded_queue_is_refused(maxsize: int) -> None:
    bus = InProcessBus()
    with pytest.raises(ValueError, match="maxsize must be at least 1"):
        bus.subscribe(">", maxsize=maxsize)
    assert bus.subscriber_count == 0


# -- history -------------------------------------------------------------------------


async def test_history_since_cursor_in_order(bus: InProcessBus) -> None:
    events = [await bus.publish(f"agent.{i % 2}", i) for i in range(10)]
    assert await bus.history() == events
    assert await bus.history(after=4) == events[4:]
    assert await bus.history(after=10) == []
    assert await bus.history(after=99) == []


async def test_history_filters_by_pattern_and_limits(bus: InProcessBus) -> None:
    events = [await bus.publish(topic) for topic in ["a.x", "b.x", "a.y", "a.y.z", "a.x"]]
    assert await bus.history(pattern="a.*") == [events[0], events[2], events[4]]
    assert await bus.history(pattern="a.>", limit=2) == [events[0], events[2]]
    assert await bus.history(pattern="a.>", after=events[2].id) == [events[3], events[4]]
    assert await bus.history(limit=0) == []


async def test_history_pages_with_the_last_id_as_cursor(bus: InProcessBus) -> None:
    events = [await bus.publish("t", i) for i in range(25)]
    pages: list[list[Event]] = []
    cursor = 0
    for _ in range(10):  # bounded: 25 events in pages of 10 need 3 pages + 1 empty
        page = await bus.history(after=cursor, limit=10)
        if not page:
            break
        pages.append(page)
        cursor = page[-1].id
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [e for p in pages for e in p] == events


async def test_history_is_bounded_and_keeps_the_newest() -> None:
    bus = InProcessBus(history_size=5)
    events = [await bus.publish("t", i) for i in range(12)]
    assert await bus.history() == events[-5:]
    assert await bus.history(after=3) == events[-5:]  # cursor older than what is kept
    assert await bus.history(after=9) == events[-3:]
    assert bus.history_size == 5


async def test_history_size_zero_keeps_nothing_but_still_delivers() -> None:
    bus = InProcessBus(history_size=0)
    sub = bus.subscribe("t")
    event = await bus.publish("t")
    assert await bus.history() == []
    assert sub.drain() == [event]


async def test_default_history_size() -> None:
    assert InProcessBus().history_size == 10_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": -1}, "expected an event id >= 0"),
        ({"limit": -1}, "expected a count >= 0"),
        ({"pattern": "a..b"}, "invalid pattern"),
    ],
)
async def test_history_rejects_bad_arguments(
    bus: InProcessBus, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await bus.history(**kwargs)  # type: ignore[arg-type]


def test_negative_history_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 0"):
        InProcessBus(history_size=-1)


async def test_first_id_continues_the_ids_after_a_restart() -> None:
    bus = InProcessBus(history_size=5, first_id=41)
    assert bus.last_id == 40
    sub = bus.subscribe(">")
    events = [await bus.publish("t", i) for i in range(7)]
    assert [e.id for e in events] == list(range(41, 48))
    assert sub.drain() == events
    assert await bus.history() == events[-5:]
    assert await bus.history(after=44) == events[-3:]
    assert await bus.history(after=40, limit=2) == events[2:4]  # older than kept: from oldest


@pytest.mark.parametrize("first_id", [0, -3, 1.5, True, "7"])
def test_first_id_must_be_a_whole_number_from_1(first_id: object) -> None:
    with pytest.raises(ValueError, match=r"expected a whole number >= 1") as info:
        InProcessBus(first_id=first_id)  # type: ignore[arg-type]
    assert f"first_id={first_id!r}" in str(info.value)
    assert "last stored id + 1" in str(info.value)


async def test_subscribe_then_history_gives_no_gap_and_no_duplicate(bus: InProcessBus) -> None:
    before = [await bus.publish("t", i) for i in range(3)]
    sub = bus.subscribe("t")
    during = await bus.publish("t", "during")  # lands in both history and the queue
    past = await bus.history(pattern="t")
    last = past[-1].id
    live = [e for e in sub.drain() if e.id > last]
    after = await bus.publish("t", "after")
    live += [e for e in sub.drain() if e.id > last]
    assert past + live == [*before, during, after]


# -- slow consumers ------------------------------------------------------------------


async def test_publish_never_suspends() -> None:
    bus = InProcessBus()
    stalled = bus.subscribe(">", maxsize=1)  # full after one event, never read
    await bus.publish("t", 0)
    coroutine = bus.publish("t", 1)
    # Driving the coroutine by hand: it must finish on its first step, without ever
    # yielding to the event loop (which is what waiting for a consumer would need).
    with pytest.raises(StopIteration) as finished:
        coroutine.send(None)
    assert finished.value.value.id == 2
    assert stalled.pending == 1


async def test_full_queue_drops_the_oldest_and_counts(bus: InProcessBus) -> None:
    sub = bus.subscribe("t", maxsize=3)
    events = [await bus.publish("t", i) for i in range(10)]
    assert sub.pending == 3
    assert sub.dropped == 7
    assert sub.drain() == events[-3:]
    assert sub.pending == 0
    more = await bus.publish("t", "more")
    assert await next_event(sub) == more
    assert sub.dropped == 7


async def test_slow_consumer_blocks_neither_publisher_nor_fast_subscriber(
    bus: InProcessBus,
) -> None:
    total = 1_000
    slow = bus.subscribe(">", maxsize=8)  # never read while publishing
    fast = bus.subscribe(">", maxsize=16)
    received: list[Event] = []
    fast_done = asyncio.Event()

    async def fast_consumer() -> None:
        async for event in fast:
            received.append(event)
            if len(received) == total:
                fast_done.set()
                return

    consumer = asyncio.create_task(fast_consumer())
    published: list[Event] = []
    for i in range(total):
        published.append(await bus.publish("load", i))
        if fast.pending == fast.maxsize:
            # Let the fast consumer run whenever its queue is full, so it loses nothing;
            # the slow one gets no such courtesy and must not hold anybody up.
            await asyncio.sleep(0)
    await asyncio.wait_for(fast_done.wait(), WAIT)
    await consumer

    assert received == published
    assert fast.dropped == 0
    assert slow.pending == 8
    assert slow.dropped == total - 8
    assert slow.drain() == published[-8:]  # the newest survive


async def test_a_consumer_waiting_on_a_closed_subscription_stops(bus: InProcessBus) -> None:
    sub = bus.subscribe(">")
    started = asyncio.Event()

    async def consume() -> list[Event]:
        started.set()
        return [event async for event in sub]

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), WAIT)
    await asyncio.sleep(0)  # let it block in anext()
    event = await bus.publish("t")
    await asyncio.sleep(0)
    sub.close()
    assert await asyncio.wait_for(task, WAIT) == [event]


async def test_close_discards_queued_events_and_ends_iteration(bus: InProcessBus) -> None:
    sub = bus.subscribe(">")
    await bus.publish("t")
    sub.close()
    assert sub.closed
    assert sub.pending == 0
    assert sub.drain() == []
    assert [e async for e in sub] == []
    await bus.publish("t")  # offers to a closed subscription are ignored
    assert sub.pending == 0


# -- release and shutdown ------------------------------------------------------------


async def test_subscriptions_are_released(bus: InProcessBus) -> None:
    assert bus.subscriber_count == 0
    async with bus.subscribe("a.*") as first:
        second = bus.subscribe("a.*")
        third = bus.subscribe("b")
        assert bus.subscriber_count == 3
        second.close()
        second.close()  # idempotent
        assert bus.subscriber_count == 2
    assert first.closed
    assert bus.subscriber_count == 1
    third.close()
    assert bus.subscriber_count == 0
    await bus.publish("a.x")  # no subscribers: fine


async def test_close_closes_subscriptions_and_refuses_further_use() -> None:
    bus = InProcessBus()
    sub = bus.subscribe(">")
    waiting = asyncio.create_task(anext(sub, None))
    await asyncio.sleep(0)
    await bus.close()
    assert await asyncio.wait_for(waiting, WAIT) is None
    assert sub.closed
    assert bus.subscriber_count == 0
    assert bus.closed
    await bus.close()  # idempotent
    with pytest.raises(RuntimeError, match=r"publish\(\) after close"):
        await bus.publish("t")
    with pytest.raises(RuntimeError, match=r"subscribe\(\) after close"):
        bus.subscribe("t")
    with pytest.raises(RuntimeError, match=r"history\(\) after close"):
        await bus.history()


def test_reprs_say_what_matters() -> None:
    bus = InProcessBus(history_size=3)
    sub = bus.subscribe("a.*", maxsize=4)
    assert repr(sub) == "<Subscription 'a.*' pending=0/4 dropped=0>"
    assert repr(bus) == "<InProcessBus last_id=0 history=0/3 subscribers=1>"
    sub.close()
    assert repr(sub) == "<Subscription 'a.*' closed dropped=0>"


# -- open_bus ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, "memory"])
async def test_open_bus_memory(url: str | None) -> None:
    bus = await open_bus(url, history_size=7)
    assert isinstance(bus, InProcessBus)
    assert bus.history_size == 7
    await bus.close()


@pytest.mark.parametrize("url", ["redis://localhost", "", "nats:/oops"])
async def test_open_bus_unknown_url(url: str) -> None:
    with pytest.raises(ValueError, match="unknown bus URL"):
        await open_bus(url)
