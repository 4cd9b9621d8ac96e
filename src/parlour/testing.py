"""Testing parlour apps: a harness without HTTP, a pure replay, and an in-process SSE client.

    h = Harness(Counter)                 # boots Counter in a fresh conversation
    h.dispatch(Counter, "inc")           # an event, by component class (or iid) and name
    assert ".count\">1<" in h.html       # the page as it is now (the top frame, rendered)

    step = replay(Counter, [("inc",), ("inc",)])     # pure: no runtime, no I/O

    client = AsgiClient(app)             # drives the real ASGI app in-process
    shell = await client.get("/")        # keeps cookies like a browser
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        event = await sse.next_event()   # parsed Datastar SSE events

The harness's clock is manual (`h.now`, `h.advance(seconds)` fires due timers), so tests of
timers never sleep. Commands (io, publish, …) are collected, not performed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

# Importing parlour.wire plugs into core the Datastar actions that renders need (core.actions).
import parlour.wire  # noqa: F401  # pyright: ignore[reportUnusedImport]
from parlour.core import kernel
from parlour.core.commands import Command
from parlour.core.component import Component
from parlour.core.conversation import Conversation
from parlour.core.fragments import Elements, Fragment

__all__ = [
    "AsgiClient",
    "AsgiResponse",
    "Harness",
    "SseEvent",
    "SseStream",
    "replay",
]


def _root(root: Component | type[Component]) -> Component:
    return root() if isinstance(root, type) else root


class Harness:
    """Mount `root` in a fresh conversation and drive it event by event, without HTTP."""

    def __init__(
        self,
        root: Component | type[Component],
        *,
        cid: str = "test",
        base: str = "/_parlour",
        now: float = 0.0,
        history_limit: int = 50,
    ) -> None:
        self.now = now
        self.steps: list[kernel.Step] = []
        self._record(
            kernel.boot(_root(root), cid=cid, base=base, now=now, history_limit=history_limit)
        )

    def __repr__(self) -> str:
        return f"Harness({self.conversation!r})"

    def _record(self, step: kernel.Step) -> kernel.Step:
        self.steps.append(step)
        self.conversation = step.conversation
        return step

    # -- reading -------------------------------------------------------------------------

    @property
    def last(self) -> kernel.Step:
        return self.steps[-1]

    @property
    def fragments(self) -> list[Fragment]:
        """Every fragment produced so far, in order."""
        return [f for s in self.steps for f in s.fragments]

    @property
    def commands(self) -> list[Command]:
        """Every command produced so far (the harness performs none of them)."""
        return [c for s in self.steps for c in s.commands]

    @property
    def html(self) -> str:
        """The page as a fresh stream would draw it: the top frame, rendered whole."""
        step = kernel.render_top(self.conversation)
        return "".join(f.html for f in step.fragments if isinstance(f, Elements))

    @property
    def top(self) -> Component:
        iid = self.conversation.top
        if iid is None:
            raise LookupError("the conversation has no frame (it ended, or never started)")
        return self.conversation.instances[iid].component

    def instance(self, iid: str) -> Component:
        return self.conversation.instances[iid].component

    def find(self, cls: type[Component]) -> str:
        """The iid of the newest instance of `cls` (raises with what exists if none)."""
        matches = [i.iid for i in self.conversation.instances.values() if type(i.component) is cls]
        if not matches:
            present = sorted(
                {type(i.component).__qualname__ for i in self.conversation.instances.values()}
            )
            raise LookupError(f"no {cls.__qualname__} in the conversation (present: {present})")
        return max(matches, key=lambda iid: int(iid[1:]) if iid[1:].isdigit() else 0)

    def _iid(self, target: str | type[Component] | Component | None) -> str:
        if target is None:
            top = self.conversation.top
            if top is None:
                raise LookupError("the conversation has no frame to send the event to")
            return top
        if isinstance(target, str):
            return target
        if isinstance(target, Component):
            return target.iid
        return self.find(target)

    # -- driving --------------------------------------------------------------------------

    def dispatch(
        self,
        target: str | type[Component] | Component | None,
        name: str,
        payload: Any = None,
        *,
        signals: Mapping[str, Any] | None = None,
    ) -> kernel.Step:
        """A browser event: `target` is an iid, a component class (its newest instance),
        an instance, or None for the top frame."""
        event = kernel.Event(self._iid(target), name, payload, signals or {}, now=self.now)
        return self._record(kernel.dispatch(self.conversation, event))

    def deliver(
        self, target: str | type[Component] | Component, method: str, payload: Any = None
    ) -> kernel.Step:
        """An internal event (what a bus event, io result or dispatch_to would do)."""
        return self._record(
            kernel.deliver(self.conversation, self._iid(target), method, payload, now=self.now)
        )

    def back(self, *, to: int | None = None) -> kernel.Step:
        return self._record(kernel.back(self.conversation, to=to, now=self.now))

    def advance(self, seconds: float) -> list[kernel.Step]:
        """Move the clock forward, firing due timers in order, each at its due time (so a
        timer that schedules the next one fires again within the same advance)."""
        end = self.now + seconds
        fired: list[kernel.Step] = []
        while True:
            due = sorted((t for t in self.conversation.timers if t.due <= end), key=lambda t: t.due)
            if not due:
                self.now = end
                return fired
            self.now = max(self.now, due[0].due)
            fired.append(self._record(kernel.fire_timer(self.conversation, due[0].id, self.now)))


def replay(
    root: Component | type[Component],
    events: Iterable[kernel.Event | Sequence[Any]],
    *,
    cid: str = "replay",
) -> kernel.Step:
    """Boot `root` and fold `events` over it, purely; the last Step, with every fragment.

    An event is a `kernel.Event`, or a tuple `(name,)`, `(name, payload)` for the top frame, or
    `(iid, name, payload)`.
    """
    step = kernel.boot(_root(root), cid=cid)
    conv: Conversation = step.conversation
    fragments = list(step.fragments)
    commands = list(step.commands)
    for raw in events:
        if isinstance(raw, kernel.Event):
            event = raw
        elif len(raw) == 3:
            event = kernel.Event(raw[0], raw[1], raw[2])
        else:
            event = kernel.Event(conv.top or "", raw[0], raw[1] if len(raw) > 1 else None)
        step = kernel.dispatch(conv, event)
        conv = step.conversation
        fragments.extend(step.fragments)
        commands.extend(step.commands)
    return kernel.Step(conv, tuple(fragments), tuple(commands))


# -- in-process HTTP ----------------------------------------------------------------------------


@dataclass
class AsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class SseEvent:
    """One server-sent event: its type, id and data lines grouped by their first word."""

    type: str
    id: str | None = None
    retry: int | None = None
    data: dict[str, list[str]] = field(default_factory=dict[str, list[str]])

    @property
    def elements(self) -> str:
        return "\n".join(self.data.get("elements", []))

    @property
    def selector(self) -> str | None:
        return self.data.get("selector", [None])[0]

    @property
    def mode(self) -> str:
        return self.data.get("mode", ["outer"])[0]

    @property
    def signals(self) -> Any:
        return jsonlib.loads("\n".join(self.data.get("signals", ["{}"])))


def parse_sse(text: str) -> tuple[list[SseEvent], list[str], str]:
    """Split SSE text into complete events, comment lines, and the unfinished remainder."""
    events: list[SseEvent] = []
    comments: list[str] = []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    for block in blocks[:-1]:
        event: SseEvent | None = None
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                event = SseEvent(value)
            elif event is None:
                event = SseEvent("message")
            if key == "id":
                event.id = value
            elif key == "retry":
                event.retry = int(value)
            elif key == "data":
                word, _, rest = value.partition(" ")
                event.data.setdefault(word, []).append(rest)
        if event is not None:
            events.append(event)
    return events, comments, blocks[-1]


class SseStream:
    """An open SSE response: read parsed events as they arrive."""

    def __init__(
        self, status: int, headers: dict[str, str], chunks: asyncio.Queue[bytes | None]
    ) -> None:
        self.status = status
        self.headers = headers
        self._chunks = chunks
        self._buffer = ""
        self._events: list[SseEvent] = []
        self.comments: list[str] = []
        self.ended = False

    async def next_event(self, timeout: float = 5.0) -> SseEvent:
        """The next event; TimeoutError if none comes in `timeout` seconds, EOFError at the end."""
        async with asyncio.timeout(timeout):
            while not self._events:
                if self.ended:
                    raise EOFError("the stream ended")
                chunk = await self._chunks.get()
                if chunk is None:
                    self.ended = True
                    continue
                events, comments, self._buffer = parse_sse(self._buffer + chunk.decode())
                self._events.extend(events)
                self.comments.extend(comments)
            return self._events.pop(0)

    async def next_comment(self, timeout: float = 5.0) -> str:
        async with asyncio.timeout(timeout):
            while not self.comments:
                chunk = await self._chunks.get()
                if chunk is None:
                    raise EOFError("the stream ended")
                events, comments, self._buffer = parse_sse(self._buffer + chunk.decode())
                self._events.extend(events)
                self.comments.extend(comments)
            return self.comments.pop(0)


class AsgiClient:
    """Talks to an ASGI app in-process, keeping cookies like a browser; streams SSE."""

    def __init__(self, app: Any, *, host: str = "testserver", root_path: str = "") -> None:
        self.app = app
        self.host = host
        self.root_path = root_path
        self.cookies: dict[str, str] = {}

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
