"""The ticker example in-process: a burst of 500 bus events leaves as a few coalesced patches.

Driven through the real ASGI app (`examples.ticker.app`) with `parlour.testing.Page`:
two viewers (two cookies, two conversations) open their streams; one POSTs `burst`. Each
stream must show all 500 events in its last patch, in far fewer than 500 patches: the bus
events are applied one by one, but a stream sends what piled up during its coalescing window
(`App(window=0.05)`) as one patch per element.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from parlour.testing import Document, Page
from parlour.web.app import App
from tests.support.examples import private_example

BURST = 500
MAX_PATCHES = 50  # per viewer, per burst; measured: a handful (see the printed counts)
EVENT_TIMEOUT = 5.0  # seconds for any one patch to arrive


@pytest.fixture
async def app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    """The ticker's app, from a private copy of its module, closed after the test (AsgiClient
    runs no lifespan; closing is for good, so no other test may be handed this app)."""
    monkeypatch.setenv("PARLOUR_SECRET", "ticker-test-secret")  # leave the repo's .parlour/ be
    app: App = private_example("ticker").app
    yield app
    await app.close()


async def open_viewer(app: App, stack: AsyncExitStack) -> Page:
    """A viewer: its own tab (its own cookie, so its own conversation), stream open."""
    page = await stack.enter_async_context(Page(app, timeout=EVENT_TIMEOUT))
    await page.open("/")
    return page


def shown(elements: str) -> int | None:
    """The count the patch's `.events` shows, if it has one."""
    found = Document(elements).query(".events")
    words = "" if found is None else found.text.removeprefix("events: ")
    return int(words) if words.isdigit() else None


async def patches_until(page: Page, since: int, target: int) -> list[int]:
    """Follow the stream until the page shows `events: target`; the counts the patches since
    `since` showed (each must show one)."""
    await page.wait_for(lambda p: p.text(".events") == f"events: {target}")
    counts: list[int] = []
    for event in page.events[since:]:
        count = shown(event.elements)
        assert count is not None, f"a patch without the count: {event}"
        counts.append(count)
    assert len(counts) <= BURST + 1  # never more patches than events (plus the click's)
    return counts


async def test_a_burst_reaches_each_viewer_as_a_few_patches(
    app: App, record_property: pytest.RecordProperty
) -> None:
    async with AsyncExitStack() as stack:
        clicker, watcher = await open_viewer(app, stack), await open_viewer(app, stack)
        assert clicker.cid != watcher.cid
        for viewer in (clicker, watcher):
            [first] = viewer.events
            assert shown(first.elements) == 0, first
        since = {id(viewer): len(viewer.events) for viewer in (clicker, watcher)}

        response = await clicker.click("button", text="Burst 500")
        assert response is not None
        assert response.status == 204, response.text

        for role, viewer in zip(("clicker", "watcher"), (clicker, watcher), strict=True):
            counts = await patches_until(viewer, since[id(viewer)], BURST)
            print(f"the {role}'s stream: {len(counts)} patches for {BURST} events: {counts}")
            record_property(f"patches_per_burst_{role}", len(counts))
            assert len(counts) < MAX_PATCHES, f"{len(counts)} patches for one burst: {counts}"
            assert counts == sorted(counts), f"the count went backwards: {counts}"

            # That patch was the last: all 500 are applied, and nothing is left to send.
            live = app.runtime.live[viewer.cid or ""]
            top = live.conv.top
            assert top is not None
            ticker = live.conv.instances[top].component
            assert isinstance(ticker, app.root)
            assert ticker.seen == BURST
            assert all(len(connection) == 0 for connection in live.connections)
