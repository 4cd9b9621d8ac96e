"""Floor `htpyfloor`: the bare ASGI floor whose patch is the counter's markup built with htpy.

What a click costs when its only duties are the transport's (uvicorn, one POST, one SSE
write) and the user's render as `examples/counter.py` writes it (htpy: a div with two buttons
carrying their `@post` actions and the count): no session, no checks, no save, no history.
parlour's click cannot cost less than this while the counter stays htpy on ASGI; the gap
between this floor and the `asgi` floor is the render's share.

    GET  /                 shell: a new user id in the increment URL
    GET  /sse/UID          the stream; first event: the render
    POST /increment/UID    count += 1, the new render pushed to that user's streams, 204
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from htpy import Element, button, div, span

Send = Any
counts: dict[str, int] = {}
streams: dict[str, list[Stream]] = {}

NO_CONTENT = {"type": "http.response.start", "status": 204, "headers": []}
NOT_FOUND = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}
EMPTY = {"type": "http.response.body", "body": b"", "more_body": False}
SSE = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
}


class Stream:
    """One open stream: what waits to be sent, and the future its coroutine sleeps on."""

    __slots__ = ("ended", "pending", "waiter")

    def __init__(self) -> None:
        self.pending: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None
        self.ended = False

    def push(self, data: bytes) -> None:
        self.pending.append(data)
        self._wake()

    def end(self, _: object) -> None:
        self.ended = True
        self._wake()

    async def wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter
        self.waiter = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


def render(uid: str, count: int) -> Element:
    """The counter's markup, built the way examples/counter.py builds it."""
    url = f"/increment/{uid}"
    on = {"data-on:click": f"@post('{url}', {{requestCancellation: 'disabled'}})"}
    return div({"id": "p1"}, class_="parlour-card parlour-row")[
        button(".parlour-button", on)["-"],
        span(".count")[count],
        button(".parlour-button", on)["+"],
    ]


async def disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def event(uid: str) -> bytes:
    return f"event: datastar-patch-elements\ndata: elements {render(uid, counts[uid])}\n\n".encode()


async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path: str = scope["path"]
    if path.startswith("/increment/") and scope["method"] == "POST":
        uid = path[len("/increment/") :]
        while (await receive()).get("more_body"):
            pass
        if uid not in counts:
            await send(NOT_FOUND)
            await send(EMPTY)
            return
        counts[uid] += 1
        patch = event(uid)
        for stream in streams.get(uid, ()):
            stream.push(patch)
        await send(NO_CONTENT)
        await send(EMPTY)
    elif path.startswith("/sse/"):
        uid = path[len("/sse/") :]
        if uid not in counts:
            await send(NOT_FOUND)
            await send(EMPTY)
            return
        stream = Stream()
        streams.setdefault(uid, []).append(stream)
        gone = asyncio.ensure_future(disconnect(receive))
        gone.add_done_callback(stream.end)
        try:
            await send(SSE)
            await send({"type": "http.response.body", "body": event(uid), "more_body": True})
            while not stream.ended:
                if not stream.pending:
                    await stream.wait()
                    continue
                body, stream.pending = b"".join(stream.pending), []
                await send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            gone.cancel()
            streams[uid].remove(stream)
    elif path == "/":
        uid = secrets.token_hex(8)
        counts[uid] = 0
        body = f"<!doctype html><p data-init=\"@get('/sse/{uid}')\">{render(uid, 0)}</p>"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
    else:
        await send(NOT_FOUND)
        await send(EMPTY)
