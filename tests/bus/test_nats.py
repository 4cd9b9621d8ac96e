"""NatsBus against a real nats-server with JetStream (started per test, see conftest).

Two `NatsBus` instances on one server stand for two processes. NATS delivery is
asynchronous even to the publishing process, so tests wait for an *expected* event with
a bounded `asyncio.wait_for`, never for a guessed amount of time.
"""

from __future__ import annotations

import asyncio
import re
import time

import msgspec
import pytest
from nats.aio.client import DEFAULT_MAX_RECONNECT_ATTEMPTS, Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from parlour.bus import Event, EventBus, Subscription, open_bus
from parlour.bus.nats import NatsBus
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.subprocess

WAIT = 5.0


async def collect(sub: Subscription, count: int) -> list[Event]:
    """The next `count` events of `sub`, failing after WAIT seconds."""

    async def take() -> list[Event]:
        return [await anext(sub) for _ in range(count)]

    return await asyncio.wait_for(take(), WAIT)


async def raw_client(server: NatsServer) -> Client:
    client = Client()
    await client.connect(server.url)
    return client


async def test_publish_ids_are_stream_sequences(nats_bus: NatsBus) -> None:
    accepts_protocol: EventBus = nats_bus
    first = await accepts_protocol.publish("agent.started", {"name": "a"}, source="w1")
    second = await nats_bus.publish("agent.done")
    assert (first.id, second.id) == (1, 2)
    assert first.topic == "agent.started"
    assert first.source == "w1"
    assert first.payload == {"name": "a"}
    assert second.payload is None
    assert first.time <= second.time


async def test_subscriber_in_the_same_process_receives(nats_bus: NatsBus) -> None:
    sub = nats_bus.subscribe("agent.*")
    published = [await nats_bus.publish("agent.a", i) for i in range(5)]
    assert await collect(sub, 5) == published
    sub.close()


async def test_cross_instance_delivery_both_ways(nats_bus: NatsBus, nats_bus_b: NatsBus) -> None:
    on_a = nats_bus.subscribe(">")
    on_b = nats_bus_b.subscribe(">")
    from_a = await nats_bus.publish("svc.a", {"from": "a"}, source="proc-a")
    from_b = await nats_bus_b.publish("svc.b", [1, 2], source="proc-b")
    assert from_b.id == from_a.id + 1  # one sequence shared by both processes
    assert await collect(on_a, 2) == [from_a, from_b]
    assert await collect(on_b, 2) == [from_a, from_b]


async def test_interleaved_publishers_are_seen_in_id_order(
    nats_bus: NatsBus, nats_bus_b: NatsBus
) -> None:
    sub = nats_bus_b.subscribe("load.>")

    async def publish_many(bus: NatsBus, name: str) -> list[Event]:
        return [await bus.publish(f"load.{name}", i) for i in range(50)]

    from_a, from_b = await asyncio.gather(
        publish_many(nats_bus, "a"), publish_many(nats_bus_b, "b")
    )
    received = await collect(sub, 100)
    assert [e.id for e in received] == sorted(e.id for e in from_a + from_b)
    assert sorted(received, key=lambda e: e.id) == sorted(from_a + from_b, key=lambda e: e.id)


async def test_wildcard_subscriptions(nats_bus: NatsBus, nats_bus_b: NatsBus) -> None:
    star = nats_bus_b.subscribe("agent.*")
    tail = nats_bus_b.subscribe("agent.>")
    mid = nats_bus_b.subscribe("*.x.done")
    every = nats_bus_b.subscribe(">")
    topics = ["agent.a", "agent.a.tool", "svc.x.done", "agent.b", "agent.x.done"]
    for topic in topics:
        await nats_bus.publish(topic)
    # `every` sees all five; when its fifth arrives, the others have had theirs offered.
    await collect(every, 5)
    assert [e.topic for e in star.drain()] == ["agent.a", "agent.b"]
    assert [e.topic for e in tail.drain()] == ["agent.a", "agent.a.tool", "agent.b", "agent.x.done"]
    assert [e.topic for e in mid.drain()] == ["svc.x.done", "agent.x.done"]


async def test_history_across_instances(nats_bus: NatsBus, nats_bus_b: NatsBus) -> None:
    published: list[Event] = []
    for i in range(6):
        bus = nats_bus if i % 2 == 0 else nats_bus_b
        published.append(await bus.publish(f"agent.{'ab'[i % 2]}", i, source=f"p{i % 2}"))
    assert await nats_bus.history() == published
    assert await nats_bus_b.history() == published
    assert await nats_bus_b.history(after=published[2].id) == published[3:]
    assert await nats_bus.history(pattern="agent.b") == published[1::2]
    assert await nats_bus.history(pattern="agent.*", limit=2) == published[:2]
    assert await nats_bus.history(after=published[-1].id) == []
    assert await nats_bus.history(pattern="nothing.here") == []
    assert await nats_bus.history(limit=0) == []


