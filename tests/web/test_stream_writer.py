"""The stream's writer runs as a task of its own while the request waits for the client: the
request still ends when the client goes, when the page ends, and when the server cancels it."""

from __future__ import annotations

import asyncio
from typing import Any

from parlour.testing import AsgiClient
from tests.web.conftest import MakeApp, open_page
from tests.web.test_shared_views import Board, score_app


def stream_scope(client: AsgiClient, cid: str) -> dict[str, Any]:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    path = f"/_parlour/sse/{cid}"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def open_request(
    make_app: MakeApp,
) -> tuple[Any, str, asyncio.Task[None], asyncio.Queue[Any], asyncio.Event]:
    app = score_app(make_app, Board())
    client = AsgiClient(app)
    page = await open_page(client)
    assert page.cid is not None
    sent: asyncio.Queue[Any] = asyncio.Queue()
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    request = asyncio.ensure_future(app(stream_scope(client, page.cid), receive, sent.put))
    async with asyncio.timeout(5):
        assert (await sent.get())["status"] == 200
        assert b"#root" in (await sent.get())["body"]  # the first render
    return app, page.cid, request, sent, gone


async def test_a_server_cancelling_the_request_ends_it_and_its_writer(make_app: MakeApp) -> None:
    app, cid, request, _, _ = await open_request(make_app)
    assert len(app.runtime.live[cid].connections) == 1
    request.cancel()
    async with asyncio.timeout(5):
        await asyncio.wait([request])
    assert request.cancelled()  # the stream does not swallow a cancellation it did not make
    assert len(app.runtime.live[cid].connections) == 0


async def test_the_client_going_ends_the_request_at_once(make_app: MakeApp) -> None:
    app, cid, request, _, gone = await open_request(make_app)
    gone.set()
    async with asyncio.timeout(5):
        await request
    assert len(app.runtime.live[cid].connections) == 0


async def test_the_page_ending_ends_the_request_and_the_response(make_app: MakeApp) -> None:
    app, cid, request, sent, _ = await open_request(make_app)
    await app.runtime.end(cid)
    async with asyncio.timeout(5):
        await request  # returns though the client is still there
        while (message := await sent.get()).get("more_body", False):
            pass
    assert message["type"] == "http.response.body"
    assert not request.cancelled()
