"""What a client leaves behind: nothing once its stream closes, nothing once its conversation ends.

A conversation that subscribes on start (like the ticker) holds a runtime subscription (a
listening task) and a bus subscription (a bounded queue in the bus's fanout); each open
stream holds a `Connection` (its outgoing queue). Closing the stream must release the
connection, queue and all, while the conversation keeps listening (it is durable: the user
may come back). Ending the conversation must release its subscriptions, and nobody else's.

Checked on the runtime directly and through the real ASGI app (the SSE response's cleanup).
Background work is awaited with bounded polls of the runtime's own counters, never a sleep.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from htpy import Element, div, span

from parlour import Component, subscribe
from parlour.bus import Event, InProcessBus
from parlour.runtime import Runtime
from parlour.testing import AsgiClient, Page
from parlour.web.app import App


class Watcher(Component):
    """Counts `ticker.tick` events, subscribing when it starts (as examples/ticker.py does)."""

    seen: int = 0

    def start(self) -> Any:
        return subscribe("ticker.tick", self.ticked)

    def render(self) -> Element:
        return div(self.root)[span(".events")[f"events: {self.seen}"]]

    def ticked(self, event: Event) -> None:
        self.seen += 1


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait, at most `timeout` seconds, for `condition()` to hold (polling the loop)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the state lives in the runtime, not an Event
            await asyncio.sleep(0.001)


def seen(runtime: Runtime, cid: str) -> int:
    conv = runtime.live[cid].conv
    assert conv.top is not None
    watcher = conv.instances[conv.top].component
    assert isinstance(watcher, Watcher)
    return watcher.seen


def counts(runtime: Runtime, bus: InProcessBus) -> tuple[int, int, int]:
    return runtime.connection_count, runtime.subscription_count, bus.subscriber_count


def collected(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    bus = InProcessBus()
    yield bus
    await bus.close()


@pytest.fixture
async def runtime(bus: InProcessBus) -> AsyncIterator[Runtime]:
    runtime = Runtime(bus=bus)
    yield runtime
    await runtime.close()


async def mint(runtime: Runtime) -> str:
    live, _ = await runtime.mint(Watcher(), owner="owner", base="/_parlour")
    return live.conv.id


async def test_disconnect_releases_the_queue_and_end_releases_the_subscriptions(
    runtime: Runtime, bus: InProcessBus
) -> None:
    neighbour = await mint(runtime)  # another user's conversation: must be left alone
    neighbours_stream = await runtime.connect(neighbour)
    assert neighbours_stream is not None
    before = counts(runtime, bus)

    cid = await mint(runtime)
    assert counts(runtime, bus) == (before[0], before[1] + 1, before[2] + 1)
    connection = await runtime.connect(cid)
    assert connection is not None
    assert counts(runtime, bus) == (before[0] + 1, before[1] + 1, before[2] + 1)
    queue = weakref.ref(connection)

    runtime.disconnect(connection)
    assert runtime.connection_count == before[0]
    queued = len(connection)  # the first render, queued before the disconnect
    await bus.publish("ticker.tick")
    await until(lambda: seen(runtime, cid) == 1 and seen(runtime, neighbour) == 1)
    assert len(connection) == queued  # a released queue receives nothing more
    del connection
    assert collected(queue), "the runtime still holds the disconnected stream's queue"

    # Without a stream the conversation still listens: the user may come back to it.
    assert counts(runtime, bus) == (before[0], before[1] + 1, before[2] + 1)

    assert await runtime.end(cid)
    assert cid not in runtime.live
    assert runtime.subscription_count == before[1]
    # The listening task closes its bus subscription as it finishes (a loop turn later).
    await until(lambda: bus.subscriber_count == before[2])
    assert counts(runtime, bus) == before

    await bus.publish("ticker.tick")  # the neighbour still listens, and still streams
    await until(lambda: seen(runtime, neighbour) == 2)
    assert runtime.connection_count == before[0]


async def test_ending_with_a_stream_open_closes_it_and_releases_everything(
    runtime: Runtime, bus: InProcessBus
) -> None:
    before = counts(runtime, bus)
    cid = await mint(runtime)
    connection = await runtime.connect(cid)
    assert connection is not None
    assert await runtime.end(cid)
    assert connection.closed  # the stream's writer sees Close and ends the response
    assert runtime.connection_count == before[0]
    assert runtime.subscription_count == before[1]
    await until(lambda: bus.subscriber_count == before[2])


# -- through the ASGI app ----------------------------------------------------------------------


@pytest.fixture
async def app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    app = App(Watcher, secret="release-test-secret")
    yield app
    await app.runtime.close()
    if app.runtime.bus is not None:
        await app.runtime.bus.close()


async def test_a_closed_sse_response_releases_its_connection(app: App) -> None:
    runtime, bus = app.runtime, app.runtime.bus
    assert isinstance(bus, InProcessBus)
    client = AsgiClient(app)
    shell = await Page(client).open("/", stream=False)  # the stream is this test's own
    cid = shell.cid
    assert cid is not None
    before = counts(runtime, bus)

    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        assert "events: 0" in (await sse.next_event()).elements
        assert runtime.connection_count == before[0] + 1
        [connection] = runtime.live[cid].connections
        queue = weakref.ref(connection)
        del connection
        await bus.publish("ticker.tick")
        assert "events: 1" in (await sse.next_event()).elements
    # Leaving the block disconnects the client; the response's cleanup has run by now.
    assert runtime.connection_count == before[0]
    assert collected(queue), "something still holds the closed stream's queue"
    assert counts(runtime, bus) == before  # the conversation itself still listens

    assert await runtime.end(cid)
    await until(lambda: runtime.subscription_count == before[1] - 1)
    await until(lambda: bus.subscriber_count == before[2] - 1)
