"""The ticker example in-process: a burst of 500 bus events leaves as a few coalesced patches.

Driven through the real ASGI app (`examples.ticker.app`) with `parlour.testing.AsgiClient`:
two viewers (two cookies, two conversations) open their streams; one POSTs `burst`. Each
stream must show all 500 events in its last patch, in far fewer than 500 patches: the bus
events are applied one by one, but a stream sends what piled up during its coalescing window
(`App(window=0.05)`) as one patch per element.
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import examples.ticker
import pytest

from parlour.testing import AsgiClient, SseStream
from parlour.web.app import App

BURST = 500
MAX_PATCHES = 50  # per viewer, per burst; measured: a handful (see the printed counts)
EVENT_TIMEOUT = 5.0  # seconds for any one patch to arrive


@pytest.fixture
async def app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    """`examples.ticker.app` itself, closed after the test (AsgiClient runs no lifespan).

    Closing ends its runtime and bus for good, so the module is reloaded afterwards: whoever
    imports it next gets a fresh app.
    """
    monkeypatch.setenv("PARLOUR_SECRET", "ticker-test-secret")  # leave the repo's .parlour/ be
    app = examples.ticker.app
    yield app
    await app.runtime.close()
    if app.runtime.bus is not None:
        await app.runtime.bus.close()
    importlib.reload(examples.ticker)


@dataclass
class Viewer:
    client: AsgiClient
    cid: str
    burst_iid: str

    @classmethod
    async def open(cls, app: App) -> Viewer:
        client = AsgiClient(app)
        shell = await client.get("/")
        assert shell.status == 200, shell.text
        page = html.unescape(shell.text)
        cid = re.search(r"/_parlour/sse/([\w-]+)", page)
        assert cid is not None, page
        iid = re.search(rf"/event/{re.escape(cid.group(1))}/([^/]+)/burst", page)
        assert iid is not None, f"no Burst button on the page:\n{page}"
        return cls(client, cid.group(1), iid.group(1))


def shown(elements: str) -> int | None:
    found = re.search(r"events: (\d+)", elements)
    return int(found.group(1)) if found else None


async def patches_until(stream: SseStream, target: int) -> list[int]:
    """Read patches until one shows `events: target`; the counts the patches showed."""
    counts: list[int] = []
    for _ in range(BURST + 10):  # bounded: never more patches than events (plus the click's)
        event = await stream.next_event(timeout=EVENT_TIMEOUT)
        count = shown(event.elements)
        assert count is not None, f"a patch without the count: {event}"
        counts.append(count)
        if count == target:
            return counts
    raise AssertionError(f"no patch showed events: {target} (saw {counts})")


async def test_a_burst_reaches_each_viewer_as_a_few_patches(
    app: App, record_property: pytest.RecordProperty
) -> None:
    clicker, watcher = await Viewer.open(app), await Viewer.open(app)
    assert clicker.cid != watcher.cid
    async with AsyncExitStack() as stack:
        streams: list[SseStream] = []
        for viewer in (clicker, watcher):
            stream = await stack.enter_async_context(
                viewer.client.stream(f"/_parlour/sse/{viewer.cid}")
            )
            assert stream.status == 200
            first = await stream.next_event(timeout=EVENT_TIMEOUT)
            assert shown(first.elements) == 0, first
            streams.append(stream)

        response = await clicker.client.post(
            f"/_parlour/event/{clicker.cid}/{clicker.burst_iid}/burst", json={}
        )
        assert response.status == 204, response.text

        for role, viewer, stream in zip(
            ("clicker", "watcher"), (clicker, watcher), streams, strict=True
        ):
            counts = await patches_until(stream, BURST)
            print(f"the {role}'s stream: {len(counts)} patches for {BURST} events: {counts}")
            record_property(f"patches_per_burst_{role}", len(counts))
            assert len(counts) < MAX_PATCHES, f"{len(counts)} patches for one burst: {counts}"
            assert counts == sorted(counts), f"the count went backwards: {counts}"

            # That patch was the last: all 500 are applied, and nothing is left to send.
            live = app.runtime.live[viewer.cid]
            top = live.conv.top
            assert top is not None
            ticker = live.conv.instances[top].component
            assert isinstance(ticker, examples.ticker.Ticker)
            assert ticker.seen == BURST
            assert all(len(connection) == 0 for connection in live.connections)