async def test_history_pages_with_the_last_id_as_cursor(nats_bus: NatsBus) -> None:
    published = [await nats_bus.publish("t", i) for i in range(25)]
    cursor, pages = 0, list[list[Event]]()
    for _ in range(10):  # bounded: 3 pages then an empty one
        page = await nats_bus.history(after=cursor, limit=10)
        if not page:
            break
        pages.append(page)
        cursor = page[-1].id
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [e for p in pages for e in p] == published


async def test_history_is_bounded_by_history_size(nats_server: NatsServer) -> None:
    async with await NatsBus.connect(nats_server.url, stream="SMALL", history_size=5) as bus:
        published = [await bus.publish("t", i) for i in range(12)]
        assert await bus.history() == published[-5:]
        assert await bus.history(after=2) == published[-5:]
        assert await bus.history(after=10) == published[-2:]


async def test_history_of_a_large_backlog(nats_server: NatsServer, nats_bus: NatsBus) -> None:
    client = await raw_client(nats_server)
    js = JetStreamContext(client)
    body = msgspec.json.encode({"time": 1.0, "payload": "x" * 100})
    for start in range(0, 3_000, 250):  # 250 publishes in flight at a time
        await asyncio.gather(
            *(js.publish(f"parlour.bulk.{i % 2}", body) for i in range(start, start + 250))
        )
    await client.close()
    everything = await nats_bus.history(limit=5_000)
    assert [e.id for e in everything] == list(range(1, 3_001))
    odd = await nats_bus.history(pattern="bulk.1", limit=2_000)
    assert len(odd) == 1_500
    assert all(e.topic == "bulk.1" for e in odd)


async def test_slow_consumer_blocks_neither_publisher_nor_fast_subscriber(
    nats_bus: NatsBus, nats_bus_b: NatsBus
) -> None:
    total = 300
    # In the other process: a stalled subscriber next to a fast one.
    slow = nats_bus_b.subscribe(">", maxsize=4)
    fast = nats_bus_b.subscribe(">", maxsize=total)
    # In the publishing process too: its own stalled subscriber must not slow it down.
    slow_here = nats_bus.subscribe(">", maxsize=1)
    fast_here = nats_bus.subscribe(">", maxsize=total)
    published = [await nats_bus.publish("load", i) for i in range(total)]
    assert await collect(fast, total) == published
    assert await collect(fast_here, total) == published
    assert fast.dropped == fast_here.dropped == 0
    # Each process offers an event to all its subscribers in one go, so once the fast
    # one has the last event, the stalled one has been offered everything.
    assert (slow.pending, slow.dropped) == (4, total - 4)
    assert slow.drain() == published[-4:]
    assert (slow_here.pending, slow_here.dropped) == (1, total - 1)
    assert slow_here.drain() == published[-1:]


async def test_subscribe_then_history_gives_no_gap_and_no_duplicate(
    nats_bus: NatsBus, nats_bus_b: NatsBus
) -> None:
    before = [await nats_bus.publish("t", i) for i in range(3)]
    sub = nats_bus_b.subscribe("t")
    during = await nats_bus.publish("t", "during")
    past = await nats_bus_b.history(pattern="t")
    last = past[-1].id
    after = await nats_bus.publish("t", "after")
    # The live feed may also hold events from `before` that were still in flight when
    # `subscribe` returned: that is what the id filter is for.
    received = await asyncio.wait_for(_until(sub, after.id), WAIT)
    live = [e for e in received if e.id > last]
    assert past + live == [*before, during, after]


async def _until(sub: Subscription, last_id: int) -> list[Event]:
    received: list[Event] = []
    for _ in range(1_000):
        received.append(await anext(sub))
        if received[-1].id >= last_id:
            break
    return received


async def test_subscriptions_are_released(nats_bus: NatsBus) -> None:
    async with nats_bus.subscribe("a.*") as first:
        second = nats_bus.subscribe("b")
        assert nats_bus.subscriber_count == 2
        second.close()
        assert nats_bus.subscriber_count == 1
    assert first.closed
    assert nats_bus.subscriber_count == 0


async def test_close_ends_subscriptions_and_refuses_further_use(nats_server: NatsServer) -> None:
    bus = await NatsBus.connect(nats_server.url, stream="CLOSE")
    sub = bus.subscribe(">")
    waiting = asyncio.create_task(anext(sub, None))
    await asyncio.sleep(0)
    await bus.close()
    assert await asyncio.wait_for(waiting, WAIT) is None
    assert bus.subscriber_count == 0
    await bus.close()  # idempotent
    with pytest.raises(RuntimeError, match=r"publish\(\) after close"):
        await bus.publish("t")
    with pytest.raises(RuntimeError, match=r"history\(\) after close"):
        await bus.history()


