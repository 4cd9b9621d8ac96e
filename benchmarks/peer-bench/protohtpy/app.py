"""Floor `protohtpy`: the least a click can cost whose patch is the counter built with htpy.

Issue 17 asks for a click at most 2x Stario's server CPU while the counter stays as users
write it (htpy). `htpyfloor` showed that htpy on bare ASGI already costs more than that; this
floor takes the ASGI server away too. It is its own HTTP/1.1 server (an asyncio.Protocol fed
by httptools, on uvloop): a click is parsed, counted, rendered and written to the user's
streams inside `data_received`, with no coroutine, task or future. Its render is the
counter's markup built with htpy exactly as examples/counter.py builds it, and serialised by
a walk of htpy's three slots (the cheap serialiser parlour uses, not htpy's own `str()`).
What it does not do is every duty of parlour's click: no session, CSRF, host or owner
check, body cap, save, history, event ids or Last-Event-ID. If this floor costs more than
the goal, no framework whose user writes htpy can meet it on this box, whatever it owns.

A measurement only: no header limits, no timeouts, no pipelining, nothing but these routes.

    GET  /                 shell: a new user id in the stream and increment URLs
    GET  /sse/UID          the stream (chunked); first event: the render
    POST /increment/UID    count += 1, the new render written to that user's streams, 204
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from typing import Any, cast

import httptools
import markupsafe
import uvloop
from htpy import BaseElement, Element, button, div, span

counts: dict[str, int] = {}
streams: dict[str, list[asyncio.Transport]] = {}

NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def render(uid: str, count: int) -> Element:
    """The counter's markup, built the way examples/counter.py builds it."""
    url = f"/increment/{uid}"
    on = {"data-on:click": f"@post('{url}', {{requestCancellation: 'disabled'}})"}
    return div({"id": "p1"}, class_="parlour-card parlour-row")[
        button(".parlour-button", on)["-"],
        span(".count")[count],
        button(".parlour-button", on)["+"],
    ]


def html(node: Any) -> str:
    """`node` as HTML: elements by their slots, text escaped, numbers as they print."""
    if isinstance(node, BaseElement):
        name = node._name  # pyright: ignore[reportPrivateUsage]
        inner = html(node._children)  # pyright: ignore[reportPrivateUsage]
        return f"<{name}{node._attrs}>{inner}</{name}>"  # pyright: ignore[reportPrivateUsage]
    if isinstance(node, str):
        return markupsafe.escape(node)
    if isinstance(node, list | tuple):
        return "".join(html(child) for child in node)  # pyright: ignore[reportUnknownVariableType]
    return "" if node is None else str(node)


def patch(uid: str) -> bytes:
    """One SSE event carrying the user's render, framed as an HTTP chunk."""
    event = f"event: datastar-patch-elements\ndata: elements {html(render(uid, counts[uid]))}\n\n"
    data = event.encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


def shell(uid: str) -> bytes:
    body = (
        f"<!doctype html><p data-init=\"@get('/sse/{uid}')\">{html(render(uid, 0))}</p>"
    ).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: %d\r\n"
    return head % len(body) + b"\r\n" + body


class Connection(asyncio.Protocol):
    """One client connection: requests answered in order as httptools completes them."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transport, not a subclass
        self.parser = httptools.HttpRequestParser(self)
        self.target = b""
        self.stream_of: str | None = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_message_complete(self) -> None:
        target, self.target = self.target.decode("latin-1"), b""
        method = self.parser.get_method()
        if target.startswith("/increment/") and method == b"POST":
            self.click(target[len("/increment/") :])
        elif target.startswith("/sse/") and method == b"GET":
            self.open_stream(target[len("/sse/") :])
        elif target == "/" and method == b"GET":
            uid = secrets.token_hex(8)
            counts[uid] = 0
            self.transport.write(shell(uid))
        else:
            self.transport.write(NOT_FOUND)

    def click(self, uid: str) -> None:
        if uid not in counts:
            self.transport.write(NOT_FOUND)
            return
        counts[uid] += 1
        data = patch(uid)
        for stream in streams.get(uid, ()):
            stream.write(data)
        self.transport.write(NO_CONTENT)

    def open_stream(self, uid: str) -> None:
        if uid not in counts:
            self.transport.write(NOT_FOUND)
            return
        self.stream_of = uid
        streams.setdefault(uid, []).append(self.transport)
        self.transport.write(STREAM_HEAD + patch(uid))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream_of is not None:
            open_ones = streams.get(self.stream_of, [])
            if self.transport in open_ones:
                open_ones.remove(self.transport)


async def main() -> None:
    loop = asyncio.get_running_loop()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    server = await loop.create_server(Connection, host, port, backlog=4096)
    stopped = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set_result, None)
    await stopped
    server.close()


if __name__ == "__main__":
    uvloop.run(main())
