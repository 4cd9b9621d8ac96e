"""The stream route is served beside the app's guard (as the event route is), so that an idle
stream does not keep the guard's layers alive: the stream checks the Host and adds the
security headers itself, exactly as the guard would. The requests here go through the App."""

from __future__ import annotations

import asyncio
from typing import Any

from parlour.testing import AsgiClient
from tests.web.conftest import MakeApp, open_page
from tests.web.test_shared_views import Board, score_app
from tests.web.test_stream_writer import stream_scope


async def call_stream(
    app: Any, scope: dict[str, Any], cid: str
) -> tuple[asyncio.Task[None], asyncio.Queue[Any], asyncio.Event]:
    sent: asyncio.Queue[Any] = asyncio.Queue()
    gone = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    request = asyncio.ensure_future(app(scope, receive, sent.put))
    return request, sent, gone


def header(start: dict[str, Any], name: bytes) -> bytes | None:
    return next((v for k, v in start["headers"] if k == name), None)


async def opened(make_app: MakeApp) -> tuple[Any, AsgiClient, str]:
    app = score_app(make_app, Board())
    client = AsgiClient(app)
    page = await open_page(client)
    assert page.cid is not None
    return app, client, page.cid


async def test_beside_the_guard_a_stream_carries_the_security_headers(make_app: MakeApp) -> None:
    app, client, cid = await opened(make_app)
    request, sent, gone = await call_stream(app, stream_scope(client, cid), cid)
    async with asyncio.timeout(5):
        start = await sent.get()
        first = await sent.get()
    assert start["status"] == 200
    assert header(start, b"content-type") == b"text/event-stream"
    assert header(start, b"x-content-type-options") == b"nosniff"
    assert header(start, b"referrer-policy") == b"same-origin"
    assert b"#root" in first["body"]  # the full render, as through the guard
    gone.set()
    async with asyncio.timeout(5):
        await request
    assert len(app.runtime.live[cid].connections) == 0


async def test_beside_the_guard_a_stream_for_another_host_is_refused(make_app: MakeApp) -> None:
    app, client, cid = await opened(make_app)
    scope = stream_scope(client, cid)
    scope["headers"] = [(b"host", b"evil.example"), *scope["headers"][1:]]
    request, sent, _ = await call_stream(app, scope, cid)
    async with asyncio.timeout(5):
        await request
        start = await sent.get()
        body = await sent.get()
    assert start["status"] == 400
    assert body["body"] == b"Invalid host header"
    assert len(app.runtime.live[cid].connections) == 0


async def test_beside_the_guard_another_sessions_stream_is_refused_with_the_headers(
    make_app: MakeApp,
) -> None:
    app, client, cid = await opened(make_app)
    scope = stream_scope(client, cid)
    scope["headers"] = [(b"host", b"testserver")]  # no session cookie
    request, sent, _ = await call_stream(app, scope, cid)
    async with asyncio.timeout(5):
        await request
        start = await sent.get()
    assert start["status"] == 403
    assert header(start, b"x-content-type-options") == b"nosniff"


async def test_a_middleware_that_changes_one_streams_start_changes_no_other(
    make_app: MakeApp,
) -> None:
    """The stream's start message is prepared once; a middleware around the app may change
    the message it is given in place (Starlette's CORS adds its headers)."""
    app, client, cid = await opened(make_app)

    async def stamping(scope: Any, receive: Any, send: Any) -> None:
        async def stamp(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-stamp", b"1"))  # in place
            await send(message)

        await app(scope, receive, stamp)

    stamps: list[int] = []
    for _ in range(3):
        request, sent, gone = await call_stream(stamping, stream_scope(client, cid), cid)
        async with asyncio.timeout(5):
            start = await sent.get()
        stamps.append([k for k, _ in start["headers"]].count(b"x-stamp"))
        gone.set()
        async with asyncio.timeout(5):
            await request
    assert stamps == [1, 1, 1]
