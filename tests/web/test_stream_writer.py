"""The stream's writer is no task: it writes from the connection's wake-ups while the request
waits for the client. The request still ends when the client goes, when the page ends, and
when the server cancels it; a send that has to wait (the server's buffer is full) delays the
stream without losing or reordering anything."""

from __future__ import annotations

import asyncio
from typing import Any

from parlour.testing import AsgiClient
from tests.web.conftest import MakeApp, open_page
from tests.web.test_shared_views import Board, score_app


def stream_scope(client: AsgiClient, cid: str) -> dict[str, Any]:
    return client.scope("GET", f"/_parlour/sse/{cid}")


async def open_request(
    make_app: MakeApp, board: Board | None = None
) -> tuple[Any, str, asyncio.Task[None], asyncio.Queue[Any], asyncio.Event]:
    app = score_app(make_app, board or Board())
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


def tasks_of_streams(request: asyncio.Future[Any]) -> list[asyncio.Task[Any]]:
    """The tasks of the stream code besides the request's own (which the server made)."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not request
        and getattr(t.get_coro(), "__qualname__", "").startswith(("_Writer", "Streams"))
    ]


async def test_an_idle_stream_holds_no_task_besides_its_request(make_app: MakeApp) -> None:
    board = Board()
    app, cid, request, sent, gone = await open_request(make_app, board)
    assert tasks_of_streams(request) == []
    board.score = 5
    app.views.invalidate("score")
    app.views.flush()
    async with asyncio.timeout(5):
        assert b"score 5" in (await sent.get())["body"]  # written without a task of its own
    assert tasks_of_streams(request) == []
    assert not request.done()
    gone.set()
    async with asyncio.timeout(5):
        await request
    assert len(app.runtime.live[cid].connections) == 0


async def test_a_send_that_must_wait_delays_the_stream_and_loses_nothing(
    make_app: MakeApp,
) -> None:
    board = Board()
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    assert page.cid is not None
    bodies: list[bytes] = []
    arrived = asyncio.Event()
    drained = asyncio.Event()
    drained.set()
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await drained.wait()  # the server's buffer: full while the event is clear
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            arrived.set()

    request = asyncio.ensure_future(app(stream_scope(client, page.cid), receive, send))
    async with asyncio.timeout(5):
        await arrived.wait()
    drained.clear()
    for score in (1, 2, 3):
        board.score = score
        app.views.invalidate("score")
        app.views.flush()
        for _ in range(5):
            await asyncio.sleep(0)
    assert len(bodies) == 1  # nothing gets past a full buffer
    drained.set()
    async with asyncio.timeout(5):
        while not any(b"score 3" in body for body in bodies):
            arrived.clear()
            await arrived.wait()
    scores = [int(part.split(b"score ")[1][:1]) for part in bodies[1:] if b"score " in part]
    assert scores == sorted(scores)  # in order
    assert scores[-1] == 3  # the newest last
    gone.set()
    async with asyncio.timeout(5):
        await request
