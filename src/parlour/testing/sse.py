"""Reading Datastar's Server-Sent Events: the parser and an open stream's event reader.

    events, comments, rest = parse_sse(text)     # complete events, `: comment` lines, the rest
    event = await stream.next_event(timeout=5)   # the next event of an open response
    events = stream.drain()                      # what has arrived already, without waiting

What this module does not do: apply events to a page (see `parlour.testing.dom`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SseEvent", "SseStream", "parse_sse"]


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
        return json.loads("\n".join(self.data.get("signals", ["{}"])))

    def summary(self) -> str:
        """One line saying what the event does, for error messages."""
        if self.type == "datastar-patch-signals":
            what = "\n".join(self.data.get("signals", []))
        else:
            target = f" {self.selector}" if self.selector else ""
            what = f"{self.mode}{target} {self.elements}"
        what = " ".join(what.split())
        if len(what) > 100:
            what = what[:97] + "..."
        return f"{self.type} (id {self.id}): {what}" if self.id else f"{self.type}: {what}"


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

    def _feed(self, chunk: bytes | None) -> None:
        if chunk is None:
            self.ended = True
            return
        events, comments, self._buffer = parse_sse(self._buffer + chunk.decode())
        self._events.extend(events)
        self.comments.extend(comments)

    async def next_event(self, timeout: float = 5.0) -> SseEvent:
        """The next event; TimeoutError if none comes in `timeout` seconds, EOFError at the end."""
        async with asyncio.timeout(timeout):
            while not self._events:
                if self.ended:
                    raise EOFError("the stream ended")
                self._feed(await self._chunks.get())
            return self._events.pop(0)

    async def next_comment(self, timeout: float = 5.0) -> str:
        async with asyncio.timeout(timeout):
            while not self.comments:
                if self.ended:
                    raise EOFError("the stream ended")
                self._feed(await self._chunks.get())
            return self.comments.pop(0)

    def drain(self) -> list[SseEvent]:
        """Every complete event that has arrived so far, without waiting for more."""
        while not self.ended and not self._chunks.empty():
            self._feed(self._chunks.get_nowait())
        events, self._events = self._events, []
        return events