async def test_from_client_leaves_the_connection_open(nats_server: NatsServer) -> None:
    client = await raw_client(nats_server)
    bus = await NatsBus.from_client(client, stream="SHARED")
    event = await bus.publish("t", 1)
    assert await bus.history() == [event]
    await bus.close()
    assert not client.is_closed
    await client.close()


async def test_validation_errors_match_the_in_process_bus(nats_bus: NatsBus) -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        await nats_bus.publish("a.*")
    with pytest.raises(ValueError, match="invalid pattern"):
        nats_bus.subscribe("a.>.b")
    with pytest.raises(ValueError, match="invalid pattern"):
        await nats_bus.history(pattern="a..b")
    with pytest.raises(TypeError, match="not JSON data"):
        await nats_bus.publish("t", object())
    assert await nats_bus.history() == []


async def test_foreign_messages_are_skipped_and_counted(nats_server: NatsServer) -> None:
    async with await NatsBus.connect(nats_server.url, stream="MIXED") as bus:
        sub = bus.subscribe(">")
        client = await raw_client(nats_server)
        js = JetStreamContext(client)
        await js.publish("parlour.junk", b"not json")
        await js.publish("parlour.other", b'{"payload": {"from": "elsewhere"}}')
        await client.close()
        mine = await bus.publish("mine", 1)
        received = await collect(sub, 2)
        assert [e.topic for e in received] == ["other", "mine"]
        assert received[0].payload == {"from": "elsewhere"}
        assert received[0].time > 0  # taken from the stream's timestamp
        assert received[1] == mine
        assert bus.rejected == 1
        assert [e.topic for e in await bus.history()] == ["other", "mine"]


async def test_existing_incompatible_stream_is_reported(nats_server: NatsServer) -> None:
    client = await raw_client(nats_server)
    js = JetStreamContext(client)
    await js.add_stream(StreamConfig(name="FOREIGN", subjects=["parlour.>"]))  # pyright: ignore[reportUnknownMemberType]
    with pytest.raises(ValueError, match="exists but was not made by parlour") as caught:
        await NatsBus.connect(nats_server.url, stream="FOREIGN")
    assert "allow_direct is off" in str(caught.value)
    assert "republish is None" in str(caught.value)
    with pytest.raises(ValueError, match="another stream already captures them"):
        await NatsBus.connect(nats_server.url, stream="PARLOUR")
    await client.close()


async def test_two_processes_may_ask_for_different_history_sizes(
    nats_server: NatsServer,
) -> None:
    async with (
        await NatsBus.connect(nats_server.url, history_size=10) as first,
        await NatsBus.connect(nats_server.url, history_size=99) as second,
    ):
        published = [await second.publish("t", i) for i in range(12)]
        assert await first.history() == published[-10:]  # the existing bound wins


async def test_separate_prefixes_do_not_see_each_other(nats_server: NatsServer) -> None:
    async with (
        await NatsBus.connect(nats_server.url, stream="ONE", subjects_prefix="one") as one,
        await NatsBus.connect(nats_server.url, stream="TWO", subjects_prefix="two") as two,
    ):
        sub = two.subscribe(">")
        await one.publish("t", "one")
        mine = await two.publish("t", "two")
        assert await collect(sub, 1) == [mine]
        assert await two.history() == [mine]


async def test_server_without_jetstream_is_explained(
    nats_server_without_jetstream: NatsServer,
) -> None:
    with pytest.raises(RuntimeError, match="Start the server with JetStream enabled"):
        await NatsBus.connect(nats_server_without_jetstream.url, request_timeout=2.0)


async def test_no_server_at_the_url_fails_in_seconds_and_names_it() -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    expected = re.escape(f"no NATS server at {url} accepted a connection")
    with pytest.raises(ConnectionError, match=expected):
        # nats-py alone retries a first connection 60 times, 2 s apart.
        await asyncio.wait_for(NatsBus.connect(url, request_timeout=1.0), 15)
    assert time.monotonic() - started < 15


async def test_a_connected_bus_keeps_reconnecting_patiently(nats_bus: NatsBus) -> None:
    # Only the first connection gives up early; a dropped one retries as nats-py does.
    client = nats_bus._nc  # pyright: ignore[reportPrivateUsage]
    assert client.options["max_reconnect_attempts"] == DEFAULT_MAX_RECONNECT_ATTEMPTS
    assert client.options["allow_reconnect"]


async def test_open_bus_nats_url(nats_server: NatsServer) -> None:
    bus = await open_bus(nats_server.url, stream="OPENED")
    assert isinstance(bus, NatsBus)
    assert bus.stream == "OPENED"
    event = await bus.publish("t")
    assert await bus.history() == [event]
    await bus.close()


def test_natsbus_is_reachable_from_the_package() -> None:
    import parlour.bus

    assert parlour.bus.NatsBus is NatsBus
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = parlour.bus.Nope
