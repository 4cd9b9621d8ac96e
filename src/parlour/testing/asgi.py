"""Driving an ASGI app in-process: requests with a browser's cookie jar, and SSE streams.

    client = AsgiClient(app)             # no server, no sockets: the app is called directly
    shell = await client.get("/")        # keeps cookies like a browser
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        event = await sse.next_event()   # parsed Datastar SSE events

The ASGI lifespan is not run: whoever builds the app starts and closes what it needs.

What this module does not do: interpret HTML or apply patches (see `parlour.testing.page`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from .sse import SseStream

__all__ = ["AsgiClient", "AsgiResponse"]


@dataclass
class AsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class AsgiClient:
    """Talks to an ASGI app in-process, keeping cookies like a browser; streams SSE."""

    def __init__(self, app: Any, *, host: str = "testserver", root_path: str = "") -> None:
        self.app = app
        self.host = host
        self.root_path = root_path
        self.cookies: dict[str, str] = {}

    def scope(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, query: str = ""
    ) -> dict[str, Any]:
        """The ASGI scope this client would send (its host and cookies included), for a test
        that calls the app itself, e.g. to drive a stream's `receive` and `send` by hand."""
        return self._scope(method, path, headers or {}, query)

    def _scope(
        self, method: str, path: str, headers: Mapping[str, str], query: str
    ) -> dict[str, Any]:
        raw = {k.lower(): v for k, v in headers.items()}
        raw.setdefault("host", self.host)
        if self.cookies and "cookie" not in raw:
            raw["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": self.root_path,
            "query_string": query.encode(),
            "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
            "client": ("127.0.0.1", 50000),
            "server": (self.host, 80),
        }

    def _keep_cookies(self, headers: list[tuple[bytes, bytes]]) -> None:
        for key, value in headers:
            if key.lower() == b"set-cookie":
                jar = SimpleCookie()
                jar.load(value.decode())
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value

    @contextlib.asynccontextmanager
    async def _run(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncGenerator[tuple[int, dict[str, str], asyncio.Queue[bytes | None]]]:
        path, _, query = path.partition("?")
        scope = self._scope(method, path, headers, query)
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        disconnected = asyncio.Event()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            await messages.put(message)

        task = asyncio.ensure_future(self.app(scope, receive, send))
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        try:
            start = await messages.get()
            status = int(start["status"])
            raw_headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
            self._keep_cookies(raw_headers)
            headers_out = {k.decode().lower(): v.decode() for k, v in raw_headers}

            async def pump() -> None:
                while True:
                    message = await messages.get()
                    if message["type"] == "http.response.body":
                        if message.get("body"):
                            await chunks.put(bytes(message["body"]))
                        if not message.get("more_body", False):
                            await chunks.put(None)
                            return

            pumping = asyncio.ensure_future(pump())
            try:
                yield status, headers_out, chunks
            finally:
                disconnected.set()
                pumping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pumping
        finally:
            disconnected.set()
            try:
                await asyncio.wait_for(task, 5)
            except TimeoutError:
                task.cancel()
            except asyncio.CancelledError:
                task.cancel()
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller is being cancelled (a timeout): never swallow that
                with contextlib.suppress(BaseException):
                    await task

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> AsgiResponse:
        hdrs = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json).encode()
            hdrs.setdefault("content-type", "application/json")
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        if body:
            hdrs.setdefault("content-length", str(len(body)))
        async with self._run(method, path, hdrs, body) as (status, out, chunks):
            parts: list[bytes] = []
            while (chunk := await chunks.get()) is not None:
                parts.append(chunk)
            return AsgiResponse(status, out, b"".join(parts))

    async def get(self, path: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("POST", path, **kwargs)

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, *, headers: Mapping[str, str] | None = None
    ) -> AsyncGenerator[SseStream]:
        """GET `path` and read its body as a stream of SSE events until the block exits."""
        hdrs = {"accept": "text/event-stream", "datastar-request": "true", **(headers or {})}
        async with self._run("GET", path, hdrs, b"") as (status, out, chunks):
            yield SseStream(status, out, chunks)
