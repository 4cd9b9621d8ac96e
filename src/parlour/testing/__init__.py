"""Testing parlour apps, from one component to a tab on the whole app, with no server.

    Harness(Counter)            drive one conversation event by event, no HTTP (harness)
    replay(Counter, [...])      fold typed events purely; the steps and the errors (harness)
    Page(app)                   a browser tab in-process: shell, stream, clicks (page)
    AsgiClient(app)             HTTP and SSE in-process, with a cookie jar (asgi)
    parse_sse, SseStream        Datastar's server-sent events, parsed (sse)

    async with Page(app) as page:
        await page.open("/")
        await page.click("button", text="+")
        assert page.text(".count") == "1"

`Page` reads HTML with beautifulsoup4 and soupsieve (`pip install 'parlour[testing]'`); they
are imported when a page is first parsed, so the rest of this package works without them.
"""

from __future__ import annotations

from .asgi import AsgiClient, AsgiResponse
from .dom import Document, Element, ElementNotFound, PatchError
from .expressions import Action
from .harness import Dispatch, Harness, Replayed, replay
from .page import Page, PageTimeout
from .sse import SseEvent, SseStream, parse_sse

__all__ = [
    "Action",
    "AsgiClient",
    "AsgiResponse",
    "Dispatch",
    "Document",
    "Element",
    "ElementNotFound",
    "Harness",
    "Page",
    "PageTimeout",
    "PatchError",
    "Replayed",
    "SseEvent",
    "SseStream",
    "parse_sse",
    "replay",
]
