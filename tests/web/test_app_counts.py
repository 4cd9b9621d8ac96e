"""An App says how many tabs are connected and how many conversations it holds in memory.

Health pages (the console's Status page) read these instead of reaching into the runtime.
"""

from __future__ import annotations

from examples.counter import Counter

from parlour import App
from parlour.stores import MemoryStore
from parlour.testing import Page


async def test_open_streams_and_live_conversations_follow_the_tabs() -> None:
    app = App(Counter, store=MemoryStore(), secret="s" * 32)
    try:
        assert (app.open_streams, app.live_conversations) == (0, 0)
        async with Page(app) as first:
            await first.open("/")
            assert (app.open_streams, app.live_conversations) == (1, 1)
            async with Page(app) as second:
                await second.open("/", stream=False)
                assert (app.open_streams, app.live_conversations) == (1, 2)
    finally:
        await app.close()
